"""Competency levels (0-4) from assessment points, and `adoptkit report competency`.

A learner's level in a competency, for one phase (pre or post), is the number of thresholds
(`adoptkit.competency.thresholds`) their share of that competency's points reaches. A competency a
learner was not assessed on has no level (not level 0).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..settings import CompetencyModel, Settings, current
from . import html, usage
from .cohort import Cohort

PER_LEARNER_MAP_MAX = 30  # learners per role shown in the per-learner heat map; all are in the CSV
SMALL_SAMPLE = 30  # below this many learners the page carries a caution (the reason: roi.SMALL_SAMPLE)


def levels(assessed: pd.DataFrame, model: CompetencyModel) -> pd.DataFrame:
    """learner, role, phase, competency, points, max_points, share, level."""
    if assessed.empty:
        return pd.DataFrame(columns=["learner", "role", "phase", "competency", "points", "max_points", "share",
                                     "level"])
    g = (assessed.groupby(["learner", "role", "phase", "competency"], observed=True)[["score", "max_score"]]
         .sum().reset_index().rename(columns={"score": "points", "max_score": "max_points"}))
    g = g[g["max_points"] > 0]
    g["share"] = (g["points"] / g["max_points"]).clip(0, 1)
    # Level = thresholds reached; the small tolerance keeps 0.75 from falling just short of 0.75.
    g["level"] = np.searchsorted(np.asarray(model.thresholds), g["share"].to_numpy() + 1e-9, side="right")
    return g


def per_learner(lv: pd.DataFrame, roster: pd.DataFrame, model: CompetencyModel) -> pd.DataFrame:
    """One row per learner of the roster: level before and after in each competency (blank if not assessed)."""
    wide = lv.pivot_table(index="learner", columns=["phase", "competency"], values="level", aggfunc="first")
    cols = [(p, c) for p in ("pre", "post") for c in model.ids()]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(cols))
    wide.columns = [f"{c} {p}" for p, c in wide.columns]
    out = roster.set_index("learner")[["role", "team"]].join(wide, how="left")
    assessed = out[[c for c in out.columns if c.endswith((" pre", " post"))]].notna().any(axis=1)
    out.insert(2, "assessed", np.where(assessed, "yes", "no submissions"))
    return out


def paired_wide(lv: pd.DataFrame) -> pd.DataFrame:
    """(learner, role, competency) -> level pre and post, for the learners assessed in both phases only."""
    keys = ["learner", "role", "competency"]
    wide = lv.groupby([*keys, "phase"], observed=True)["level"].first().unstack("phase")
    return wide.reindex(columns=["pre", "post"]).dropna().reset_index()


def paired_levels(lv: pd.DataFrame) -> dict:
    """The change in level for the same learners before and after (never two different groups), and who is left
    out: learners assessed only before, or only after."""
    seen = lv.groupby(["learner", "phase"]).size().unstack("phase").reindex(columns=["pre", "post"]).notna()
    wide = paired_wide(lv)
    per_learner = wide.assign(g=wide["post"] - wide["pre"]).groupby("learner")["g"].mean()
    return {"learners": int((seen["pre"] & seen["post"]).sum()),
            "before": float(wide["pre"].mean()) if len(wide) else float("nan"),
            "after": float(wide["post"].mean()) if len(wide) else float("nan"),
            "gaining": float((per_learner >= 1).mean()) if len(per_learner) else float("nan"),
            "only_before": int((seen["pre"] & ~seen["post"]).sum()),
            "only_after": int((seen["post"] & ~seen["pre"]).sum())}


def change_by_role(lv: pd.DataFrame, model: CompetencyModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean change in level, learners paired) per role and competency, over learners assessed both times."""
    wide = paired_wide(lv)
    g = wide.assign(change=wide["post"] - wide["pre"]).groupby(["role", "competency"])["change"]
    return (g.mean().unstack("competency").reindex(columns=model.ids()),
            g.size().unstack("competency").reindex(columns=model.ids()))


def by_role(lv: pd.DataFrame, phase: str, model: CompetencyModel) -> pd.DataFrame:
    sub = lv[lv["phase"] == phase]
    t = sub.pivot_table(index="role", columns="competency", values="level", aggfunc="mean", observed=True)
    return t.reindex(columns=model.ids())


def heatmaps(lv: pd.DataFrame, model: CompetencyModel):
    """Mean level before and after (everyone assessed in that phase), and the change for the same learners."""
    pre, post = by_role(lv, "pre", model), by_role(lv, "post", model)
    change, paired_n = change_by_role(lv, model)
    roles = sorted(set(pre.index) | set(post.index))
    pre, post, change = pre.reindex(roles), post.reindex(roles), change.reindex(roles)
    paired_n = paired_n.reindex(roles).fillna(0).max(axis=1).astype(int)
    names = [c.name for c in model.competencies]
    fig, axes = html.subplots(1, 3, figsize=(15, 1.2 + 0.55 * len(roles)), layout='constrained')
    for ax, data, title, cmap, vmin, vmax, labels in (
            (axes[0], pre, "Before (mean level, all assessed before)", html.LEVELS_CMAP, 0, 4, roles),
            (axes[1], post, "After (mean level, all assessed after)", html.LEVELS_CMAP, 0, 4, roles),
            (axes[2], change, "Change, same learners (levels)", html.CHANGE_CMAP, -2, 2,
             [f"{r} (n = {paired_n[r]})" for r in roles])):
        im = ax.imshow(data.to_numpy(dtype=float), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_title(title)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
        ax.set_yticks(range(len(roles)), labels)
        for (i, j), v in np.ndenumerate(data.to_numpy(dtype=float)):
            if not np.isnan(v):
                r, g, b, _ = im.cmap(im.norm(v))
                ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
                ax.text(j, i, f"{v:+.1f}" if vmin < 0 else f"{v:.1f}", ha="center", va="center", fontsize=9,
                        color=ink)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def proficient_chart(lv: pd.DataFrame, model: CompetencyModel):
    share = (lv.assign(ok=lv["level"] >= 3).groupby(["competency", "phase"])["ok"].mean().unstack("phase")
             .reindex(index=model.ids(), columns=["pre", "post"]) * 100)
    fig, ax = html.subplots(figsize=(9, 3.2))
    x = np.arange(len(share))
    ax.bar(x - 0.2, share["pre"], 0.4, label="before", color="#E69F00")
    ax.bar(x + 0.2, share["post"], 0.4, label="after", color="#0072B2")
    ax.set_xticks(x, [c.name for c in model.competencies], rotation=20, ha="right")
    ax.set_ylabel("% of learners at level 3+")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, share


def _learner_heatmap(table: pd.DataFrame, role: str, model: CompetencyModel) -> str:
    """Per learner and competency: level before → after, coloured by the level after."""
    ids = model.ids()
    post = table[[f"{c} post" for c in ids]].to_numpy(dtype=float)
    pre = table[[f"{c} pre" for c in ids]].to_numpy(dtype=float)

    def level(v: float) -> str:
        return "–" if np.isnan(v) else f"{v:.0f}"

    cells = [[(f"{level(a)}→{level(b)}", b) for a, b in zip(pre_row, post_row)] for pre_row, post_row in zip(pre, post)]
    return html.heat_table(cells, [str(i) for i in table.index], [c.name for c in model.competencies],
                           f"{role}: level before → after (colour: after)")


def usage_section(cohort: Cohort) -> str:
    """Usage analytics from the gateway log: requests per learner per week, active days, features."""
    f = cohort.usage.frame
    if f.empty:
        return "<h2>Use of the sandbox</h2><p>No usage data (see the data notes).</p>"
    pl = usage.per_learner(f)
    roster_n = len(cohort.roster)
    return ("<h2>Use of the sandbox</h2>" + html.kpis([
        ("learners who used the sandbox", f"{len(pl):,} of {roster_n:,}"),
        ("median requests per active week", f"{pl['requests_per_week'].median():.1f}"),
        ("median active days", f"{pl['active_days'].median():.0f}"),
        ("requests in the log", f"{len(f):,}"),
    ]) + html.figure(usage_figure(f)))


def usage_figure(f: pd.DataFrame):
    """Requests per learner per week, learners active per day, features used (dates spanning 2 weeks at least)."""
    weekly = usage.weekly(f)
    feats = usage.features(f)
    daily = usage.daily_active(f)
    fig, axes = html.subplots(1, 3, figsize=(15, 3.2), layout='constrained')
    mark = "o" if len(weekly) < 4 else None
    axes[0].plot(weekly.index, weekly.median(axis=1), label="median learner", marker=mark)
    axes[0].plot(weekly.index, weekly.quantile(0.75, axis=1), label="75th percentile", ls="--", marker=mark)
    axes[0].set_title("Requests per learner per week")
    axes[0].legend(frameon=False)
    html.date_axis(axes[0], weekly.index)
    axes[1].plot(daily.index, daily.to_numpy(), lw=1, marker="o" if len(daily) < 15 else None)
    axes[1].set_title("Learners active per day")
    html.date_axis(axes[1], daily.index)
    axes[2].barh(feats.index.astype(str), feats.to_numpy() * 100, color="#0072B2")
    axes[2].set_title("% of active learners using each feature")
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def report(cohort: Cohort, out_dir: str | Path, settings: Settings | None = None) -> Path:
    """Write competency.html (+ competency-learners.csv) and return the HTML path."""
    s = settings or current()
    model = s.competency
    cohort.require_assessments()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lv = levels(cohort.assessed, model)
    table = per_learner(lv, cohort.roster, model)
    table.to_csv(out / "competency-learners.csv")
    change = paired_levels(lv)
    fig_prof, share = proficient_chart(lv, model)
    levels_note = ", ".join(f"{i} {name}" for i, name in enumerate(model.levels))
    assessed = lv["learner"].nunique()
    body = [
        html.caution(f"Small sample: {assessed} learner(s) assessed ({change['learners']} both times), fewer "
                     f"than {SMALL_SAMPLE}. Mean levels can move a lot with a few people.")
        if assessed < SMALL_SAMPLE or 0 < change["learners"] < SMALL_SAMPLE else "",
        html.kpis([
            ("learners assessed before", f"{lv.loc[lv.phase == 'pre', 'learner'].nunique():,}"),
            ("learners assessed after", f"{lv.loc[lv.phase == 'post', 'learner'].nunique():,}"),
            ("learners assessed both times (the change is theirs)", f"{change['learners']:,}"),
            ("mean level before → after, same learners",
             f"{change['before']:.1f} → {change['after']:.1f}" if change["learners"] else "–"),
            ("only before / only after (not in the change)", f"{change['only_before']:,} / {change['only_after']:,}"),
            ("learners without submissions", f"{int((table['assessed'] != 'yes').sum()):,}"),
        ]),
        f"<h2>Levels by role, before and after</h2><p>Levels: {html.esc(levels_note)}. Thresholds (share of "
        f"a competency's points): {', '.join(f'{t:.0%}' for t in model.thresholds)}.</p>",
        html.figure(heatmaps(lv, model)),
        "<h2>Learners at level 3 (proficient) or above</h2>", html.figure(fig_prof),
        html.table(share.rename(columns={"pre": "before %", "post": "after %"}), "{:.0f}"),
        usage_section(cohort),
        f"<h2>Per learner</h2><p>All {len(table):,} learners are in <code>competency-learners.csv</code> "
        f"(levels before and after, blank where not assessed). The maps below show up to "
        f"{PER_LEARNER_MAP_MAX} learners per role.</p>",
    ]
    for role, part in table[table["assessed"] == "yes"].groupby("role"):
        body.append(_learner_heatmap(part.sort_index().head(PER_LEARNER_MAP_MAX), role, model))
    body.append(html.notes(cohort.notes))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = html.page("AI competency: before and after", f"{cohort.label} · generated {stamp}", "".join(body),
                     cohort.simulated)
    path = out / "competency.html"
    path.write_text(page, encoding="utf-8")
    return path

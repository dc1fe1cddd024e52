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


def by_role(lv: pd.DataFrame, phase: str, model: CompetencyModel) -> pd.DataFrame:
    sub = lv[lv["phase"] == phase]
    t = sub.pivot_table(index="role", columns="competency", values="level", aggfunc="mean", observed=True)
    return t.reindex(columns=model.ids())


def heatmaps(lv: pd.DataFrame, model: CompetencyModel):
    pre, post = by_role(lv, "pre", model), by_role(lv, "post", model)
    roles = sorted(set(pre.index) | set(post.index))
    pre, post = pre.reindex(roles), post.reindex(roles)
    names = [c.name for c in model.competencies]
    fig, axes = html.subplots(1, 3, figsize=(15, 1.2 + 0.55 * len(roles)), layout='constrained')
    for ax, data, title, cmap, vmin, vmax in ((axes[0], pre, "Before (mean level)", "YlGn", 0, 4),
                                              (axes[1], post, "After (mean level)", "YlGn", 0, 4),
                                              (axes[2], post - pre, "Change (levels)", "RdBu", -2, 2)):
        im = ax.imshow(data.to_numpy(dtype=float), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_title(title)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
        ax.set_yticks(range(len(roles)), roles)
        for (i, j), v in np.ndenumerate(data.to_numpy(dtype=float)):
            if not np.isnan(v):
                ax.text(j, i, f"{v:+.1f}" if vmin < 0 else f"{v:.1f}", ha="center", va="center", fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def proficient_chart(lv: pd.DataFrame, model: CompetencyModel):
    share = (lv.assign(ok=lv["level"] >= 3).groupby(["competency", "phase"])["ok"].mean().unstack("phase")
             .reindex(index=model.ids(), columns=["pre", "post"]) * 100)
    fig, ax = html.subplots(figsize=(9, 3.2))
    x = np.arange(len(share))
    ax.bar(x - 0.2, share["pre"], 0.4, label="before", color="#bbb")
    ax.bar(x + 0.2, share["post"], 0.4, label="after", color="#2e7d32")
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
    weekly = usage.weekly(f)
    feats = usage.features(f)
    daily = usage.daily_active(f)
    fig, axes = html.subplots(1, 3, figsize=(15, 3.2), layout='constrained')
    axes[0].plot(weekly.index, weekly.median(axis=1), label="median learner")
    axes[0].plot(weekly.index, weekly.quantile(0.75, axis=1), label="75th percentile", ls="--")
    axes[0].set_title("Requests per learner per week")
    axes[0].legend(frameon=False)
    axes[0].tick_params(axis="x", rotation=30)
    axes[1].plot(daily.index, daily.to_numpy(), lw=1)
    axes[1].set_title("Learners active per day")
    axes[1].tick_params(axis="x", rotation=30)
    axes[2].barh(feats.index.astype(str), feats.to_numpy() * 100, color="#1565c0")
    axes[2].set_title("% of active learners using each feature")
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    roster_n = len(cohort.roster)
    return ("<h2>Use of the sandbox</h2>" + html.kpis([
        ("learners who used the sandbox", f"{len(pl):,} of {roster_n:,}"),
        ("median requests per active week", f"{pl['requests_per_week'].median():.1f}"),
        ("median active days", f"{pl['active_days'].median():.0f}"),
        ("requests in the log", f"{len(f):,}"),
    ]) + html.figure(fig))


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
    both = lv.groupby("learner")["phase"].nunique().eq(2).sum()
    fig_prof, share = proficient_chart(lv, model)
    levels_note = ", ".join(f"{i} {name}" for i, name in enumerate(model.levels))
    body = [
        html.kpis([
            ("learners assessed before", f"{lv.loc[lv.phase == 'pre', 'learner'].nunique():,}"),
            ("learners assessed after", f"{lv.loc[lv.phase == 'post', 'learner'].nunique():,}"),
            ("learners with both", f"{both:,}"),
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

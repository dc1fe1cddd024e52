"""Kirkpatrick levels 1-4 and Phillips ROI, and `adoptkit report roi`.

Phillips: ROI = (benefits - costs) / costs. Benefits are monetised from measurements, never typed in:
  time    = learners still using AI x tasks per week (config) x weeks x years x minutes saved per task
            (the paired, timed tasks) / 60 x hourly cost (config) x attribution (config)
  quality = the same task volume x the fall in the share of failed graded checks (pre -> post)
            x cost of an error (config; only if given)
Costs are the organisation's programme costs (config), plus learners' time in training when
`course_hours_per_learner` is set. Every assumption is listed on the page, and a sensitivity range
varies each uncertain input between a low and a high value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..settings import Settings, current
from . import html, timing, usage
from .cohort import Cohort, CohortError
from .competency import levels


class RoiConfigError(ValueError):
    """An organisation figure the ROI needs is missing or wrong; the message names the key."""


@dataclass
class RoleInputs:
    role: str
    learners: int  # completed the post-assessment
    active: int  # of those, still using the sandbox in the active window
    minutes_saved: float  # median over paired tasks
    minutes_low: float  # 25th percentile
    minutes_high: float  # 75th percentile
    paired: int  # learners with a timed pair
    tasks_per_week: float
    fail_pre: float  # share of failed graded checks
    fail_post: float


@dataclass
class Result:
    roles: list[RoleInputs]
    time_benefit: float
    quality_benefit: float | None
    costs: dict[str, float]
    adoption: float
    adoption_ci: tuple[float, float]
    assumptions: list[str]
    sensitivity: pd.DataFrame  # factor, low ROI, high ROI
    low: float = 0.0
    high: float = 0.0
    kirkpatrick: dict = field(default_factory=dict)
    horizon_years: float = 1.0

    @property
    def benefits(self) -> float:
        return self.time_benefit + (self.quality_benefit or 0.0)

    @property
    def cost(self) -> float:
        return sum(self.costs.values())

    @property
    def roi(self) -> float:
        return (self.benefits - self.cost) / self.cost

    @property
    def payback_months(self) -> float:
        per_month = self.benefits / (12 * self.horizon_years)
        return self.cost / per_month if per_month > 0 else float("inf")


def check_config(s: Settings, roles: list[str]) -> None:
    """Fail early, naming each missing organisation figure the ROI needs."""
    problems = []
    if s.organisation.hourly_cost is None:
        problems.append("adoptkit.organisation.hourly_cost is not set: the loaded cost of one hour of a "
                        "learner's work (salary plus overheads), e.g. `hourly_cost: 55`")
    if not s.roi.programme_costs:
        problems.append("adoptkit.roi.programme_costs is empty: list what the programme cost, e.g. "
                        "`programme_costs: {licences: 12000, facilitation: 18000, platform: 4000}`")
    for key, value in s.roi.programme_costs.items():
        if value is None or not np.isfinite(value) or value < 0:
            problems.append(f"adoptkit.roi.programme_costs.{key} = {value!r}: must be a non-negative amount")
    for role in roles:
        if role not in s.roi.tasks_per_week:
            problems.append(f"adoptkit.roi.tasks_per_week.{role} is not set: how many tasks of the kind the "
                            f"course targets a {role} learner does per week, e.g. `{role}: 10`")
    if problems:
        raise RoiConfigError("The ROI report needs the organisation's own figures in _config.yml:\n  - "
                             + "\n  - ".join(problems))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval for a share k/n."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def active_learners(frame: pd.DataFrame, window_days: int) -> set[str]:
    if frame.empty:
        return set()
    since = frame["ts"].max() - pd.Timedelta(days=window_days)
    recent = frame[frame["ts"] > since]
    days = recent["ts"].dt.floor("D").groupby(recent["learner"], observed=True).nunique()
    return set(days[days >= 2].index)  # two or more days: a habit, not a single try


def inputs(cohort: Cohort, s: Settings) -> tuple[list[RoleInputs], list[str]]:
    notes = []
    assessed = cohort.assessed
    completed = assessed.loc[assessed["phase"] == "post", ["learner", "role"]].drop_duplicates("learner")
    if completed.empty:
        raise CohortError(f"{cohort.label}: nobody has a graded post-assessment, so there is no result to value "
                          f"yet. Grade the <role>-assessment-post submissions first (or use --simulate).")
    if cohort.usage.frame.empty:
        raise CohortError("the ROI needs the gateway's usage log to know who still uses AI after the course "
                          "(Kirkpatrick level 3); none was found: see adoptkit.measure.usage_log.")
    active = active_learners(cohort.usage.frame, s.roi.active_window_days)
    pairs = timing.paired(cohort.timings).merge(cohort.roster[["learner", "role"]], on="learner", how="left")
    if pairs.empty:
        raise CohortError("no paired timings were recorded (timings/*.json in the post-assessment submissions), "
                          "so time saved cannot be measured. Ask learners to run the timed Part C cells.")
    pooled = pairs["minutes_saved"]
    fails = assessed.assign(failed=assessed["score"] < assessed["max_score"]).groupby(["role", "phase"])[
        "failed"].mean()
    out = []
    for role, part in completed.groupby("role"):
        mins = pairs.loc[pairs["role"] == role, "minutes_saved"]
        if mins.empty:
            notes.append(f"{role}: no paired timings; the pooled figure of all roles is used")
            mins = pooled
        out.append(RoleInputs(
            role=role, learners=len(part), active=len(set(part["learner"]) & active),
            minutes_saved=float(mins.median()), minutes_low=float(mins.quantile(0.25)),
            minutes_high=float(mins.quantile(0.75)), paired=int((pairs["role"] == role).sum()),
            tasks_per_week=float(s.roi.tasks_per_week[role]),
            fail_pre=float(fails.get((role, "pre"), np.nan)), fail_post=float(fails.get((role, "post"), np.nan))))
    return out, notes


def value(roles: list[RoleInputs], s: Settings, *, minutes: str = "minutes_saved", adoption: float | None = None,
          tasks: float = 1.0, attribution: float | None = None) -> tuple[float, float | None]:
    """(time benefit, quality benefit) for one set of inputs; the knobs serve the sensitivity analysis."""
    r = s.roi
    attribution = r.attribution if attribution is None else attribution
    time_b, quality_b = 0.0, 0.0
    for x in roles:
        users = x.learners * (adoption if adoption is not None else x.active / x.learners)
        volume = users * x.tasks_per_week * tasks * r.weeks_per_year * r.horizon_years
        time_b += volume * max(getattr(x, minutes), 0.0) / 60 * s.organisation.hourly_cost * attribution
        if r.cost_per_error is not None and not np.isnan(x.fail_pre) and not np.isnan(x.fail_post):
            quality_b += volume * max(x.fail_pre - x.fail_post, 0.0) * r.cost_per_error * attribution
    return time_b, (quality_b if r.cost_per_error is not None else None)


def costs(roles: list[RoleInputs], s: Settings) -> dict[str, float]:
    c = {k: float(v) for k, v in s.roi.programme_costs.items()}
    if s.roi.course_hours_per_learner:
        c["learners' time in training"] = (sum(x.learners for x in roles) * s.roi.course_hours_per_learner
                                           * s.organisation.hourly_cost)
    return c


def kirkpatrick(cohort: Cohort, s: Settings, roles: list[RoleInputs]) -> dict:
    lv = levels(cohort.assessed, s.competency)
    by_phase = lv.groupby("phase")["level"].mean()
    wide = lv.pivot_table(index=["learner", "competency"], columns="phase", values="level")
    gained = (wide.dropna().assign(g=lambda d: d["post"] - d["pre"]).groupby("learner")["g"].mean()
              if {"pre", "post"} <= set(wide.columns) else pd.Series(dtype=float))
    completers = sum(x.learners for x in roles)
    reacted = cohort.reactions
    f = cohort.usage.frame
    recent = usage.per_learner(f, since=f["ts"].max() - pd.Timedelta(days=s.roi.active_window_days))
    return {
        "L1": {"responses": reacted["learner"].nunique(), "completers": completers,
               "by_question": reacted.groupby("question")["rating"].agg(["mean", lambda r: (r >= 4).mean()])
               .set_axis(["mean (1-5)", "share agreeing"], axis=1)},
        "L2": {"level_before": by_phase.get("pre", np.nan), "level_after": by_phase.get("post", np.nan),
               "learners_gaining": float((gained >= 1).mean()) if len(gained) else np.nan,
               "fail_before": np.nanmean([x.fail_pre for x in roles]),
               "fail_after": np.nanmean([x.fail_post for x in roles])},
        "L3": {"active": sum(x.active for x in roles), "completers": completers,
               "median_active_days": float(recent["active_days"].median()) if len(recent) else 0.0,
               "window": s.roi.active_window_days},
        "L4": {"minutes_saved": {x.role: x.minutes_saved for x in roles}},
    }


def compute(cohort: Cohort, settings: Settings | None = None) -> Result:
    s = settings or current()
    cohort.require_assessments()
    roles_present = sorted(cohort.assessed.loc[cohort.assessed["phase"] == "post", "role"].dropna().unique())
    check_config(s, roles_present)
    roles, notes = inputs(cohort, s)
    cohort.notes.extend(n for n in notes if n not in cohort.notes)
    c = costs(roles, s)
    if sum(c.values()) <= 0:
        raise RoiConfigError("adoptkit.roi.programme_costs add up to 0: ROI divides by the costs, so enter "
                             "what the programme really cost")
    time_b, quality_b = value(roles, s)
    n = sum(x.learners for x in roles)
    k = sum(x.active for x in roles)
    ci = wilson(k, n)
    total_cost = sum(c.values())

    def roi_of(tb_qb):
        return (tb_qb[0] + (tb_qb[1] or 0.0) - total_cost) / total_cost

    r = s.roi
    rows = [
        ("minutes saved per task (25th-75th percentile)", roi_of(value(roles, s, minutes="minutes_low")),
         roi_of(value(roles, s, minutes="minutes_high"))),
        (f"share still using AI (95% interval {ci[0]:.0%}-{ci[1]:.0%})", roi_of(value(roles, s, adoption=ci[0])),
         roi_of(value(roles, s, adoption=ci[1]))),
        ("tasks per week (what-if: -25% / +25%)", roi_of(value(roles, s, tasks=0.75)),
         roi_of(value(roles, s, tasks=1.25))),
        (f"attribution (what-if: {r.attribution / 2:.0%} / {r.attribution:.0%})",
         roi_of(value(roles, s, attribution=r.attribution / 2)), roi_of(value(roles, s))),
    ]
    sens = pd.DataFrame(rows, columns=["factor", "low", "high"])
    low = roi_of(value(roles, s, minutes="minutes_low", adoption=ci[0], tasks=0.75, attribution=r.attribution / 2))
    high = roi_of(value(roles, s, minutes="minutes_high", adoption=ci[1], tasks=1.25))
    cur = s.organisation.currency
    assumptions = [
        f"Hourly cost {s.organisation.hourly_cost:,.2f} {cur} (adoptkit.organisation.hourly_cost), the same for every role.",
        "Tasks per learner per week (adoptkit.roi.tasks_per_week): "
        + ", ".join(f"{x.role} {x.tasks_per_week:g}" for x in roles) + ".",
        f"{r.weeks_per_year:g} working weeks a year, over {r.horizon_years:g} year(s); benefits are not discounted.",
        "Minutes saved per task = the median, per role, of (time without AI - time with AI) in the timed paired "
        "task of the post-assessment. Record B was done after record A, so some of the saving may be practice.",
        f"Only learners active in the sandbox on 2+ days in the log's last {r.active_window_days} days count as "
        f"still using AI ({k:,} of {n:,} who completed the course); others are assumed to save nothing.",
        f"Attribution {r.attribution:.0%}: the share of the measured change credited to the programme "
        f"(adoptkit.roi.attribution).",
        ("Quality: errors at work fall by the same amount as the share of failed graded checks (pre -> post), "
         f"at {r.cost_per_error:,.2f} {cur} per error (adoptkit.roi.cost_per_error)."
         if r.cost_per_error is not None else
         "Quality gains are reported (level 2) but not valued: adoptkit.roi.cost_per_error is not set."),
        "Costs: " + ", ".join(f"{k} {v:,.0f} {cur}" for k, v in c.items()) + ".",
    ]
    res = Result(roles, time_b, quality_b, c, k / n if n else 0.0, ci, assumptions, sens, low, high,
                 horizon_years=r.horizon_years)
    res.kirkpatrick = kirkpatrick(cohort, s, roles)
    return res


# --- the page ---------------------------------------------------------------------------------------

def _money(x: float, cur: str) -> str:
    return f"{x:,.0f} {cur}"


def _fig_value(res: Result, cur: str):
    fig, ax = html.subplots(figsize=(6, 2.6))
    labels = ["time saved"] + (["fewer errors"] if res.quality_benefit is not None else []) + ["costs"]
    values = [res.time_benefit] + ([res.quality_benefit] if res.quality_benefit is not None else []) + [res.cost]
    colours = ["#2e7d32"] * (len(values) - 1) + ["#c62828"]
    ax.barh(labels, values, color=colours)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center")
    ax.set_xlabel(cur)
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Benefits and costs")
    return fig


def _fig_tornado(res: Result):
    sens = res.sensitivity.assign(span=lambda d: (d["high"] - d["low"]).abs()).sort_values("span")
    fig, ax = html.subplots(figsize=(7, 2.8))
    base = res.roi * 100
    for i, row in enumerate(sens.itertuples()):
        lo, hi = sorted((row.low * 100, row.high * 100))
        ax.barh(i, hi - lo, left=lo, color="#90caf9")
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(sens)), sens["factor"], fontsize=8)
    ax.set_xlabel("ROI %")
    ax.set_title(f"Sensitivity: ROI if one input moves (line: {base:.0f}%)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def time_chart(cohort: Cohort):
    pairs = timing.paired(cohort.timings).merge(cohort.roster[["learner", "role"]], on="learner")
    roles = sorted(pairs["role"].dropna().unique())
    fig, ax = html.subplots(figsize=(6, 2.8))
    data = [pairs.loc[pairs["role"] == r, ["without_ai", "with_ai"]].to_numpy() / 60 for r in roles]
    pos = np.arange(len(roles))
    ax.boxplot([d[:, 0] for d in data], positions=pos - 0.18, widths=0.3, showfliers=False,
               patch_artist=True, boxprops={"facecolor": "#ddd"})
    ax.boxplot([d[:, 1] for d in data], positions=pos + 0.18, widths=0.3, showfliers=False,
               patch_artist=True, boxprops={"facecolor": "#a5d6a7"})
    ax.set_xticks(pos, roles)
    ax.set_ylabel("minutes per task")
    ax.set_title("Same task without AI (grey) and with AI (green)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def active_chart(cohort: Cohort):
    f = cohort.usage.frame
    week = usage.week_start(f["ts"])
    active = f.groupby(week)["learner"].nunique() / max(len(cohort.roster), 1) * 100
    fig, ax = html.subplots(figsize=(6, 2.6))
    ax.plot(active.index, active.to_numpy(), marker="o", ms=3)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of learners")
    ax.set_title("Learners using AI each week")
    ax.tick_params(axis="x", rotation=30)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def report(cohort: Cohort, out_dir: str | Path, settings: Settings | None = None) -> Path:
    s = settings or current()
    res = compute(cohort, s)
    cur = s.organisation.currency
    kp = res.kirkpatrick
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    l1, l2, l3 = kp["L1"], kp["L2"], kp["L3"]
    body = [
        html.kpis([
            ("return on investment (Phillips)", f"{res.roi:.0%}"),
            ("range (all inputs low / high)", f"{res.low:.0%} to {res.high:.0%}"),
            ("benefits", _money(res.benefits, cur)),
            ("costs", _money(res.cost, cur)),
            ("payback", f"{res.payback_months:.1f} months" if np.isfinite(res.payback_months) else "never"),
        ]),
        "<h2>What the programme did (Kirkpatrick)</h2>",
        html.kpis([
            ("1 Reaction: would recommend (agree)",
             f"{l1['by_question']['share agreeing'].iloc[-1]:.0%}" if len(l1["by_question"]) else "no answers"),
            ("2 Learning: mean level before → after", f"{l2['level_before']:.1f} → {l2['level_after']:.1f}"),
            ("2 Learning: failed checks before → after", f"{l2['fail_before']:.0%} → {l2['fail_after']:.0%}"),
            ("3 Behaviour: still using AI", f"{l3['active']:,} of {l3['completers']:,} ({res.adoption:.0%})"),
            ("4 Results: median minutes saved per task",
             ", ".join(f"{r} {m:.1f}" for r, m in kp["L4"]["minutes_saved"].items())),
        ]),
        '<div class="grid">',
        html.figure(_fig_value(res, cur)), html.figure(_fig_tornado(res)),
        html.figure(time_chart(cohort)), html.figure(active_chart(cohort)), "</div>",
        "<h2>How the ROI was computed</h2><p>ROI = (benefits - costs) / costs (Phillips). "
        f"Time saved: {_money(res.time_benefit, cur)}; fewer errors: "
        f"{_money(res.quality_benefit, cur) if res.quality_benefit is not None else 'not valued'}.</p>",
        "<h3>Assumptions</h3><ul>" + "".join(f"<li>{html.esc(a)}</li>" for a in res.assumptions) + "</ul>",
        "<h3>By role</h3>",
        html.table(pd.DataFrame([{
            "role": x.role, "completed": x.learners, "still using AI": x.active, "timed pairs": x.paired,
            "minutes saved (median)": x.minutes_saved, "tasks/week": x.tasks_per_week,
            "failed checks before": x.fail_pre, "after": x.fail_post} for x in res.roles]).set_index("role"),
            "{:.2f}"),
        "<h3>Sensitivity</h3>",
        html.table(res.sensitivity.set_index("factor").map(lambda v: f"{v:.0%}")),
        "<h3>Level 1: reaction (1 = strongly disagree, 5 = strongly agree)</h3>",
        f"<p>{l1['responses']:,} of {l1['completers']:,} learners who completed the course answered.</p>",
        html.table(l1["by_question"], "{:.2f}"),
        html.notes(cohort.notes),
    ]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = html.page(f"AI training: return on investment ({s.organisation.name})",
                     f"{cohort.label} · generated {stamp}", "".join(body), cohort.simulated)
    path = out / "roi.html"
    path.write_text(page, encoding="utf-8")
    return path

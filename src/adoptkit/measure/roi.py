"""Kirkpatrick levels 1-3, the timed exercise, and Phillips ROI: `adoptkit report roi`.

Phillips: ROI = (benefits - costs) / costs, the method of the book's "Measuring ROI" chapter. Benefits are
monetised from measurements, never typed in:
  time    = learners still using AI x tasks per week (config) x weeks x years x minutes saved per task
            (the counterbalanced timed task, timing.estimate) / 60 x hourly cost (config) x attribution (config)
  quality = the same task volume x the fall in the share of failed graded checks (pre -> post)
            x cost of an error (config; only if given) x attribution
Costs are the ones the chapter names (COST_ITEMS): learners' time in training, mentors' time, content and
facilitation, platform and IT, model usage (plus any other programme cost given). One not given is not
costed, and the page's headline says so. Attribution is an explicit input, shown beside the result.
Every assumption is listed on the page, and a sensitivity range varies each uncertain input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..settings import Settings, current
from . import competency, html, reaction, timing, usage
from .cohort import Cohort, CohortError

# Below this many learners a figure can swing with a handful of people: for a share near 50%, the 95% Wilson
# interval is wider than +/-17 percentage points at n = 30, and a t-interval's critical value is still 5%
# above the normal one. The page shows a caution beside any figure from fewer.
SMALL_SAMPLE = 30

# The costs the "Measuring ROI" chapter names (its cost_items): label -> the setting that gives it.
COST_ITEMS = {
    "learners' time": "adoptkit.roi.course_hours_per_learner",
    "mentors' time": "adoptkit.roi.mentor_hours",
    "content and facilitation": "adoptkit.roi.programme_costs.content_and_facilitation",
    "platform and IT": "adoptkit.roi.programme_costs.platform_and_it",
    "model usage": "adoptkit.roi.programme_costs.model_usage",
}
PROGRAMME_KEYS = {"content_and_facilitation": "content and facilitation", "platform_and_it": "platform and IT",
                  "model_usage": "model usage"}


class RoiConfigError(ValueError):
    """An organisation figure the ROI needs is missing or wrong; the message names the key."""


@dataclass
class RoleInputs:
    role: str
    enrolled: int  # took the pre- or post-assessment: everyone whose time the course cost
    learners: int  # completed the post-assessment
    active: int  # of those, still using the sandbox in the active window
    minutes_saved: float  # crossover estimate over the timed task (timing.estimate)
    minutes_low: float  # its 95% interval
    minutes_high: float
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
    not_costed: list[str]  # the chapter's cost items not given
    attribution: float
    adoption: float
    adoption_ci: tuple[float, float]
    time_saved: timing.Estimate
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


def not_costed(s: Settings) -> list[str]:
    """The chapter's cost items the settings do not give (null or absent; 0 is a cost of 0)."""
    r = s.roi
    given = {"learners' time": r.course_hours_per_learner is not None, "mentors' time": r.mentor_hours is not None}
    given |= {label: key in r.programme_costs for key, label in PROGRAMME_KEYS.items()}
    return [label for label in COST_ITEMS if not given[label]]


def missing_figures(s: Settings, roles: list[str]) -> tuple[list[str], list[str]]:
    """(what the ROI cannot be computed without, the chapter's costs not given): one line each, naming the key."""
    needed = []
    if s.organisation.hourly_cost is None:
        needed.append("adoptkit.organisation.hourly_cost is not set: the loaded cost of one hour of a "
                      "learner's work (salary plus overheads), e.g. `hourly_cost: 55`")
    if s.roi.attribution is None:
        needed.append("adoptkit.roi.attribution is not set: the share of the measured gain credited to the "
                      "training rather than to the tool alone (the book's example uses 0.5); it is shown beside "
                      "the ROI")
    for role in roles:
        if role not in s.roi.tasks_per_week:
            needed.append(f"adoptkit.roi.tasks_per_week.{role} is not set: how many tasks of the kind the "
                          f"course targets a {role} learner does per week, e.g. `{role}: 10`")
    examples = {"learners' time": "course hours per learner, e.g. `course_hours_per_learner: 16`",
                "mentors' time": "mentors' and reviewers' hours in total, e.g. `mentor_hours: 120`"}
    costs = [f"{COST_ITEMS[label]} is not set: {examples.get(label, 'the amount, e.g. `' + COST_ITEMS[label].split('.')[-1] + ': 6000`')}"
             for label in not_costed(s)]
    return needed, costs


def check_config(s: Settings, roles: list[str]) -> list[str]:
    """Fail early, naming every missing figure; returns the chapter's cost items that are not costed."""
    needed, costs = missing_figures(s, roles)
    if needed:
        also = ("\nAlso not costed yet (the report runs without them, and says so):\n  - " + "\n  - ".join(costs)
                if costs else "")
        raise RoiConfigError("The ROI report needs the organisation's own figures in _config.yml:\n  - "
                             + "\n  - ".join(needed) + also)
    return not_costed(s)


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


def timed_pairs(cohort: Cohort) -> pd.DataFrame:
    """Per learner (of the roster) and task: the timed runs paired, with the learner's role."""
    return timing.paired(cohort.timings).merge(cohort.roster[["learner", "role"]], on="learner", how="inner")


def inputs(cohort: Cohort, s: Settings) -> tuple[list[RoleInputs], timing.Estimate, list[str]]:
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
    pairs = timed_pairs(cohort)
    if pairs.empty:
        raise CohortError("no paired timings were recorded (timings/*.json in the post-assessment submissions), "
                          "so time saved cannot be measured. Ask learners to run the timed task's cells.")
    pooled = timing.estimate(pairs)
    enrolled = assessed[["learner", "role"]].drop_duplicates("learner").groupby("role").size()
    fails = assessed.assign(failed=assessed["score"] < assessed["max_score"]).groupby(["role", "phase"])[
        "failed"].mean()
    out = []
    for role, part in completed.groupby("role"):
        mine = pairs[pairs["role"] == role]
        est = timing.estimate(mine)
        if est.n < 2:
            notes.append(f"{role}: {est.n} timed pair(s); the estimate over all roles is used")
            est = pooled
        out.append(RoleInputs(
            role=role, enrolled=int(enrolled.get(role, len(part))), learners=len(part),
            active=len(set(part["learner"]) & active), minutes_saved=est.minutes, minutes_low=est.low,
            minutes_high=est.high, paired=len(mine), tasks_per_week=float(s.roi.tasks_per_week[role]),
            fail_pre=float(fails.get((role, "pre"), np.nan)), fail_post=float(fails.get((role, "post"), np.nan))))
    return out, pooled, notes


def value(roles: list[RoleInputs], s: Settings, *, minutes: str = "minutes_saved", adoption: float | None = None,
          tasks: float = 1.0, attribution: float | None = None) -> tuple[float, float | None]:
    """(time benefit, quality benefit) for one set of inputs; the knobs serve the sensitivity analysis."""
    r = s.roi
    attribution = r.attribution if attribution is None else attribution
    time_b, quality_b = 0.0, 0.0
    for x in roles:
        users = x.learners * adoption if adoption is not None else x.active
        volume = users * x.tasks_per_week * tasks * r.weeks_per_year * r.horizon_years
        saved = getattr(x, minutes)
        time_b += volume * (max(saved, 0.0) if np.isfinite(saved) else 0.0) / 60 * s.organisation.hourly_cost * attribution
        if r.cost_per_error is not None and not np.isnan(x.fail_pre) and not np.isnan(x.fail_post):
            quality_b += volume * max(x.fail_pre - x.fail_post, 0.0) * r.cost_per_error * attribution
    return time_b, (quality_b if r.cost_per_error is not None else None)


def costs(roles: list[RoleInputs], s: Settings) -> dict[str, float]:
    """Every cost given, by the chapter's names where it names them; learners' time for everyone enrolled."""
    r, rate = s.roi, s.organisation.hourly_cost
    c: dict[str, float] = {}
    if r.course_hours_per_learner is not None:
        c["learners' time"] = sum(x.enrolled for x in roles) * r.course_hours_per_learner * rate
    if r.mentor_hours is not None:
        c["mentors' time"] = r.mentor_hours * rate
    for key, amount in r.programme_costs.items():
        c[PROGRAMME_KEYS.get(key, key.replace("_", " "))] = float(amount)
    return c


def pct(v: float) -> str:
    """A share as a whole percentage, never "-0%"."""
    if not np.isfinite(v):
        return "–"
    return f"{round(v * 100) + 0:d}%"


def kirkpatrick(cohort: Cohort, s: Settings, roles: list[RoleInputs]) -> dict:
    lv = competency.levels(cohort.assessed, s.competency)
    change = competency.paired_levels(lv)
    completers = sum(x.learners for x in roles)
    reacted = cohort.reactions
    f = cohort.usage.frame
    recent = usage.per_learner(f, since=f["ts"].max() - pd.Timedelta(days=s.roi.active_window_days))
    items = reaction.by_item(reacted) if len(reacted) else pd.DataFrame()
    return {
        "L1": {"responses": reacted["learner"].nunique() if len(reacted) else 0, "completers": completers,
               "by_item": items},
        "L2": {"paired": change["learners"], "level_before": change["before"], "level_after": change["after"],
               "only_before": change["only_before"], "only_after": change["only_after"],
               "learners_gaining": change["gaining"],
               "fail_before": pd.Series([x.fail_pre for x in roles], dtype=float).mean(),
               "fail_after": pd.Series([x.fail_post for x in roles], dtype=float).mean()},
        "L3": {"active": sum(x.active for x in roles), "completers": completers,
               "median_active_days": float(recent["active_days"].median()) if len(recent) else 0.0,
               "window": s.roi.active_window_days},
        "timed": {x.role: x.minutes_saved for x in roles},
    }


def compute(cohort: Cohort, settings: Settings | None = None) -> Result:
    s = settings or current()
    cohort.require_assessments()
    roles_present = sorted(cohort.assessed.loc[cohort.assessed["phase"] == "post", "role"].dropna().unique())
    left_out = check_config(s, roles_present)
    roles, pooled, notes = inputs(cohort, s)
    cohort.notes.extend(n for n in notes if n not in cohort.notes)
    c = costs(roles, s)
    if sum(c.values()) <= 0:
        raise RoiConfigError("the programme's costs add up to 0 (adoptkit.roi.programme_costs, "
                             "course_hours_per_learner, mentor_hours): ROI divides by the costs, so enter what "
                             "the programme really cost")
    time_b, quality_b = value(roles, s)
    n = sum(x.learners for x in roles)
    k = sum(x.active for x in roles)
    ci = wilson(k, n)
    total_cost = sum(c.values())

    def roi_of(tb_qb):
        return (tb_qb[0] + (tb_qb[1] or 0.0) - total_cost) / total_cost

    r = s.roi
    att = r.attribution
    rows = [
        ("minutes saved per task (95% interval)", roi_of(value(roles, s, minutes="minutes_low")),
         roi_of(value(roles, s, minutes="minutes_high"))),
        (f"share still using AI (95% interval {pct(ci[0])}-{pct(ci[1])})", roi_of(value(roles, s, adoption=ci[0])),
         roi_of(value(roles, s, adoption=ci[1]))),
        ("tasks per week (what-if: -25% / +25%)", roi_of(value(roles, s, tasks=0.75)),
         roi_of(value(roles, s, tasks=1.25))),
        (f"attribution (what-if: {pct(att / 2)} / {pct(min(att * 1.5, 1.0))})",
         roi_of(value(roles, s, attribution=att / 2)), roi_of(value(roles, s, attribution=min(att * 1.5, 1.0)))),
    ]
    sens = pd.DataFrame(rows, columns=["factor", "low", "high"])
    low = roi_of(value(roles, s, minutes="minutes_low", adoption=ci[0], tasks=0.75, attribution=att / 2))
    high = roi_of(value(roles, s, minutes="minutes_high", adoption=ci[1], tasks=1.25,
                        attribution=min(att * 1.5, 1.0)))
    cur = s.organisation.currency
    assumptions = [
        f"Hourly cost {s.organisation.hourly_cost:,.2f} {cur} (adoptkit.organisation.hourly_cost), the same for every role.",
        "Tasks per learner per week (adoptkit.roi.tasks_per_week): "
        + ", ".join(f"{x.role} {x.tasks_per_week:g}" for x in roles) + ".",
        f"{r.weeks_per_year:g} working weeks a year, over {r.horizon_years:g} year(s); benefits are not discounted.",
        f"Minutes saved per task: the timed task of the post-assessment, {pooled.design()}. All roles: "
        f"{pooled.interval()}. It is an exercise under test conditions, not a measurement at work.",
        f"Only learners active in the sandbox on 2+ days in the log's last {r.active_window_days} days count as "
        f"still using AI ({k:,} of {n:,} who completed the course); others are assumed to save nothing.",
        f"Attribution {pct(att)}: the share of the measured change credited to the programme "
        f"(adoptkit.roi.attribution), applied to every benefit.",
        ("Quality: errors at work fall by the same amount as the share of failed graded checks (pre -> post), "
         f"at {r.cost_per_error:,.2f} {cur} per error (adoptkit.roi.cost_per_error)."
         if r.cost_per_error is not None else
         "Quality gains are reported (level 2) but not valued: adoptkit.roi.cost_per_error is not set."),
        "Costs: " + ", ".join(f"{k} {v:,.0f} {cur}" for k, v in c.items()) + "."
        + (f" Not costed: {', '.join(left_out)} (" + ", ".join(COST_ITEMS[x] for x in left_out)
           + "), so the ROI is overstated." if left_out else ""),
    ]
    res = Result(roles, time_b, quality_b, c, left_out, att, k / n if n else 0.0, ci, pooled, assumptions, sens,
                 low, high, horizon_years=r.horizon_years)
    res.kirkpatrick = kirkpatrick(cohort, s, roles)
    return res


# --- the page ---------------------------------------------------------------------------------------

# Colours that readers with any common colour-vision deficiency can tell apart (blue / orange, Okabe-Ito),
# never red against green; every value is also printed as text.
BENEFIT, COST = "#0072B2", "#E69F00"
DIVERGING = "PuOr"  # purple-orange, for tables of values around 0 (as in the competency report)


def _money(x: float, cur: str) -> str:
    return f"{x:,.0f} {cur}"


def _fig_value(res: Result, cur: str):
    fig, ax = html.subplots(figsize=(6, 2.6))
    labels = ["time saved"] + (["fewer errors"] if res.quality_benefit is not None else []) + ["costs"]
    values = [res.time_benefit] + ([res.quality_benefit] if res.quality_benefit is not None else []) + [res.cost]
    colours = [BENEFIT] * (len(values) - 1) + [COST]
    ax.barh(labels, values, color=colours)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center")
    ax.set_xlabel(cur)
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Benefits (blue) and costs (orange)")
    return fig


def _fig_tornado(res: Result):
    sens = res.sensitivity.assign(span=lambda d: (d["high"] - d["low"]).abs()).sort_values("span")
    fig, ax = html.subplots(figsize=(7, 2.8))
    base = res.roi * 100
    for i, row in enumerate(sens.itertuples()):
        lo, hi = sorted((row.low * 100, row.high * 100))
        ax.barh(i, hi - lo, left=lo, color="#56B4E9")
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(sens)), sens["factor"], fontsize=8)
    ax.set_xlabel("ROI %")
    ax.set_title(f"Sensitivity: ROI if one input moves (line: {pct(res.roi)})")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def time_chart(cohort: Cohort):
    """Minutes per task by hand and with AI, per role, over each learner's mean of their timed runs."""
    pairs = timed_pairs(cohort)
    roles = sorted(pairs["role"].dropna().unique())
    fig, ax = html.subplots(figsize=(6, 2.8))
    data = [pairs.loc[pairs["role"] == r, ["without_ai", "with_ai"]].to_numpy(dtype=float) / 60 for r in roles]
    pos = np.arange(len(roles))
    if roles:
        ax.boxplot([d[:, 0] for d in data], positions=pos - 0.18, widths=0.3, showfliers=False,
                   patch_artist=True, boxprops={"facecolor": COST})
        ax.boxplot([d[:, 1] for d in data], positions=pos + 0.18, widths=0.3, showfliers=False,
                   patch_artist=True, boxprops={"facecolor": BENEFIT})
    ax.set_xticks(pos, [f"{r}\n(n = {len(d)})" for r, d in zip(roles, data)])
    ax.set_ylabel("minutes per task")
    ax.set_title("Timed task by hand (orange) and with AI (blue)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def active_chart(cohort: Cohort):
    f = cohort.usage.frame
    week = usage.week_start(f["ts"])
    active = f.groupby(week)["learner"].nunique() / max(len(cohort.roster), 1) * 100
    fig, ax = html.subplots(figsize=(6, 2.6))
    ax.plot(active.index, active.to_numpy(), marker="o", ms=3)
    html.date_axis(ax, active.index)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of learners")
    ax.set_title("Learners using AI each week (week starting)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _caution(res: Result) -> str:
    n = sum(x.learners for x in res.roles)
    small = [f"{n} learner(s) completed the course" if n < SMALL_SAMPLE else "",
             f"{res.time_saved.n} learner(s) have a timed pair" if res.time_saved.n < SMALL_SAMPLE else ""]
    small = [x for x in small if x]
    if not small:
        return ""
    return html.caution(f"Small sample: {' and '.join(small)} (fewer than {SMALL_SAMPLE}). Every figure below can "
                        f"move a lot with a few people; read the intervals, not the single numbers.")


def report(cohort: Cohort, out_dir: str | Path, settings: Settings | None = None) -> Path:
    s = settings or current()
    res = compute(cohort, s)
    cur = s.organisation.currency
    kp = res.kirkpatrick
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    l1, l2, l3 = kp["L1"], kp["L2"], kp["L3"]
    items = l1["by_item"]
    recommend = items.loc["recommend"] if "recommend" in getattr(items, "index", []) else None
    ts = res.time_saved
    headline = [
        ("return on investment (Phillips)", pct(res.roi)),
        ("attribution to the training (adoptkit.roi.attribution)", pct(res.attribution)),
        ("range (all inputs low / high)", f"{pct(res.low)} to {pct(res.high)}"),
        ("benefits", _money(res.benefits, cur)),
        ("costs", _money(res.cost, cur)),
        ("payback", f"{res.payback_months:.1f} months" if np.isfinite(res.payback_months) else "never"),
    ]
    if res.not_costed:
        headline.append(("not costed, so the ROI is overstated", ", ".join(res.not_costed)))
    body = [
        _caution(res),
        html.kpis(headline, "headline"),
        "<h2>What the programme did (Kirkpatrick)</h2>",
        html.kpis([
            ("1 Reaction: would recommend the course (agree or strongly agree)",
             f"{pct(recommend['share agreeing'])} of {int(recommend['answers']):,}" if recommend is not None
             else "no answers"),
            (f"2 Learning: mean level before → after, the same {l2['paired']:,} learners",
             f"{l2['level_before']:.1f} → {l2['level_after']:.1f}" if l2["paired"] else "no learner assessed twice"),
            ("2 Learning: failed checks before → after", f"{pct(l2['fail_before'])} → {pct(l2['fail_after'])}"),
            ("3 Behaviour: still using AI", f"{l3['active']:,} of {l3['completers']:,} ({pct(res.adoption)})"),
            ("Timed exercise (not a level-4 business result): minutes saved per task, 95% interval",
             f"{ts.minutes:.1f} ({ts.low:.1f} to {ts.high:.1f}), n = {ts.n:,}" if ts.n >= 2 else f"n = {ts.n}"),
        ]),
        f"<p>Timed task design: {html.esc(ts.design())}. Level 4 (results) is the business owner's own metric "
        f"(cases closed, time to hire, conversion); the kit does not measure it. Learners assessed only before: "
        f"{l2['only_before']:,}; only after: {l2['only_after']:,} (left out of the change).</p>",
        '<div class="grid">',
        html.figure(_fig_value(res, cur)), html.figure(_fig_tornado(res)),
        html.figure(time_chart(cohort)), html.figure(active_chart(cohort)), "</div>",
        "<h2>How the ROI was computed</h2><p>ROI = (benefits - costs) / costs (Phillips; the book's chapter "
        f"Measuring ROI). Time saved: {_money(res.time_benefit, cur)}; fewer errors: "
        f"{_money(res.quality_benefit, cur) if res.quality_benefit is not None else 'not valued'}; both after "
        f"attribution of {pct(res.attribution)}.</p>",
        "<h3>Assumptions</h3><ul>" + "".join(f"<li>{html.esc(a)}</li>" for a in res.assumptions) + "</ul>",
        "<h3>Costs</h3>",
        html.table(pd.DataFrame({"amount": list(res.costs.values()) + [np.nan] * len(res.not_costed),
                                 "setting": [""] * len(res.costs) + [COST_ITEMS[x] for x in res.not_costed],
                                 "status": ["costed"] * len(res.costs) + ["not costed"] * len(res.not_costed)},
                                index=pd.Index(list(res.costs) + res.not_costed, name="cost")), "{:,.0f}"),
        "<h3>By role</h3>",
        html.table(pd.DataFrame([{
            "role": x.role, "enrolled": x.enrolled, "completed": x.learners, "still using AI": x.active,
            "timed pairs": x.paired, "minutes saved": x.minutes_saved, "95% low": x.minutes_low,
            "95% high": x.minutes_high, "tasks/week": x.tasks_per_week,
            "failed checks before": x.fail_pre, "after": x.fail_post} for x in res.roles]).set_index("role"),
            "{:.2f}"),
        "<h3>Sensitivity (ROI when one input moves; colour: purple below 0, orange above)</h3>",
        html.heat_table([[(pct(v), v * 100) for v in (row.low, row.high)] for row in res.sensitivity.itertuples()],
                        list(res.sensitivity["factor"]), ["low", "high"], "ROI", cmap=DIVERGING, vmin=-100,
                        vmax=100),
        "<h3>Level 1: reaction (1 = strongly disagree, 5 = strongly agree)</h3>",
        f"<p>{l1['responses']:,} of {l1['completers']:,} learners who completed the course answered.</p>",
        html.table(items.set_index("question") if len(items) else pd.DataFrame(), "{:.2f}"),
        html.notes(cohort.notes),
    ]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = html.page(f"AI training: return on investment ({s.organisation.name})",
                     f"{cohort.label} · generated {stamp}", "".join(body), cohort.simulated)
    path = out / "roi.html"
    path.write_text(page, encoding="utf-8")
    return path

import copy

import pandas as pd
import pytest

from adoptkit.measure import roi, simulate
from adoptkit.measure.cohort import Cohort, CohortError
from adoptkit.measure.usage import UsageLog, normalise

from _adoption import ROI, config

NOW = pd.Timestamp("2026-03-27T12:00:00Z")


def tiny_cohort(with_usage=True, with_timings=True):
    roster = pd.DataFrame([("a", "A", "sales", "t", "c"), ("b", "B", "sales", "t", "c"),
                           ("c", "C", "hr", "u", "c"), ("d", "D", "hr", "u", "c")],
                          columns=["learner", "name", "role", "team", "cohort"])
    rows = []
    for learner, role in zip(roster["learner"], roster["role"]):
        for phase, right in (("pre", 1), ("post", 3)):
            for i in range(4):
                rows.append({"learner": learner, "assignment": f"{role}-assessment-{phase}", "notebook": "n",
                             "item": f"prompting-{i}", "score": float(i < right), "max_score": 1.0,
                             "submitted": NOW, "role": role, "phase": phase, "competency": "prompting"})
    # a: active on 2 days, b: 1 day (not a habit), c: 3 days, d: never
    days = {"a": ["2026-03-20", "2026-03-24"], "b": ["2026-03-24"], "c": ["2026-03-10", "2026-03-18", "2026-03-27"]}
    log = pd.DataFrame([{"ts": f"{d}T09:00:00Z", "learner": k} for k, ds in days.items() for d in ds])
    timings = pd.DataFrame([("a", "s", "summary", "without_ai", 600.0), ("a", "s", "summary", "with_ai", 240.0),
                            ("b", "s", "summary", "without_ai", 900.0), ("b", "s", "summary", "with_ai", 300.0),
                            ("c", "h", "summary", "without_ai", 500.0), ("c", "h", "summary", "with_ai", 200.0)],
                           columns=["learner", "assignment", "task", "mode", "seconds"])
    reactions = pd.DataFrame([("a", "x", "q1", 5), ("c", "x", "q1", 3)],
                             columns=["learner", "assignment", "question", "rating"])
    frame = normalise(log)[0] if with_usage else normalise(log.iloc[:0])[0]
    return Cohort(roster, pd.DataFrame(rows), UsageLog(frame, "test"),
                  timings if with_timings else timings.iloc[:0], reactions, label="tiny")


def test_phillips_roi_matches_the_formula_on_a_hand_checked_cohort(tmp_path):
    s = config(tmp_path, ROI)
    res = roi.compute(tiny_cohort(), s)
    # sales: 2 completed, 1 still active; median saving of 6 and 10 minutes; hr: 1 of 2 active, 5 minutes
    weeks, cost = 46, 50
    expected = (2 * (1 / 2) * 10 * weeks * 8 / 60 * cost) + (2 * (1 / 2) * 6 * weeks * 5 / 60 * cost)
    assert res.time_benefit == pytest.approx(expected)
    assert res.quality_benefit is None  # no cost_per_error: not valued
    assert res.cost == 25000 and res.roi == pytest.approx((expected - 25000) / 25000)
    assert res.low <= res.roi <= res.high
    for row in res.sensitivity.itertuples():
        assert min(row.low, row.high) <= res.roi + 1e-9 and max(row.low, row.high) >= res.roi - 1e-9
    assert any("hourly_cost" in a for a in res.assumptions) and any("not valued" in a for a in res.assumptions)
    roles = {x.role: x for x in res.roles}
    assert roles["sales"].fail_pre == 0.75 and roles["sales"].fail_post == 0.25


def test_quality_and_learner_time_are_valued_when_configured(tmp_path):
    section = copy.deepcopy(ROI)
    section["roi"].update(cost_per_error=10, course_hours_per_learner=2)
    s = config(tmp_path, section)
    res = roi.compute(tiny_cohort(), s)
    volume = 1 * 10 * 46 + 1 * 6 * 46  # tasks by learners still using AI
    assert res.quality_benefit == pytest.approx(volume * (0.75 - 0.25) * 10)
    assert res.costs["learners' time in training"] == 4 * 2 * 50


@pytest.mark.parametrize("drop, key", [
    (("organisation", "hourly_cost"), "adoptkit.organisation.hourly_cost"),
    (("roi", "programme_costs"), "adoptkit.roi.programme_costs"),
    (("roi", "tasks_per_week"), "adoptkit.roi.tasks_per_week.hr"),
])
def test_a_missing_cost_names_the_key(tmp_path, drop, key):
    section = copy.deepcopy(ROI)
    del section[drop[0]][drop[1]]
    s = config(tmp_path, section)
    with pytest.raises(roi.RoiConfigError, match=key.replace(".", r"\.")):
        roi.compute(tiny_cohort(), s)


def test_missing_usage_or_timings_is_a_clear_error(tmp_path):
    s = config(tmp_path, ROI)
    with pytest.raises(CohortError, match="usage log"):
        roi.compute(tiny_cohort(with_usage=False), s)
    with pytest.raises(CohortError, match="paired timings"):
        roi.compute(tiny_cohort(with_timings=False), s)


def test_report_page_for_a_simulated_cohort(tmp_path):
    s = config(tmp_path, ROI)
    c = simulate.cohort(120, 8000, seed=5, settings=s)
    page = roi.report(c, tmp_path / "out", s).read_text()
    for text in ("Simulated data.", "return on investment (Phillips)", "1 Reaction", "2 Learning", "3 Behaviour",
                 "4 Results", "Assumptions", "Sensitivity", "payback"):
        assert text in page
    assert page.count("data:image/png;base64,") == 4

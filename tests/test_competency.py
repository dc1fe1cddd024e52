import re

import numpy as np
import pandas as pd
import pytest

from adoptkit.measure import competency, simulate
from adoptkit.measure.cohort import Cohort, CohortError
from adoptkit.measure.usage import UsageLog, empty

from _adoption import config


def _rows(learner, role, phase, comp, points, of=4):
    return [{"learner": learner, "assignment": f"{role}-assessment-{phase}", "notebook": "nb",
             "item": f"{comp}-{i}", "score": float(i < points), "max_score": 1.0,
             "submitted": pd.Timestamp("2026-03-02", tz="UTC"), "role": role, "phase": phase,
             "competency": comp} for i in range(of)]


def _cohort(rows, roster):
    return Cohort(pd.DataFrame(roster, columns=["learner", "name", "role", "team", "cohort"]), pd.DataFrame(rows),
                  UsageLog(empty(), "none"), pd.DataFrame(), pd.DataFrame(), label="test")


def test_levels_follow_the_thresholds(tmp_path):
    s = config(tmp_path)
    rows = []
    for points in range(5):
        rows += _rows(f"l{points}", "sales", "post", "prompting", points)
    lv = competency.levels(pd.DataFrame(rows), s.competency).set_index("learner")
    # shares 0, .25, .5, .75, 1 against thresholds .25/.5/.75/.95
    assert lv["level"].to_dict() == {"l0": 0, "l1": 1, "l2": 2, "l3": 3, "l4": 4}
    s2 = config(tmp_path, {"competency": {"thresholds": [0.1, 0.2, 0.3, 0.4]}})
    lv2 = competency.levels(pd.DataFrame(rows), s2.competency).set_index("learner")
    assert lv2["level"].to_dict() == {"l0": 0, "l1": 2, "l2": 4, "l3": 4, "l4": 4}


def test_bad_competency_settings_are_refused(tmp_path):
    from adoptkit.settings import SettingsError

    with pytest.raises(SettingsError, match="adoptkit.competency.thresholds.*increasing"):
        config(tmp_path, {"competency": {"thresholds": [0.5, 0.4, 0.6, 0.9]}})
    with pytest.raises(SettingsError, match="exactly five levels"):
        config(tmp_path, {"competency": {"levels": ["a", "b"]}})


def test_a_learner_without_submissions_is_listed_and_not_averaged(tmp_path):
    s = config(tmp_path)
    rows = _rows("ana", "hr", "pre", "privacy", 1) + _rows("ana", "hr", "post", "privacy", 4)
    roster = [("ana", "Ana", "hr", "t1", "c"), ("zed", "Zed", "hr", "t1", "c")]
    c = _cohort(rows, roster)
    table = competency.per_learner(competency.levels(c.assessed, s.competency), c.roster, s.competency)
    assert table.loc["zed", "assessed"] == "no submissions" and table.loc["zed"].drop(["role", "team", "assessed"]).isna().all()
    assert table.loc["ana", "privacy pre"] == 1 and table.loc["ana", "privacy post"] == 4
    assert np.isnan(table.loc["ana", "coding post"])  # not assessed is blank, not level 0
    path = competency.report(c, tmp_path / "out", s)
    page = path.read_text()
    assert "learners without submissions" in page and len(re.findall(r"data:image/png;base64,", page)) >= 2
    # the per-learner heat map is a table: ana's privacy level before → after, coloured by the level after
    hr_map = page[page.index("hr: level before → after"):]
    assert re.search(r'<td style="background:#[0-9a-f]{6};color:#[0-9a-f]{3}">1→4</td>', hr_map)
    assert "zed" not in hr_map  # not assessed: in the CSV, not in the map
    csv = pd.read_csv(tmp_path / "out" / "competency-learners.csv", index_col=0)
    assert set(csv.index) == {"ana", "zed"}


def test_an_empty_cohort_is_a_clear_error(tmp_path):
    s = config(tmp_path)
    with pytest.raises(CohortError, match="the cohort is empty.*--simulate"):
        competency.report(_cohort([], []), tmp_path / "out", s)


def test_simulated_cohort_is_seeded_and_labelled(tmp_path):
    s = config(tmp_path)
    a, b = simulate.cohort(60, 3000, seed=3, settings=s), simulate.cohort(60, 3000, seed=3, settings=s)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    pd.testing.assert_frame_equal(a.usage.frame, b.usage.frame)
    assert not simulate.cohort(60, 3000, seed=4, settings=s).scores.equals(a.scores)
    assert a.simulated and "SIMULATED" in a.label and len(a.usage.frame) == 3000
    lv = competency.levels(a.assessed, s.competency)
    means = lv.groupby("phase")["level"].mean()
    assert means["post"] > means["pre"]  # the simulated course works, as its parameters say
    page = competency.report(a, tmp_path / "sim", s).read_text()
    assert "Simulated data." in page and "Use of the sandbox" in page

"""The ROI report: Phillips' formula on a hand-checked cohort, the chapter's worked method on real records, every
cost the chapter names, attribution beside the result, the survey item by key, small-sample cautions."""

import ast
import copy
import re

import pandas as pd
import pytest

from adoptkit import settings
from adoptkit.measure import cohort as cohort_mod
from adoptkit.measure import reaction, roi, simulate, timing
from adoptkit.measure.cohort import Cohort, CohortError
from adoptkit.measure.usage import UsageLog, normalise

from _adoption import ROI, book_inputs, chapter_method, config

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
    # the older fixed design (by hand first), as TaskTimer wrote it
    timings = pd.DataFrame([("a", "s", "summary", 1, "without_ai", 600.0), ("a", "s", "summary", 2, "with_ai", 240.0),
                            ("b", "s", "summary", 1, "without_ai", 900.0), ("b", "s", "summary", 2, "with_ai", 300.0),
                            ("c", "h", "summary", 1, "without_ai", 500.0), ("c", "h", "summary", 2, "with_ai", 200.0)],
                           columns=["learner", "assignment", "task", "run", "mode", "seconds"]).assign(
        record=None, order=timing.FIXED)
    reactions = pd.DataFrame([("a", "x", "recommend", reaction.ITEMS["recommend"], 5),
                              ("c", "x", "recommend", reaction.ITEMS["recommend"], 3)],
                             columns=reaction.COLUMNS)
    frame = normalise(log)[0] if with_usage else normalise(log.iloc[:0])[0]
    return Cohort(roster, pd.DataFrame(rows), UsageLog(frame, "test"),
                  timings if with_timings else timings.iloc[:0], reactions, label="tiny")


def test_phillips_roi_matches_the_formula_on_a_hand_checked_cohort(tmp_path):
    s = config(tmp_path, ROI)
    res = roi.compute(tiny_cohort(), s)
    # sales: 2 completed, 1 still active, mean saving of 6 and 10 minutes = 8; hr: 1 of 2 active, one timed
    # pair only, so the estimate over all roles (6, 10, 5: mean 7) stands in
    weeks, cost = 46, 50
    expected = (1 * 10 * weeks * 8 / 60 * cost) + (1 * 6 * weeks * 7 / 60 * cost)
    assert res.time_benefit == pytest.approx(expected)
    assert res.quality_benefit is None  # no cost_per_error: not valued
    assert res.cost == 25000 and res.roi == pytest.approx((expected - 25000) / 25000)
    assert res.low <= res.roi <= res.high
    for row in res.sensitivity.itertuples():
        assert min(row.low, row.high) <= res.roi + 1e-9 and max(row.low, row.high) >= res.roi - 1e-9
    assert any("hourly_cost" in a for a in res.assumptions) and any("not valued" in a for a in res.assumptions)
    roles = {x.role: x for x in res.roles}
    assert roles["sales"].fail_pre == 0.75 and roles["sales"].fail_post == 0.25
    assert not res.time_saved.counterbalanced and "practice is counted as time saved" in res.time_saved.design()


def test_quality_learner_and_mentor_time_are_valued_when_configured(tmp_path):
    section = copy.deepcopy(ROI)
    section["roi"].update(cost_per_error=10, course_hours_per_learner=2, mentor_hours=3, attribution=0.5)
    s = config(tmp_path, section)
    res = roi.compute(tiny_cohort(), s)
    volume = 1 * 10 * 46 + 1 * 6 * 46  # tasks by learners still using AI
    assert res.quality_benefit == pytest.approx(volume * (0.75 - 0.25) * 10 * 0.5)
    assert res.costs["learners' time"] == 4 * 2 * 50 and res.costs["mentors' time"] == 3 * 50
    assert res.attribution == 0.5


@pytest.mark.parametrize("drop, key", [
    (("organisation", "hourly_cost"), "adoptkit.organisation.hourly_cost"),
    (("roi", "attribution"), "adoptkit.roi.attribution"),
    (("roi", "tasks_per_week"), "adoptkit.roi.tasks_per_week.hr"),
])
def test_a_missing_figure_names_the_key_and_the_check_asks_for_every_cost(tmp_path, drop, key):
    section = copy.deepcopy(ROI)
    del section[drop[0]][drop[1]]
    s = config(tmp_path, section)
    with pytest.raises(roi.RoiConfigError, match=key.replace(".", r"\.")) as err:
        roi.compute(tiny_cohort(), s)
    for setting in roi.COST_ITEMS.values():  # every cost the chapter names is asked for
        assert setting in str(err.value)


def test_costs_add_up_to_zero_is_refused(tmp_path):
    section = copy.deepcopy(ROI)
    section["roi"]["programme_costs"] = {"licences": 0}
    with pytest.raises(roi.RoiConfigError, match="add up to 0"):
        roi.compute(tiny_cohort(), config(tmp_path, section))


@pytest.mark.parametrize("key, value", [("tasks_per_week", {"sales": -10}), ("programme_costs", {"x": -1}),
                                        ("tasks_per_week", {"sales": float("nan")}), ("attribution", 1.5),
                                        ("course_hours_per_learner", -2), ("mentor_hours", float("inf"))])
def test_negative_or_impossible_figures_are_rejected_naming_the_key(tmp_path, key, value):
    section = copy.deepcopy(ROI)
    section["roi"][key] = value
    with pytest.raises(settings.SettingsError) as err:
        config(tmp_path, section)
    name = f"adoptkit.roi.{key}" + (f".{next(iter(value))}" if isinstance(value, dict) else "")
    assert name in str(err.value)


def test_missing_usage_or_timings_is_a_clear_error(tmp_path):
    s = config(tmp_path, ROI)
    with pytest.raises(CohortError, match="usage log"):
        roi.compute(tiny_cohort(with_usage=False), s)
    with pytest.raises(CohortError, match="paired timings"):
        roi.compute(tiny_cohort(with_timings=False), s)


def test_no_minus_zero():
    assert roi.pct(-0.004) == "0%" and roi.pct(0.004) == "0%" and roi.pct(-0.5) == "-50%" and roi.pct(0.634) == "63%"


# --- on real records (simulate.write_records): the chapter's method, the page's labels -----------------------

@pytest.fixture(scope="module")
def book_course(tmp_path_factory):
    """A seeded cohort written as real records, with the chapter's example inputs; loaded back by the kit."""
    root = tmp_path_factory.mktemp("book-roi")
    section = book_inputs()
    c = simulate.cohort(160, 12000, seed=3, settings=settings.parse(section, root=root))
    section = {**section, **simulate.write_records(c, root)}
    s = settings.parse(section, root=root)
    loaded = cohort_mod.load(s)
    return root, s, loaded


def headline(page: str, label: str) -> str:
    m = re.search(r"<b>([^<]*)</b><span>" + re.escape(label), page)
    assert m, f"no headline {label!r} on the page"
    return m.group(1)


def test_roi_page_shows_the_chapters_worked_method_on_the_seeded_cohort(book_course, tmp_path):
    root, s, c = book_course
    page = roi.report(c, tmp_path, s).read_text()
    # The chapter's inputs, measured here from the records: who took the course, who still uses AI, the
    # crossover estimate of minutes saved per role, and the fall in failed checks.
    assessed = c.assessed
    enrolled = assessed.groupby("role")["learner"].nunique()
    post = assessed[assessed["phase"] == "post"][["learner", "role"]].drop_duplicates()
    active = roi.active_learners(c.usage.frame, s.roi.active_window_days)
    users = post[post["learner"].isin(active)].groupby("role").size()
    pairs = timing.paired(c.timings).merge(c.roster[["learner", "role"]], on="learner")
    minutes = {r: timing.estimate(p).minutes for r, p in pairs.groupby("role")}
    failed = assessed.assign(f=assessed["score"] < assessed["max_score"]).groupby(["role", "phase"])["f"].mean()
    weeks, tasks = s.roi.weeks_per_year, s.roi.tasks_per_week
    a = {"currency": "USD", "learners": int(enrolled.sum()), "loaded_hourly_cost": s.organisation.hourly_cost,
         "costs": {"learner_hours": s.roi.course_hours_per_learner, "mentor_hours": s.roi.mentor_hours,
                   **s.roi.programme_costs},
         "benefits": {"users_share": users.sum() / enrolled.sum(),
                      "hours_saved_per_user_week": sum(users[r] * tasks[r] * minutes[r] / 60 for r in users.index)
                      / users.sum(),
                      "working_weeks": weeks, "attribution": s.roi.attribution, "cost_per_error": s.roi.cost_per_error,
                      "errors_avoided_per_month": sum(users[r] * tasks[r] * weeks * max(failed[r, "pre"] - failed[r, "post"], 0)
                                                      for r in users.index) / 12}}
    chapter = chapter_method()["roi"](a)  # percent
    assert headline(page, "return on investment (Phillips)") == f"{round(chapter)}%"
    assert headline(page, "attribution to the training") == "50%"
    assert "not costed" not in page  # the chapter's five costs are all given


def test_level_one_headline_is_the_recommend_item(book_course, tmp_path):
    root, s, c = book_course
    page = roi.report(c, tmp_path, s).read_text()
    answers = reaction.collect(root / "_nbgrader" / "submitted")  # the survey files, read back independently
    rec = answers[answers["question"] == "I would recommend the course to a colleague."]["rating"]
    other = answers[answers["question"] == "The course was relevant to my work."]["rating"]
    assert (rec >= 4).mean() != pytest.approx((other >= 4).mean())  # the simulation makes them differ
    assert headline(page, "1 Reaction: would recommend") == f"{round(100 * (rec >= 4).mean())}% of {len(rec)}"


def test_headline_says_what_is_not_costed(book_course, tmp_path):
    root, s, c = book_course
    section = book_inputs()
    del section["roi"]["course_hours_per_learner"]
    del section["roi"]["programme_costs"]["model_usage"]
    s2 = settings.parse({**section, "measure": s.measure.model_dump()}, root=root)
    page = roi.report(c, tmp_path, s2).read_text()
    assert headline(page, "not costed, so the ROI is overstated") == "learners&#x27; time, model usage"


def test_small_samples_carry_a_caution(book_course, tmp_path):
    root, s, c = book_course
    assert "Small sample" not in roi.report(c, tmp_path / "big", s).read_text()
    page = roi.report(tiny_cohort(), tmp_path / "tiny", config(tmp_path, ROI)).read_text()
    assert "Caution.</b> Small sample: 4 learner(s) completed the course and 3 learner(s) have a timed pair" in page


def test_report_page_for_a_simulated_cohort(tmp_path):
    s = config(tmp_path, ROI)
    c = simulate.cohort(120, 8000, seed=5, settings=s)
    page = roi.report(c, tmp_path / "out", s).read_text()
    for text in ("Simulated data.", "return on investment (Phillips)", "1 Reaction", "2 Learning", "3 Behaviour",
                 "Timed exercise (not a level-4 business result)", "counterbalanced crossover", "Assumptions",
                 "Sensitivity", "payback", "attribution to the training"):
        assert text in page
    assert "4 Results" not in page
    assert page.count("data:image/png;base64,") == 4


def test_the_chapters_tables_never_show_minus_zero_and_use_a_colour_blind_safe_scale():
    """Run the chapter's own sensitivity cells on assumptions where one grid cell is an ROI of -0.3%."""
    import copy as copy_mod

    from _adoption import _chapter_cells, chapter_assumptions

    ns = {"pd": pd, "copy": copy_mod, **chapter_method()}
    a = chapter_assumptions()
    benefits = sum(ns["benefit_items"](a).values())
    others = sum(ns["cost_items"](a).values()) - a["costs"]["content_and_facilitation"]
    a["costs"]["content_and_facilitation"] = benefits / 0.997 - others  # ROI -0.3% at the assumed values
    assert ns["roi"](a) == pytest.approx(-0.3)
    ns["a"] = a
    grid_cell = next(c for c in _chapter_cells() if "grid = pd.DataFrame" in c)
    tornado_cell = next(c for c in _chapter_cells() if "tornado = one_way" in c)
    for cell in (grid_cell, tornado_cell):
        ns["costs"] = sum(ns["cost_items"](a).values())  # set by the chapter's ledger cell
        tree = ast.parse("\n".join(line for line in cell.splitlines() if not line.startswith(":")))
        body = [n for n in tree.body[:-1] if not (isinstance(n, ast.Expr) and "glue" in ast.unparse(n))]
        ns.update(glue=lambda *a, **k: None, Markdown=str)
        exec(compile(ast.Module(body=body, type_ignores=[]), "cell", "exec"), ns)
        page = eval(compile(ast.Expression(tree.body[-1].value), "cell", "eval"), ns).to_html()  # the shown table
        assert ">-0<" not in page and ">-0.0<" not in page
    assert ">0<" in ns["grid"].style.format(lambda v: f"{round(v)}").to_html()  # the -0.3 cell is there
    assert "RdYlGn" not in grid_cell and 'cmap="PuOr"' in grid_cell

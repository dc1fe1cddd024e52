"""The assessment notebooks: in step with their item bank, mapped to competencies, and graded by real nbgrader."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from adoptkit.measure import assessment, competency, reaction, xapi
from adoptkit.measure import cohort as cohort_mod

from _adoption import config

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("assessments", ROOT / "autograders" / "assessments.py")
bank = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bank)


def test_committed_notebooks_match_the_item_bank_and_have_no_outputs(tmp_path):
    written = bank.write_all(tmp_path)
    notebooks = [p for p in written if p.suffix == ".ipynb"]
    assert len(notebooks) == 2 * len(bank.ROLES)  # sales, marketing, hr: from content/ (tests/test_nocode_content.py)
    for path in written:
        committed = ROOT / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed} differs: run python autograders/assessments.py"
    for path in notebooks:
        nb = nbformat.read(str(ROOT / path.relative_to(tmp_path)), as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


def test_every_graded_cell_maps_to_a_competency_worth_four_points(tmp_path):
    s = config(tmp_path)
    cmap = assessment.competency_map(ROOT / "exercises")
    assessed = cmap[cmap["assignment"].str.match(assessment.ASSESSMENT)]
    # Every path with a competency check has both forms; support and leaders have none yet (their learners
    # are reported as not assessed), every other path of the course has one.
    with_checks = [r for r in s.roles if r not in ("support", "leaders")]
    assert set(assessed["assignment"]) == {f"{r}-assessment-{f}" for r in with_checks for f in bank.FORMS}
    assert set(assessed["competency"]) == set(s.competency.ids())
    for path in (ROOT / "exercises").glob("*-assessment-*/*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        graded = [c.metadata for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        per = {}
        for meta in graded:
            per[meta["adoptkit"]["competency"]] = per.get(meta["adoptkit"]["competency"], 0) + meta["nbgrader"]["points"]
        assert per == dict.fromkeys(s.competency.ids(), 4), path  # 4 points a competency: shares map onto levels 0-4
        assert nb.metadata["adoptkit"]["phase"] in ("pre", "post")
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"{path}: duplicate grade ids"


# --- real nbgrader ------------------------------------------------------------------------------------

NBGRADER_CONFIG = """
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "adoption-test"
c.CourseDirectory.source_directory = "exercises"
for step in ("release", "submitted", "autograded", "feedback", "solution"):
    setattr(c.CourseDirectory, f"{{step}}_directory", f"_nbgrader/{{step}}")
c.CourseDirectory.db_url = "sqlite:///{root}/_nbgrader/gradebook.db"
c.Execute.timeout = 120
"""


def _nbgrader(root: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # nbgrader runs `alembic`
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args,
                           f"--NbGrader.config_file={root / 'nbgrader_config.py'}"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _answer(release: Path, source: Path, competencies: set[str]) -> nbformat.NotebookNode:
    """A learner's work: the release notebook with the solutions of some competencies typed in."""
    nb = nbformat.read(str(release), as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(str(source), as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid.split("-")[0] in competencies:
            cell.source = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", solutions[gid])
    return nb


def _flag_grounding_faults(folder, name):
    """Part A done in part, through the widget: only the check's faults that count for grounding are flagged."""
    from nocode_harness import learner_part, spec

    from adoptkit.widgets import CheckWork

    part = next(p for p in spec(name)["parts"] if p["kind"] == "check")
    faults = {f for g in part["grades"] if g["competency"] == "grounding" for f in g["faults"]}
    work = CheckWork(learner_part(name, part["id"]), folder=folder)
    for s in part["sentences"]:
        if s["id"] in faults:
            work.flag(s["id"], s["fault"])


def _submit(root, student, name, competencies, part_a, extra=None):
    """Part B: the solutions of `competencies` typed in; Part A (no code): "all" right through the widgets, or
    "grounding" (only the check's grounding faults flagged)."""
    from nocode_harness import answer

    folder = root / "_nbgrader" / "submitted" / student / name
    folder.mkdir(parents=True)
    release = root / "_nbgrader" / "release" / name / f"{name}.ipynb"
    nbformat.write(_answer(release, root / "exercises" / name / f"{name}.ipynb", competencies), str(folder / release.name))
    if part_a == "all":
        answer(folder, name, student)
    else:
        _flag_grounding_faults(folder, name)
    (folder / "timestamp.txt").write_text("2026-03-02 10:00:00.000000 UTC")
    if extra:
        extra(folder)


@pytest.mark.slow
def test_real_nbgrader_gradebook_gives_levels_timings_statements_and_badges(tmp_path, monkeypatch):
    if not os.environ.get("ADOPTKIT_DATA_MIRROR"):
        pytest.skip("the assessment notebooks load real data: set ADOPTKIT_DATA_MIRROR (CI does)")
    root = tmp_path / "course"
    for name in ("engineering-assessment-pre", "engineering-assessment-post"):
        shutil.copytree(ROOT / "exercises" / name, root / "exercises" / name)
    (root / "_nbgrader").mkdir()
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=str(root)))
    for name in ("engineering-assessment-pre", "engineering-assessment-post"):
        _nbgrader(root, "generate_assignment", name, "--force")
    everything = set(bank.COMPETENCIES)

    def paired_and_reaction(folder):
        (folder / "timings").mkdir()
        (folder / "timings" / "summary.json").write_text(json.dumps({"task": "summary", "runs": {
            "without_ai": {"started": "x", "seconds": 600.0}, "with_ai": {"started": "y", "seconds": 240.0}}}))
        survey = reaction.survey(folder)
        for i in range(3):
            survey.answer(i, reaction.SCALE[4])

    # Three graded notebooks keep this end-to-end test short: alice partly before and fully after, carol
    # empty after, dave registered with nothing submitted.
    _submit(root, "alice", "engineering-assessment-pre", {"prompting", "privacy"}, "all")
    _submit(root, "alice", "engineering-assessment-post", everything, "all", paired_and_reaction)
    _submit(root, "carol", "engineering-assessment-post", set(), "grounding")
    (root / "students.csv").write_text("id,first_name,last_name\nalice,Alice,Adams\ncarol,Carol,Costa\n"
                                       "dave,Dave,Diaz\n")
    _nbgrader(root, "db", "student", "import", str(root / "students.csv"))
    for name in ("engineering-assessment-pre", "engineering-assessment-post"):
        _nbgrader(root, "autograde", name)

    s = config(root, {"measure": {"usage_log": "no-log-yet.db"}})
    raw, students = assessment.gradebook_scores(s.measure.gradebook or cohort_mod.gradebook_url(s))
    assert raw.groupby(["learner", "assignment"])["max_score"].sum().eq(24).all()  # hidden tests restored
    c = cohort_mod.load(s)
    assert any("no usage data" in n for n in c.notes)
    lv = competency.levels(c.assessed, s.competency).set_index(["learner", "phase", "competency"])["level"]
    assert all(lv[("alice", "post", k)] == 4 for k in everything)
    assert lv[("carol", "post", "grounding")] == 1  # Part A's grounding point only: 1 of 4 points
    assert all(lv[("carol", "post", k)] == 0 for k in everything - {"grounding"})
    assert lv[("alice", "pre", "prompting")] == 4 and lv[("alice", "pre", "coding")] == 1
    table = competency.per_learner(competency.levels(c.assessed, s.competency), c.roster, s.competency)
    assert table.loc["dave", "assessed"] == "no submissions" and table.loc["alice", "role"] == "engineering"
    assert c.roster.set_index("learner").loc["alice", "name"] == "Alice Adams"
    assert competency.report(c, tmp_path / "reports", s).exists()
    # Kit records from the real submissions folder: the paired timing and the survey
    assert c.timings.groupby("mode")["seconds"].sum().to_dict() == {"with_ai": 240.0, "without_ai": 600.0}
    assert c.reactions["rating"].tolist() == [5, 5, 5]
    stmts = xapi.statements(c.scores, c.roster, s)
    xapi.validate(stmts)
    assert len(stmts) == 3
    # Badges from real facts
    from adoptkit.adoption_cli import badge_facts
    from adoptkit.engage import badges

    monkeypatch.setenv(badges.KEY_ENV, str(badges.keygen(tmp_path / "key.pem")))
    awards = badges.issue_all(badge_facts(c, s), {"alice": "Alice Adams"}, tmp_path / "badges", s, pdf=False)
    assert sorted((a.learner, a.badge) for a in awards) == [("alice", "ai-practitioner"), ("alice", "safe-ai-user")]


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own API, known
def test_gradebook_scores_are_nbgraders_own(tmp_path, monkeypatch):
    """The plain SQL reads the score nbgrader itself gives each grade: manual over automatic, plus extra
    credit, 0 when ungraded; names and submission times as nbgrader stores them."""
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # `alembic`
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("sales-assessment-post")
        gb.add_notebook("nb", "sales-assessment-post")
        for cell, points in (("auto", 2), ("manual", 3), ("extra", 1), ("ungraded", 4)):
            gb.add_grade_cell(cell, "nb", "sales-assessment-post", max_score=points, cell_type="code")
        gb.add_student("ana", first_name="Ana", last_name="Lima")
        gb.add_student("ben")  # no name: the id stands in
        for student in ("ana", "ben"):
            gb.add_submission("sales-assessment-post", student)
        for student, cell, auto, manual, extra in (("ana", "auto", 2, None, None), ("ana", "manual", 1, 2.5, None),
                                                   ("ana", "extra", 0, None, 0.5), ("ben", "auto", 1, None, None)):
            grade = gb.find_grade(cell, "nb", "sales-assessment-post", student)
            grade.auto_score, grade.manual_score, grade.extra_credit = auto, manual, extra
        gb.db.commit()
        expected = {(g.student.id, g.cell.name): g.score for g in gb.db.query(type(grade)).all()}
        totals = {s: gb.find_submission("sales-assessment-post", s).score for s in ("ana", "ben")}
    scores, students = assessment.gradebook_scores(url)
    got = scores.set_index(["learner", "item"])["score"].to_dict()
    assert got == expected and len(got) == 8
    assert got[("ana", "manual")] == 2.5 and got[("ana", "extra")] == 0.5 and got[("ben", "ungraded")] == 0
    assert scores.groupby("learner")["score"].sum().to_dict() == totals
    assert set(scores["max_score"]) == {1.0, 2.0, 3.0, 4.0} and str(scores["submitted"].dtype).endswith("UTC]")
    assert students.set_index("learner")["name"].to_dict() == {"ana": "Ana Lima", "ben": "ben"}


def test_unreadable_gradebooks_and_source_notebooks_are_clear_errors(tmp_path):
    with pytest.raises(assessment.GradebookError, match="no gradebook at .*--simulate"):
        assessment.gradebook_scores(f"sqlite:///{tmp_path / 'none.db'}")
    (tmp_path / "other.db").write_bytes(b"")
    import sqlite3

    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE t (a)")
    with pytest.raises(assessment.GradebookError, match="cannot read the gradebook .*no such table.*nbgrader's"):
        assessment.gradebook_scores(f"sqlite:///{tmp_path / 'other.db'}")
    (tmp_path / "src" / "quiz").mkdir(parents=True)
    (tmp_path / "src" / "quiz" / "quiz.ipynb").write_text('{"cells": [')
    with pytest.raises(assessment.GradebookError, match=r"quiz\.ipynb is not a readable notebook"):
        assessment.competency_map(tmp_path / "src")

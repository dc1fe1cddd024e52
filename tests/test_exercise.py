"""The sales-crm exercise: its source passes its own tests, its hidden tests catch plausible wrong
answers that pass the visible ones, and real nbgrader releases it and grades a cohort.

The data tests need the mirror (`ADOPTKIT_DATA_MIRROR`, e.g. ../shared/data) or a filled cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest


from nbgrader_harness import HIDDEN, ROOT, by_id as _by_id, execute as _execute, fill as _fill
from nbgrader_harness import grades as _harness_grades, nbgrader as _nbgrader
from nbgrader_harness import solutions as _solutions

ASSIGNMENT = "sales-crm"
SOURCE = ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
POINTS = {"test_with_narrative": 2, "test_rfm_table": 3, "test_win_back_list": 2,
          "test_classify_product": 3, "test_label_accuracy": 2}

# Plausible wrong answers that a learner could write: each passes the visible tests of its part and
# must fail the hidden ones.
WRONG = {
    # forgets that a narrative of spaces is no narrative
    "with_narrative": '''
def with_narrative(complaints):
    return complaints.dropna(subset=["Consumer complaint narrative"])
''',
    # counts invoice lines, not invoices (and keeps cancellations)
    "rfm_table": '''
def rfm_table(transactions, as_of):
    lines = transactions.dropna(subset=["CustomerID"])
    lines = lines.assign(spend=lines["Quantity"] * lines["UnitPrice"])
    per_customer = lines.groupby("CustomerID")
    return pd.DataFrame({"recency": (as_of - per_customer["InvoiceDate"].max()).dt.days,
                         "frequency": per_customer["InvoiceNo"].count(),
                         "monetary": per_customer["spend"].sum()})
''',
    # gets both boundaries wrong (above the percentile only; 90 days counts as quiet)
    "win_back_list": '''
def win_back_list(rfm, n=20):
    quiet = rfm[(rfm["monetary"] > rfm["monetary"].quantile(0.75)) & (rfm["recency"] >= 90)]
    return quiet.sort_values("monetary", ascending=False).head(n).index.tolist()
''',
    # trusts the model's reply as it comes
    "classify_product": '''
def classify_product(narrative, client, model=MODEL):
    prompt = "Which product is this complaint about? One of: " + ", ".join(PRODUCT_LABELS) + "\\n\\n" + narrative
    response = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                              temperature=0)
    return response.choices[0].message.content.strip()
''',
    # zip silently drops the rows of the longer list
    "label_accuracy": '''
def label_accuracy(predicted, actual):
    return sum(p == a for p, a in zip(predicted, actual)) / len(predicted)
''',
}
# A wrong answer the visible tests already catch: a percentage instead of a share.
VISIBLY_WRONG_ACCURACY = '''
def label_accuracy(predicted, actual):
    return 100 * sum(p == a for p, a in zip(predicted, actual)) / len(actual)
'''








def _run(code: str, ns: dict) -> None:
    exec(compile(code, "<exercise cell>", "exec"), ns)


# ---- the source notebook ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE, as_version=4)


def test_source_is_committed_clean_and_locked(source):
    nbformat.validate(source)
    for cell in source.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} has outputs"
    cells = _by_id(source)
    for gid, points in POINTS.items():
        meta = cells[gid].metadata
        assert meta["nbgrader"] == {"grade": True, "grade_id": gid, "locked": True, "points": points,
                                    "schema_version": 3, "solution": False, "task": False}
        assert meta["deletable"] is False and meta["editable"] is False
        assert f"({points} points)" in cells[gid].source.splitlines()[0], f"{gid}: no point value in its header"
        assert "### BEGIN HIDDEN TESTS" in cells[gid].source, f"{gid} has no hidden tests"
    prompts = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
    assert "hidden tests" in prompts
    reflection = cells["reflection"].metadata["nbgrader"]
    assert reflection["solution"] and reflection["grade"] and not reflection["locked"]
    total = sum(POINTS.values()) + reflection["points"]
    assert f"{total} points" in cells["intro"].source and f"{sum(POINTS.values())} autograded" in cells["intro"].source
    # Every cell a learner must not change is locked, and says so or is a prompt.
    for cell in source.cells:
        meta = cell.metadata["nbgrader"]
        if meta["locked"]:
            assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, cell.id
            if cell.cell_type == "code":
                assert "Just run this cell" in cell.source.splitlines()[0], cell.id


@pytest.fixture(scope="module")
def solved(source):
    """A namespace with the setup cell and every correct part run, with all tests, hidden ones included."""
    ns: dict = {}
    cells = _by_id(source)
    _run(cells["setup"].source, ns)
    for part, code in _solutions(source).items():
        if part != "reflection":
            _run(code, ns)
            _run(cells[f"test_{part}"].source, ns)  # raises if the source fails its own (hidden) tests
    return ns


@pytest.mark.parametrize("part", list(WRONG))
def test_hidden_tests_catch_a_wrong_answer_that_passes_the_visible_ones(part, source, solved):
    test_cell = _by_id(source)[f"test_{part}"].source
    ns = dict(solved)
    _run(WRONG[part], ns)
    _run(HIDDEN.sub("", test_cell), ns)  # the visible tests, as released: must pass
    with pytest.raises(AssertionError) as caught:
        _run(test_cell, ns)
    assert str(caught.value).strip(), "the hidden test that failed should tell the learner why"


def test_visible_tests_catch_a_percentage(source, solved):
    ns = dict(solved)
    _run(VISIBLY_WRONG_ACCURACY, ns)
    with pytest.raises(AssertionError, match="2 of the 4 labels are right"):
        _run(HIDDEN.sub("", _by_id(source)["test_label_accuracy"].source), ns)


@pytest.mark.slow
def test_source_passes_nbval_lax_and_nbgrader_validate():
    """The same commands an instructor runs; both execute the notebook in a real kernel."""
    nbval = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", f"exercises/{ASSIGNMENT}/", "-q",
                            "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert nbval.returncode == 0, nbval.stdout[-3000:] + nbval.stderr[-3000:]
    assert re.search(r"\b\d+ passed\b", nbval.stdout) and "failed" not in nbval.stdout, nbval.stdout[-500:]
    validate = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(SOURCE)],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert validate.returncode == 0 and "passes all the tests" in validate.stdout, validate.stdout + validate.stderr


# ---- the nbgrader configuration --------------------------------------------------------------------

def _load_config(monkeypatch, **env):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # the config may prepend to PATH; restore it
    for key in ("ADOPTKIT_COURSE_ROOT", "ADOPTKIT_GRADEBOOK_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograders")).load_config()


def test_config_puts_the_course_at_the_repo_and_steps_under_nbgrader(monkeypatch):
    c = _load_config(monkeypatch)
    d = c.CourseDirectory
    assert d.root == str(ROOT) and d.source_directory == "exercises"
    for step in ("release", "submitted", "autograded", "feedback", "solution", "source_with_tests"):
        assert d[f"{step}_directory"] == f"_nbgrader/{step}"
    assert d.db_url == f"sqlite:///{ROOT / '_nbgrader' / 'gradebook.db'}"
    assert (ROOT / "_nbgrader").is_dir()
    assert c.Execute.timeout > 30
    assert Path(sys.executable).parent.as_posix() in os.environ["PATH"].split(os.pathsep)


def test_config_follows_the_environment(monkeypatch, tmp_path):
    c = _load_config(monkeypatch, ADOPTKIT_COURSE_ROOT=str(tmp_path))
    assert c.CourseDirectory.root == str(tmp_path.resolve())
    assert c.CourseDirectory.db_url == f"sqlite:///{tmp_path.resolve() / '_nbgrader' / 'gradebook.db'}"
    assert (tmp_path / "_nbgrader").is_dir(), "nbgrader does not create the gradebook's folder; the config must"
    c = _load_config(monkeypatch, ADOPTKIT_GRADEBOOK_URL="postgresql+psycopg2://grader@db/course")
    assert c.CourseDirectory.db_url == "postgresql+psycopg2://grader@db/course"


# ---- release and autograde through real nbgrader -----------------------------------------------------





@pytest.fixture(scope="module")
def graded(tmp_path_factory, source):
    """A temporary copy of the course: released, three submissions put in, autograded (all real nbgrader)."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "exercises", course / "exercises")
    generate = _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    assert generate.returncode == 0, generate.stderr[-3000:]
    release_path = course / "_nbgrader" / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    release = nbformat.read(release_path, as_version=4)

    wrong = {**_solutions(source), "rfm_table": WRONG["rfm_table"], "classify_product": WRONG["classify_product"],
             "label_accuracy": VISIBLY_WRONG_ACCURACY}
    del wrong["reflection"]  # left as released: "YOUR ANSWER HERE"
    submissions = {"correct": _fill(release, _solutions(source)), "wrong": _fill(release, wrong)}
    for student, nb in submissions.items():
        folder = course / "_nbgrader" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    # "broken" sorts first, so nbgrader meets it before the others.
    broken = course / "_nbgrader" / "submitted" / "broken" / ASSIGNMENT
    broken.mkdir(parents=True)
    (broken / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [ this is not JSON', encoding="utf-8")

    autograde = _nbgrader(course, "autograde", ASSIGNMENT)
    return SimpleNamespace(course=course, release=release, release_path=release_path,
                           submissions=submissions, autograde=autograde)






@pytest.mark.slow
def test_release_holds_no_solutions_and_no_hidden_tests(graded, source):
    text = graded.release_path.read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    released = _by_id(graded.release)
    for gid, answer in _solutions(source).items():
        lines = [ln.strip() for ln in answer.splitlines() if len(ln.strip()) > 25 and not ln.strip().startswith("def ")]
        assert lines and not [ln for ln in lines if ln in text], f"{gid}: solution text leaked into the release"
        stub = "YOUR ANSWER HERE" if gid == "reflection" else "raise NotImplementedError()"
        assert stub in released[gid].source
    for gid in POINTS:
        hidden = HIDDEN.search(_by_id(source)[gid].source).group(0)
        leaked = [ln.strip() for ln in hidden.splitlines()[1:-1] if len(ln.strip()) > 25 and ln.strip() in text]
        assert not leaked, f"{gid}: hidden test lines in the release: {leaked[:3]}"
        assert released[gid].metadata["nbgrader"]["locked"] and released[gid].metadata["editable"] is False


@pytest.mark.slow
def test_release_fails_its_own_visible_tests(graded, tmp_path):
    errors = _execute(graded.release, tmp_path)
    for gid in POINTS:
        assert errors[gid], f"{gid} passed on the unanswered release"
    assert errors["test_with_narrative"][0].ename == "NotImplementedError"


@pytest.mark.slow
def test_wrong_answers_pass_visible_tests_in_the_release(graded, tmp_path):
    """The learner who wrote WRONG answers saw green visible tests in their own notebook."""
    errors = _execute(graded.submissions["wrong"], tmp_path)
    assert not errors["test_rfm_table"] and not errors["test_classify_product"]
    assert not errors["test_with_narrative"] and not errors["test_win_back_list"]
    assert errors["test_label_accuracy"], "the percentage should fail the visible test"


@pytest.mark.slow
def test_autograde_scores_correct_wrong_and_broken(graded):
    ag = graded.autograde
    grades = _harness_grades(graded.course, ASSIGNMENT, ("correct", "wrong", "broken"))

    correct = grades["correct"]
    assert correct.auto == {**POINTS, "reflection": None}, ag.stderr[-3000:]
    assert correct.code_score == correct.max_code_score == sum(POINTS.values())
    assert correct.needs_manual_grade  # the reflection waits for the instructor

    wrong = grades["wrong"]
    # with_narrative and win_back_list right; rfm_table and classify_product fail only hidden tests;
    # label_accuracy fails a visible one; the untouched reflection scores 0 without a manual grade.
    assert wrong.auto == {"test_with_narrative": 2, "test_rfm_table": 0, "test_win_back_list": 2,
                          "test_classify_product": 0, "test_label_accuracy": 0, "reflection": 0}
    assert wrong.code_score == 4 and wrong.max_code_score == 12

    # Invalid JSON, with the course's hardened config: a clear per-student error, the others graded, exit
    # 1 at the end. The broken submission is left in the gradebook with no autograde score (every cell
    # awaits a manual grade) and no autograded notebook.
    assert ag.returncode == 1
    assert "There was an error processing assignment 'sales-crm' for student 'broken'" in ag.stderr
    assert "sales-crm.ipynb is not valid JSON (line 1" in ag.stderr
    broken_at = ag.stderr.index("submitted/broken/")
    assert broken_at < ag.stderr.index("submitted/correct/") < ag.stderr.index("submitted/wrong/")
    broken = grades["broken"]
    assert broken is not None and broken.code_score == 0
    assert set(broken.auto.values()) <= {None, 0.0}  # stock nbgrader leaves None; the hardened grader records 0
    assert not (graded.course / "_nbgrader" / "autograded" / "broken").exists()
    for student in ("correct", "wrong"):
        done = nbformat.read(graded.course / "_nbgrader" / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                             as_version=4)
        cells = _by_id(done)
        assert "### BEGIN HIDDEN TESTS" in cells["test_rfm_table"].source  # restored from the gradebook
        # The exploration cell calls no model while grading (nbgrader sets NBGRADER_EXECUTION). Under load
        # the kernel may send the printed line in more than one stream piece: compare the joined text.
        assert all(o.output_type == "stream" for o in cells["try_it"].outputs), cells["try_it"].outputs
        assert "".join(o.get("text", "") for o in cells["try_it"].outputs) == "Skipped while grading.\n"


@pytest.mark.slow
def test_a_wrong_invocation_fails_loudly(graded):
    """`--config` is not an nbgrader option: nbgrader ignores it, looks for the stock layout, and fails."""
    env = {k: v for k, v in os.environ.items() if k != "ADOPTKIT_COURSE_ROOT"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
                           "--config", str(ROOT / "autograders" / "nbgrader_config.py")],
                          cwd=graded.course, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Unrecognized alias: 'config'" in proc.stderr and "No notebooks were matched" in proc.stderr
    assert "[adoptkit] nbgrader course root" not in proc.stderr

"""The sales path: its page, its new chapters (account priorities, follow-ups) and their glued numbers, and the
quiz and teach-back released and autograded by real nbgrader in one temporary course.

The sales-crm assignment has its own tests (test_exercise.py); the crm-automation chapter is in the toc, so
test_book runs it. The data tests need the mirror (`ADOPTKIT_DATA_MIRROR`, e.g. ../shared/data) or a filled cache.
"""

from __future__ import annotations

import ast
import re
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
import test_book  # the book's own structure and nbval checks, reused for this path's chapters
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient
from nbgrader_harness import HIDDEN, ROOT, by_id, course_copy, execute, grades, nbgrader, submit
from nbgrader_harness import quiz_options, source, write_quiz_answers

from adoptkit.engage import teachback

PATH = "book/roles/sales"
CHAPTERS = [f"{PATH}/{name}" for name in ("crm-automation", "account-priorities", "follow-ups")]
NEW = CHAPTERS[1:]
NOT_IN_TOC = [c for c in CHAPTERS if c not in test_book.toc_files()]
CRM, QUIZ, TEACHBACK = "sales-crm", "sales-quiz", "sales-teachback"
EXERCISES = ROOT / "exercises"
QUIZ_IDS = [f"q{i}" for i in range(1, 7)]
REQUIREMENTS = ["title", "sections", "filled", "objectives", "example", "exercise", "sources", "length"]
CHECK_IDS = [f"check_{name}" for name in REQUIREMENTS]


def _quiz_key(quiz_nb) -> list[str]:
    """The answer key, read from the hidden tests of the source."""
    cells = by_id(quiz_nb)
    return [ast.literal_eval(re.search(r"quiz\.answers\[\d\] == ('.*?'|\".*?\"),", cells[q].source).group(1))
            for q in QUIZ_IDS]


def _answers_file(folder, answers) -> None:
    write_quiz_answers(folder, QUIZ, answers)


def good_lesson():
    """A filled teach-back lesson, as a learner of this path might write it."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        md("# Guardrails for AI-drafted follow-ups"),
        md("## Who this is for\n\nAccount managers and customer-care staff who answer complaints and want a "
           "model to draft the first version. You should be able to run a notebook and read a short function."),
        md("## What you will be able to do\n\n- list what every follow-up must contain\n"
           "- write a check that stops a draft promising a refund nobody approved\n"
           "- send a draft to a person with the reason it was stopped"),
        md("## Worked example\n\nWe take real complaints from the CFPB's published data and check a draft "
           "against the facts of its record: the reference number, the date and the product. A draft that "
           "leaves one out is stopped, with the missing fact named."),
        code("from adoptkit import data\ncomplaints = data.load('cfpb_complaints')\n"
             "case = complaints.iloc[0]\ndraft = f\"Thank you for complaint {case['Complaint ID']}.\"\n"
             "print(str(case['Complaint ID']) in draft)\nprint(complaints.attrs['citation'])"),
        md("## Try it yourself\n\nExercise: write a draft that promises a refund within five days, and a check "
           "that stops it. Then make sure a polite draft without promises still passes your check."),
        code("# your check here"),
        md("## Common mistakes\n\nTrusting a fluent draft because it reads well; checking only for the word "
           "refund and missing credits or deadlines; and stopping the customer's own quoted words without "
           "telling the reviewer why the draft was stopped."),
        md("## Sources\n\nData: CFPB Consumer Complaint Database, https://www.consumerfinance.gov/data-research/"
           "consumer-complaints/ (the citation line printed above). The sales path's chapter on follow-ups."),
    ])


# ---- the path page and the chapters ---------------------------------------------------------------------

def test_path_page_lists_every_chapter_and_assignment_and_states_time_and_prerequisites():
    text = (ROOT / PATH / "index.md").read_text()
    for heading in ("## What you will be able to do", "## Chapters", "## The graded exercise", "## The quiz",
                    "## Teach it back", "## Time", "## Prerequisites"):
        assert heading in text
    for chapter in CHAPTERS:
        assert "{doc}`" + chapter.rsplit("/", 1)[1] + "`" in text
    for assignment in (CRM, QUIZ, TEACHBACK):
        assert f"exercises/{assignment}/" in text and (EXERCISES / assignment).is_dir()
    assert "Coming in later versions" not in text


@pytest.mark.parametrize("chapter", NEW)
def test_chapter_structure(chapter):
    test_book.test_chapter_structure(chapter)  # learning objectives first, hidden preamble, summary, exercises


@pytest.mark.parametrize("chapter", NEW)
def test_chapter_says_which_model_answers_cites_its_data_and_labels_hand_written_text(chapter):
    text = (ROOT / f"{chapter}.md").read_text()
    assert "print(llm.banner())" in text
    assert text.count("cite(") >= 3  # adoptkit.site.cite under each table of data
    prose = " ".join(text.split())
    assert '"as a model might write"' in prose and "not the output of any model" in prose
    assert not re.search(r"`\{glue", text), "a glue role inside inline code is not rendered"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", NOT_IN_TOC)
def test_chapter_runs_under_nbval(chapter, tmp_path):
    test_book.test_chapter_runs_under_nbval(chapter, tmp_path)


@pytest.fixture(scope="module")
def chapter_outputs(tmp_path_factory):
    """Each new chapter executed as myst-nb reads it: its glued values (text) and all its outputs."""
    out = {}
    for chapter in NEW:
        nb = read_myst_markdown_notebook((ROOT / f"{chapter}.md").read_text())
        folder = tmp_path_factory.mktemp(chapter.rsplit("/", 1)[1])
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        glued = {o["metadata"]["scrapbook"]["name"]: ast.literal_eval(o["data"]["application/papermill.record/text/plain"])
                 for o in outputs if "scrapbook" in o.get("metadata", {})}
        text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                         + str(o.get("data", {}).get("text/html", "")) for o in outputs)
        out[chapter.rsplit("/", 1)[1]] = SimpleNamespace(glued=glued, text=text)
    return out


def _account_numbers() -> dict:
    """The account-priorities chapter's main numbers, computed here independently of the chapter."""
    from adoptkit.data import load

    retail = load("online_retail")
    keep = (~retail["InvoiceNo"].str.startswith("C") & retail["CustomerID"].notna()
            & (retail["Quantity"] > 0) & (retail["UnitPrice"] > 0))
    sales = retail[keep]
    per = sales.groupby("CustomerID").agg(last=("InvoiceDate", "max"), orders=("InvoiceNo", "nunique"))
    days = (sales["InvoiceDate"].max().normalize() + pd.Timedelta(days=1) - per["last"]).dt.days  # whole days elapsed
    # R of 1 or 2: the two fifths of accounts with the most days since their last order (ties by row order)
    stale = days.rank(method="first", ascending=False) <= len(per) * 2 / 5
    return {"ap_n_lines": len(retail), "ap_n_sales": int(keep.sum()),
            "ap_n_no_customer": int(retail["CustomerID"].isna().sum()), "ap_n_accounts": len(per),
            "ap_single_share": float((per["orders"] == 1).mean()),
            "ap_n_at_risk": int((stale & (per["orders"] >= 3)).sum())}


@pytest.mark.slow
def test_account_priorities_glues_numbers_computed_from_the_data(chapter_outputs):
    got = chapter_outputs["account-priorities"]
    expected = _account_numbers()
    assert {k: got.glued[k] for k in expected} == pytest.approx(expected)
    assert got.glued["ap_n_calls"] == 10 and 0 <= got.glued["ap_n_accepted"] <= 10
    assert 0 < got.glued["ap_at_risk_share"] < 1 and 0 < got.glued["ap_calls_share"] <= 1
    # the hand-written summary with one wrong number is caught, the faithful one is not
    assert "faithful          unsupported: none" in got.text
    assert re.search(r"one number wrong  unsupported: \[\d+\.0\]", got.text)


@pytest.mark.slow
def test_follow_ups_guardrails_and_redaction(chapter_outputs):
    got = chapter_outputs["follow-ups"]
    n = got.glued["fu_n_cases"]
    assert n == 12 and 0 <= got.glued["fu_free_ok"] <= n and 0 <= got.glued["fu_slot_ok"] <= n
    # the synthetic note holds an email, a phone number, a test card number and a name (found by the name model)
    assert got.glued["fu_redacted_types"] == "CREDIT_CARD, EMAIL_ADDRESS, PERSON, PHONE_NUMBER"
    assert got.glued["fu_name_kept"] == "The customer's name went too."
    assert "jordan.avery@example.com" not in got.text.split("received:", 1)[1]
    assert "gateway removed: CREDIT_CARD=1,EMAIL_ADDRESS=1,PERSON=1,PHONE_NUMBER=1" in got.text
    # the hand-written drafts: the complete one passes, the others are stopped with their reasons
    assert re.search(r"<td>complete</td>\s*<td>none</td>", got.text)
    assert "offers a refund: 'refund'" in got.text and "unfinished: '[customer name]'" in got.text


# ---- the sources ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,notebook,points", [
    (QUIZ, QUIZ, dict.fromkeys(QUIZ_IDS, 1)),
    (TEACHBACK, "checks", dict.fromkeys(CHECK_IDS, 1)),
])
def test_sources_are_committed_clean_and_locked(name, notebook, points):
    nb = source(name, notebook)
    nbformat.validate(nb)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    cells = by_id(nb)
    for gid, value in points.items():
        meta = cells[gid].metadata
        assert meta["nbgrader"] == {"grade": True, "grade_id": gid, "locked": True, "points": value,
                                    "schema_version": 3, "solution": False, "task": False}
        assert meta["deletable"] is False and meta["editable"] is False
        assert "nbval-skip" in meta["tags"] or "raises-exception" in meta["tags"]  # the nbval run over exercises/
        assert re.search(rf"\({value} points?\)", cells[gid].source.splitlines()[0]), f"{gid}: no points in its header"
    for cell in nb.cells:
        if cell.metadata["nbgrader"]["locked"] and cell.cell_type == "code" and not cell.metadata["nbgrader"]["grade"]:
            assert "Just run this cell" in cell.source.splitlines()[0], cell.id
    intro = cells["intro"].source
    assert f"{sum(points.values())} points" in intro and "Sales path" in intro


def test_quiz_key_is_hidden_and_names_one_option_of_each_question():
    nb = source(QUIZ)
    options = quiz_options(nb)
    key = _quiz_key(nb)
    assert len(options) == len(key) == len(QUIZ_IDS)
    assert all(answer in opts for answer, opts in zip(key, options))
    assert len({opts.index(answer) for answer, opts in zip(key, options)}) > 2, "the right answer moves around"
    for gid in QUIZ_IDS:
        visible = HIDDEN.sub("", by_id(nb)[gid].source)
        assert "==" not in visible and "is not None" in visible, f"{gid}: the visible test only checks that it was answered"
    assert 'Quiz("sales-quiz", QUESTIONS)' in by_id(nb)["quiz"].source
    assert not list((EXERCISES / QUIZ).glob("quiz-answers*")), "an answers folder in the source would be released"


def test_teachback_lesson_is_the_template_and_the_checks_cover_every_requirement(tmp_path):
    lesson = nbformat.read(EXERCISES / TEACHBACK / "lesson.ipynb", as_version=4)
    template = teachback.template("x", "sales")
    assert [c.cell_type for c in lesson.cells] == [c.cell_type for c in template.cells]
    assert [c.source for c in lesson.cells[1:]] == [c.source for c in template.cells[1:]]
    assert lesson.cells[0].source.startswith(f"# {teachback.PLACEHOLDER}: a lesson on ")
    assert "sales path" in lesson.cells[0].source
    assert all(not c.get("outputs") for c in lesson.cells)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("")]), tmp_path / "empty.ipynb")
    missed = set(teachback.problems(tmp_path / "empty.ipynb")) | set(teachback.problems(EXERCISES / TEACHBACK / "lesson.ipynb"))
    assert missed == set(REQUIREMENTS)
    checks = by_id(source(TEACHBACK, "checks"))
    assert ast.literal_eval(re.search(r"^REQUIREMENTS = (\[.*\])$", checks["setup"].source, re.M).group(1)) == REQUIREMENTS
    assert "submitted" in checks["setup"].source  # reads the submitted lesson while grading (order is not fixed)
    assert "peer" in checks["review"].source.lower()


# ---- sources pass their own tests; release; autograde (real nbgrader, one course) ------------------------

@pytest.mark.slow
def test_quiz_and_teachback_sources_pass_their_own_tests_with_a_learners_answers(tmp_path):
    quiz = source(QUIZ)
    (tmp_path / "quiz").mkdir()
    _answers_file(tmp_path / "quiz", _quiz_key(quiz))
    errors = execute(quiz, tmp_path / "quiz")  # the source, hidden tests included
    assert all(not errors[q] for q in QUIZ_IDS), {q: e[0].evalue for q, e in errors.items() if e}

    (tmp_path / "tb").mkdir()
    nbformat.write(good_lesson(), tmp_path / "tb" / "lesson.ipynb")
    errors = execute(source(TEACHBACK, "checks"), tmp_path / "tb")
    assert all(not errors[c] for c in CHECK_IDS), {c: e[0].evalue for c, e in errors.items() if e}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One temporary course: the quiz and the teach-back released, three submissions to each, one autograde."""
    course = course_copy(tmp_path_factory.mktemp("sales-course"))
    names = (QUIZ, TEACHBACK)
    generate = nbgrader(course, "generate_assignment", "sales-[qt]*", "--force")  # both, in one run
    assert generate.returncode == 0, generate.stderr[-3000:]
    released = {name: course / "_nbgrader" / "release" / name for name in names}
    assert all(folder.is_dir() for folder in released.values()), generate.stderr[-3000:]

    # Quiz: every answer right; four right and two wrong; every question answered (visible tests pass), all wrong.
    quiz_release = nbformat.read(released[QUIZ] / f"{QUIZ}.ipynb", as_version=4)
    key = _quiz_key(source(QUIZ))
    wrong = [next(o for o in opts if o != k) for k, opts in zip(key, quiz_options(quiz_release))]
    quiz_answers = {"correct": key, "partly": key[:2] + wrong[2:4] + key[4:], "hidden": wrong}
    for student, answers in quiz_answers.items():
        _answers_file(submit(course, QUIZ, student, {f"{QUIZ}.ipynb": quiz_release}), answers)

    # Teach-back: a filled lesson; one with its sources and exercise left as TODO; the template as released.
    checks_release = nbformat.read(released[TEACHBACK] / "checks.ipynb", as_version=4)
    template = nbformat.read(released[TEACHBACK] / "lesson.ipynb", as_version=4)
    partly = good_lesson()
    partly.cells[-1].source = f"## Sources\n\n{teachback.PLACEHOLDER}: links."
    partly.cells[5].source = f"## Try it yourself\n\n{teachback.PLACEHOLDER}: a task."
    for student, lesson in {"correct": good_lesson(), "partly": partly, "hidden": template}.items():
        submit(course, TEACHBACK, student, {"checks.ipynb": checks_release, "lesson.ipynb": lesson})

    autograde = nbgrader(course, "autograde", "sales-[qt]*")
    scores = {name: grades(course, name, ("correct", "partly", "hidden")) for name in names}
    return SimpleNamespace(course=course, released=released, autograde=autograde, scores=scores, template=template)


@pytest.mark.slow
def test_releases_hold_no_hidden_tests_and_no_answer_key(graded):
    for name, folder in graded.released.items():
        for path in folder.glob("*.ipynb"):
            text = path.read_text(encoding="utf-8")
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
                assert marker not in text, f"{name}/{path.name}: {marker}"
    quiz_text = (graded.released[QUIZ] / f"{QUIZ}.ipynb").read_text(encoding="utf-8")
    assert not re.search(r"quiz\.answers\[\d\] ==", quiz_text), "the quiz's answer key is in the release"
    assert not list(graded.released[QUIZ].rglob("*.json")), "no answers file may ship with the quiz"
    assert "TODO" in (graded.released[TEACHBACK] / "lesson.ipynb").read_text(encoding="utf-8")


@pytest.mark.slow
def test_releases_fail_their_own_visible_tests(graded, tmp_path):
    errors = execute(nbformat.read(graded.released[QUIZ] / f"{QUIZ}.ipynb", as_version=4), tmp_path)
    assert all(errors[q] and "answer question" in errors[q][0].evalue for q in QUIZ_IDS)
    folder = tmp_path / "teachback"
    folder.mkdir()
    nbformat.write(graded.template, folder / "lesson.ipynb")
    errors = execute(nbformat.read(graded.released[TEACHBACK] / "checks.ipynb", as_version=4), folder)
    assert [c for c in CHECK_IDS if not errors[c]] == ["check_sections"], "the template keeps every section, nothing else"


@pytest.mark.slow
def test_autograde_scores_the_quiz_from_the_saved_answers(graded):
    assert graded.autograde.returncode == 0, graded.autograde.stderr[-3000:]
    s = graded.scores[QUIZ]
    assert s["correct"].auto == dict.fromkeys(QUIZ_IDS, 1)
    assert s["correct"].code_score == s["correct"].max_code_score == 6 and not s["correct"].needs_manual_grade
    assert s["partly"].auto == {"q1": 1, "q2": 1, "q3": 0, "q4": 0, "q5": 1, "q6": 1}
    assert s["partly"].code_score == 4
    assert s["hidden"].auto == dict.fromkeys(QUIZ_IDS, 0)  # every question answered, every answer wrong


@pytest.mark.slow
def test_autograde_scores_each_teachback_requirement(graded):
    assert graded.autograde.returncode == 0, graded.autograde.stderr[-3000:]
    s = graded.scores[TEACHBACK]
    assert s["correct"].auto == dict.fromkeys(CHECK_IDS, 1) and s["correct"].code_score == 8
    assert s["partly"].auto == {**dict.fromkeys(CHECK_IDS, 1), "check_filled": 0, "check_exercise": 0,
                                "check_sources": 0}
    assert s["partly"].code_score == 5
    assert s["hidden"].auto == {**dict.fromkeys(CHECK_IDS, 0), "check_sections": 1}  # the untouched template

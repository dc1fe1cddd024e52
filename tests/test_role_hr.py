"""The HR path: the synthetic resumes, the chapters, and its three assignments (hr-screening, hr-quiz,
hr-teachback), each released and autograded by real nbgrader in one temporary course.

Tests marked `needs_mirror` read real data (ADOPTKIT_DATA_MIRROR, e.g. ../shared/data); CI sets it.
The chapters' nbval runs reuse test_book's own test for the chapters that _toc.yml does not list yet;
once the HR path is in the toc, test_book runs them (and the glued-numbers check below runs on the
session's built site).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

import test_book
from nbgrader_harness import HIDDEN, ROOT, by_id, course_copy, fill, grades, nbgrader, release, solutions, submit

from adoptkit.data import synthetic
from adoptkit.engage import teachback

MIRROR = os.environ.get("ADOPTKIT_DATA_MIRROR")
needs_mirror = pytest.mark.skipif(not MIRROR, reason="ADOPTKIT_DATA_MIRROR is not set (CI sets it to ../shared/data)")

HR = "book/roles/hr"
CHAPTERS = [f"{HR}/screening-criteria", f"{HR}/resume-screening", f"{HR}/bias-audit", f"{HR}/onboarding-assistant"]
HANDBOOK = sorted((ROOT / HR / "handbook").glob("*.md"))
NOT_IN_TOC = [c for c in CHAPTERS if c not in test_book.toc_files()]

SCREENING, QUIZ, TEACHBACK = "hr-screening", "hr-quiz", "hr-teachback"
SOURCE = ROOT / "exercises"
POINTS = {"test_criteria": 2, "test_selection_rates": 2, "test_four_fifths": 3, "test_quote_evidence": 3,
          "test_retrieve": 2}
QUIZ_POINTS = {f"test_q{i}": 1 for i in range(1, 7)}
CHECK_POINTS = {"check_title": 1, "check_sections": 1, "check_filled": 2, "check_objectives": 1,
                "check_example": 2, "check_exercise": 1, "check_sources": 1, "check_length": 1}
# What the template lesson already has: all the sections, a "Try it" section with a code cell, and a
# Sources hint that names a citation line.
TEMPLATE_PASSES = {"check_sections", "check_exercise", "check_sources"}

# Plausible wrong answers: each passes the visible tests of its part and must fail the hidden ones.
WRONG = {
    # keeps the scope notes ("Excludes ...") as must-haves
    "criteria": '''
def criteria(description):
    out = []
    for sentence in re.split(r"(?<=\\.)\\s+(?=[A-Z])", description.strip()):
        if sentence.startswith("May "):
            out.append((sentence[4].upper() + sentence[5:], False))
        else:
            out.append((sentence, True))
    return out
''',
    # each group's share of all those selected, not of its own applicants (equal groups hide it)
    "selection_rates": '''
def selection_rates(applicants, group, selected):
    chosen = applicants[applicants[selected]]
    return chosen.groupby(group).size() / len(chosen)
''',
    # divides by the first group's rate, and flags a ratio of exactly 0.8
    "four_fifths": '''
def four_fifths(rates):
    ratio = rates / rates.iloc[0]
    return pd.DataFrame({"rate": rates, "impact_ratio": ratio, "flagged": ratio <= 0.8})
''',
    # trusts the model's quote without checking it against the resume
    "quote_evidence": '''
def quote_evidence(resume, criterion, client, model=MODEL):
    prompt = f"Criterion: {criterion}\\nQuote the sentence of this resume that shows it, or reply NONE.\\n\\n{resume}"
    response = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                              temperature=0)
    reply = response.choices[0].message.content.strip()
    return None if reply == "NONE" else reply
''',
    # compares case-sensitively (the visible tests use lower-case words only)
    "retrieve": '''
def retrieve(question, sections, k=2):
    def words(text):
        return {w for w in re.findall(r"[a-z]+", text) if w not in STOPWORDS}
    asked = words(question)
    ranked = sorted(sections, key=lambda name: -len(asked & words(sections[name])))
    return [name for name in ranked if asked & words(sections[name])][:k]
''',
}
# A wrong answer the visible tests already catch: counts instead of rates.
COUNTS = '''
def selection_rates(applicants, group, selected):
    return applicants.groupby(group)[selected].sum()
'''


def _run(code: str, ns: dict) -> None:
    exec(compile(code, "<exercise cell>", "exec"), ns)


def _read(assignment: str, name: str | None = None):
    return nbformat.read(SOURCE / assignment / f"{name or assignment}.ipynb", as_version=4)


def _quiz_key() -> list[str]:
    """The answer key, read from the quiz's hidden tests (one per question, in order)."""
    cells = by_id(_read(QUIZ))
    return [json.loads(re.search(r'== ("(?:[^"\\]|\\.)*")', HIDDEN.search(cells[gid].source).group(0)).group(1))
            for gid in QUIZ_POINTS]


def _answers_file(answers) -> str:
    return json.dumps({"quiz": QUIZ, "answers": answers})


def good_lesson() -> nbformat.NotebookNode:
    """A lesson a learner of this path could write: every requirement met."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        md("# Auditing a screen with the four-fifths rule"),
        md("## Who this is for\n\nRecruiters and HR business partners who use an automated screen or an "
           "applicant tracking system, and who want to know whether it selects some groups of applicants "
           "less often than others. You need to read a table; no statistics beyond percentages."),
        md("## What you will be able to do\n\n- compute the selection rate of each group of applicants\n"
           "- divide each rate by the highest one to get impact ratios\n"
           "- say which groups fall below four-fifths, and why a small group needs a test of chance too"),
        md("## Worked example\n\nWe use real records: the German credit data classifies each applicant as a "
           "good or a bad risk, and records whether they are a foreign worker. We treat a good-risk "
           "classification as the selection and compare the two groups."),
        code("from adoptkit import data\n\ncredit = data.load('german_credit')\n"
             "rates = credit.groupby('foreign_worker', observed=True)['good_credit'].mean()\n"
             "print((rates / rates.max()).round(3))\nprint(credit.attrs['citation'])"),
        md("## Try it yourself\n\nExercise: audit the same classification by sex. Is any group below "
           "four-fifths? How many applicants are in the smaller group?"),
        code("# your code here"),
        md("## Common mistakes\n\nDividing by the largest group's rate instead of the highest rate; flagging "
           "a ratio of exactly 0.8, which is not below four-fifths; and trusting a ratio that rests on a few "
           "dozen people without a test of chance."),
        md("## Sources\n\nData: UCI Statlog German credit data (the citation line printed above). The rule: "
           "29 CFR 1607.4(D), https://www.ecfr.gov/current/title-29/part-1607"),
    ])


# ---- the synthetic resumes --------------------------------------------------------------------------

# Two occupations written for these tests (not O*NET's), so the generator can be tested without data.
TINY_ONET = pd.DataFrame({
    "O*NET-SOC Code": ["99-0001.00", "99-0002.00", "99-0003.00"],
    "Title": ["Lighthouse Keepers", "Map Restorers", "Scope Notes Only"],
    "Description": [
        "Tend the lamp and keep the logbook. Inspect the lens daily. May guide visitors. Excludes harbour pilots.",
        "Includes restorers of charts. Repair torn maps with archival paper. May catalogue collections.",
        "May sing to the sea. Includes everyone who sings.",
    ],
})


def test_duties_marks_may_as_nice_to_have_and_drops_scope_notes():
    got = synthetic.duties(TINY_ONET.loc[0, "Description"])
    assert got == [("Tend the lamp and keep the logbook.", True), ("Inspect the lens daily.", True),
                   ("Guide visitors.", False)]
    assert synthetic.duties(TINY_ONET.loc[1, "Description"]) == [
        ("Repair torn maps with archival paper.", True), ("Catalogue collections.", False)]


def test_resumes_are_reproducible_and_labelled_synthetic_everywhere():
    codes = ["99-0001.00", "99-0002.00"]
    a = synthetic.resumes(60, seed=5, codes=codes, onet=TINY_ONET)
    pd.testing.assert_frame_equal(a, synthetic.resumes(60, seed=5, codes=codes, onet=TINY_ONET))
    assert not a["text"].equals(synthetic.resumes(60, seed=6, codes=codes, onet=TINY_ONET)["text"])
    assert a["synthetic"].all() and a["synthetic"].dtype == bool
    assert "SYNTHETIC" in a.attrs["citation"] and "not real people" in a.attrs["citation"]
    assert "O*NET" in a.attrs["citation"]  # the duties' source is attributed
    for row in a.itertuples():
        lines = row.text.splitlines()
        assert lines[0].startswith(f"{synthetic.SYNTHETIC_MARK}: a fictional candidate") and "not a real person" in lines[0]
        assert lines[1] == f"{row.name} (fictional)"
        assert row.email.endswith("@example.org") and row.email in row.text  # the reserved example domain
        assert re.fullmatch(r"\(202\) 555-01\d\d", row.phone)  # the 555-01xx numbers set aside for fiction
        assert row.group not in row.text.split() and row.age_band not in row.text  # kept apart, for audits only
    assert set(a["occupation_code"]) == set(codes)
    assert a["resume_id"].is_unique


def test_resumes_ground_truth_depends_on_must_haves_only_and_the_proxies_are_built_in():
    r = synthetic.resumes(4000, seed=1, codes=["99-0001.00"], onet=TINY_ONET)
    must = [d.must_have for d in synthetic.duties(TINY_ONET.loc[0, "Description"])]
    expected = r["duties_held"].map(lambda flags: all(f == "1" for f, m in zip(flags, must) if m))
    assert (r["qualified"] == expected).all()
    assert 0.2 < r["qualified"].mean() < 0.8
    by_group = r.groupby("group")["qualified"].mean()
    by_age = r.groupby("age_band")["qualified"].mean()
    assert abs(by_group["A"] - by_group["B"]) < 0.05 and abs(by_age.iloc[0] - by_age.iloc[1]) < 0.05
    gaps = r.groupby("group")["career_gap_years"].apply(lambda g: (g > 0).mean())
    assert gaps["B"] > 2 * gaps["A"], gaps  # the built-in proxy the bias-audit chapter finds
    years = r.groupby("age_band")["years_experience"].median()
    assert years["40 and over"] > years["under 40"]
    # A held duty's evidence is in the text; a duty the candidate lacks is never claimed as current work.
    duties = synthetic.duties(TINY_ONET.loc[0, "Description"])
    for row in r.head(200).itertuples():
        for duty, flag in zip(duties, row.duties_held):
            claimed = f"In my current role I {duty.text[0].lower()}{duty.text[1:]}" in row.text
            assert claimed == (flag == "1"), (row.resume_id, duty.text)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "positive whole number"),
    ({"n": "10"}, "positive whole number"),
    ({"n": True}, "positive whole number"),
    ({"codes": ["99-9999.00"]}, "not in the occupations table"),
    ({"codes": ["99-0003.00"]}, "no must-have duty"),
    ({"onet": TINY_ONET.drop(columns=["Description"])}, "lacks the column"),
])
def test_resumes_bad_input_says_what_and_how_to_fix(kwargs, message):
    args = {"n": 5, "codes": ["99-0001.00"], "onet": TINY_ONET, **kwargs}
    with pytest.raises(ValueError, match=message):
        synthetic.resumes(**args)


@needs_mirror
def test_default_occupations_are_real_and_every_duty_has_a_paraphrase():
    from adoptkit.data import load

    onet = load("onet_occupations").set_index("O*NET-SOC Code")
    keys = set()
    for code in synthetic.DEFAULT_CODES:
        duties = synthetic.duties(onet.loc[code, "Description"])
        assert any(d.must_have for d in duties), code
        keys |= {(code, k) for k in range(len(duties))}
    assert keys == set(synthetic.PARAPHRASES), "the paraphrase bank and O*NET's duties have drifted apart"
    r = synthetic.resumes(50, seed=0)
    assert set(r["occupation_code"]) == set(synthetic.DEFAULT_CODES)


# ---- the book pages ----------------------------------------------------------------------------------

def test_path_page_states_outcomes_chapters_assessments_time_and_prerequisites():
    text = (ROOT / HR / "index.md").read_text()
    for heading in ("## What you will be able to do", "## Chapters", "## The graded work, without code", "## The quiz",
                    "## Teach it back", "## The optional code parts", "## Time", "## Prerequisites"):
        assert heading in text, f"the path page should have a section {heading!r}"
    for chapter in CHAPTERS:
        assert f"{{doc}}`{Path(chapter).name}`" in text, f"the path page should link the chapter {chapter}"
    for assignment in (SCREENING, QUIZ, TEACHBACK, "hr-nocode", "hr-assessment-pre", "hr-assessment-post"):
        assert f"exercises/{assignment}/" in text and (SOURCE / assignment).is_dir(), \
            f"the path page should name {assignment} and where its source is"
    assert "No coding is needed for the path's assignment, its quiz or its assessments" in text, \
        "the page should say the graded work needs no code"


def test_handbook_pages_say_they_are_fictional_and_have_sections():
    assert len(HANDBOOK) >= 3
    for page in HANDBOOK:
        text = page.read_text()
        assert text.startswith("# Example Organisation: "), page.name
        assert "Example Organisation is not a real company" in text, page.name
        assert len(re.findall(r"^## ", text, re.M)) >= 3, page.name


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_structure(chapter):
    test_book.test_chapter_structure(chapter)  # learning objectives first, hidden preamble, summary, exercises


@pytest.mark.slow
@pytest.mark.parametrize("chapter", NOT_IN_TOC)
def test_chapter_runs_under_nbval(chapter, tmp_path):
    test_book.test_chapter_runs_under_nbval(chapter, tmp_path)


def hr_glue() -> dict[str, dict[str, str]]:
    """Some glued values of each HR page, computed here from the data (not read back from the build)."""
    from adoptkit.data import load

    onet = load("onet_occupations")
    sentences = [s for d in onet["Description"] for s in re.split(r"(?<=\.)\s+(?=[A-Z])", d.strip())]
    resumes = synthetic.resumes(200, seed=2024)
    credit = load("german_credit")
    good = credit["good_credit"].astype(bool)
    rates = good.groupby(credit["sex"], observed=True).mean()
    sections = sum(len(re.findall(r"^## ", p.read_text(), re.M)) for p in HANDBOOK)
    if (ROOT / "book/policy/ai-use-policy.md").is_file():
        sections += len(re.findall(r"^## ", (ROOT / "book/policy/ai-use-policy.md").read_text(), re.M))
    return {
        "screening-criteria": {"n_occupations": f"{len(onet):,d}",
                               "n_may": f"{sum(s.startswith('May ') for s in sentences):,d}"},
        "resume-screening": {"n_resumes": "200", "n_qualified": f"{int(resumes['qualified'].sum()):d}"},
        "bias-audit": {"n_credit": f"{len(credit):,d}", "good_share": f"{good.mean():.0%}",
                       "rec_foreign_worker_n": f"{credit['foreign_worker'].value_counts().min():d}",
                       "rec_sex_ratio": f"{rates.min() / rates.max():.2f}"},
        "onboarding-assistant": {"n_sections": f"{sections:d}"},
    }


@needs_mirror
@pytest.mark.slow
@pytest.mark.skipif(bool(NOT_IN_TOC), reason="the HR chapters are not in _toc.yml yet (the lead adds them)")
def test_pages_show_the_glued_numbers_and_attribute_their_data(built_site):
    check_built_pages(built_site)


def check_built_pages(site: Path) -> None:
    """Every independently computed value is on its page; every page with data prints its citation."""
    import html

    from adoptkit.data import citation

    for page, values in hr_glue().items():
        text = (site / HR / f"{page}.html").read_text(encoding="utf-8")
        pasted = re.findall(r'<span class="pasted-text">([^<]*)</span>', text)
        absent = {k: v for k, v in values.items() if v not in pasted}
        assert absent == {}, f"{page}: glued values not on the page (found {pasted})"
        if page != "bias-audit":  # the only HR chapter that calls no model
            assert "LLM endpoint " in text, f"{page}: no banner saying which model answered"
    for page, names in {"screening-criteria": ["onet_occupations"], "bias-audit": ["german_credit"]}.items():
        text = html.unescape(re.sub(r"<[^>]+>", "", (site / HR / f"{page}.html").read_text(encoding="utf-8")))
        for name in names:
            assert citation(name) in text, (page, name)
    assert "Data: SYNTHETIC resumes" in (site / HR / "resume-screening.html").read_text(encoding="utf-8")
    for page in HANDBOOK:
        assert (site / HR / "handbook" / f"{page.stem}.html").is_file(), page.name


# ---- the assignments' sources --------------------------------------------------------------------------

@pytest.mark.parametrize("assignment, name", [(SCREENING, None), (QUIZ, None), (TEACHBACK, "structure-checks")])
def test_sources_are_committed_clean_and_locked(assignment, name):
    nb = _read(assignment, name)
    nbformat.validate(nb)
    points = {SCREENING: POINTS, QUIZ: QUIZ_POINTS, TEACHBACK: CHECK_POINTS}[assignment]
    cells = by_id(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} has outputs"
        meta = cell.metadata["nbgrader"]
        if meta["locked"]:
            assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, cell.id
            if cell.cell_type == "code":
                assert "Just run this cell" in cell.source.splitlines()[0], cell.id
    for gid, p in points.items():
        meta = cells[gid].metadata["nbgrader"]
        assert meta == {"grade": True, "grade_id": gid, "locked": True, "points": p, "schema_version": 3,
                        "solution": False, "task": False}, gid
        assert f"({p} point" in cells[gid].source.splitlines()[0], f"{gid}: no point value in its first line"
    total = sum(points.values())
    intro = cells["intro"].source
    if assignment == SCREENING:
        for gid in POINTS:
            assert "### BEGIN HIDDEN TESTS" in cells[gid].source, f"{gid} has no hidden tests"
        reflection = cells["reflection"].metadata["nbgrader"]
        assert reflection["solution"] and reflection["grade"] and not reflection["locked"]
        assert f"{total + reflection['points']} points" in intro and f"{total} autograded" in intro
        assert "hidden tests" in intro and "synthetic" in intro.lower()
    else:
        assert f"{total} points" in intro


def test_quiz_key_is_only_in_hidden_tests_and_every_answer_is_an_option():
    nb = _read(QUIZ)
    key = _quiz_key()
    options = dict((q, opts) for q, opts in _quiz_questions(nb))
    assert len(key) == len(options) == len(QUIZ_POINTS)
    for answer, (question, opts) in zip(key, options.items()):
        assert answer in opts, question
    visible = HIDDEN.sub("", "\n".join(c.source for c in nb.cells if c.metadata["nbgrader"].get("grade")))
    assert not [a for a in key if a in visible], "an answer appears outside the hidden tests"
    assert not list((SOURCE / QUIZ).glob("quiz-answers*")), (
        "a quiz-answers folder in the source would be released to learners and copied over every "
        "learner's answers by autograde: delete it")


def _quiz_questions(nb):
    """The quiz's (question, options) list, from its locked cell."""
    ns: dict = {}
    _run(by_id(nb)["quiz"].source, ns)  # builds the Quiz too, which only reads answers (none here)
    return ns["QUESTIONS"]


def test_teachback_lesson_is_the_template():
    lesson = nbformat.read(SOURCE / TEACHBACK / "lesson.ipynb", as_version=4)
    template = teachback.template("auditing an automated screen with the four-fifths rule")
    assert [(c.cell_type, c.source) for c in lesson.cells] == [(c.cell_type, c.source) for c in template.cells]
    assert all(not c.get("outputs") for c in lesson.cells)


@pytest.fixture(scope="module")
def solved():
    """A namespace with the hr-screening setup and every correct part run, hidden tests included."""
    ns: dict = {}
    nb = _read(SCREENING)
    cells = by_id(nb)
    _run(cells["setup"].source, ns)
    for part, code in solutions(nb).items():
        if part != "reflection":
            _run(code, ns)
            _run(cells[f"test_{part}"].source, ns)  # raises if the source fails its own (hidden) tests
    _run(cells["credit_audit"].source, ns)
    return ns


@needs_mirror
@pytest.mark.parametrize("part", list(WRONG))
def test_hidden_tests_catch_a_wrong_answer_that_passes_the_visible_ones(part, solved):
    test_cell = by_id(_read(SCREENING))[f"test_{part}"].source
    ns = dict(solved)
    _run(WRONG[part], ns)
    _run(HIDDEN.sub("", test_cell), ns)  # the visible tests, as released: must pass
    with pytest.raises(AssertionError) as caught:
        _run(test_cell, ns)
    assert str(caught.value).strip(), "the hidden test that failed should tell the learner why"


@needs_mirror
def test_visible_tests_catch_counts_instead_of_rates(solved):
    ns = dict(solved)
    _run(COUNTS, ns)
    with pytest.raises(AssertionError, match="6 of 10 applicants selected"):
        _run(HIDDEN.sub("", by_id(_read(SCREENING))["test_selection_rates"].source), ns)


def _run_cells(nb, folder: Path, monkeypatch) -> dict[str, BaseException | None]:
    """Run a notebook's code cells in this process, in `folder`, as nbgrader's autograde would (cells
    that call a live model skip themselves); the exception (or None) of each graded cell."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    ns: dict = {}
    errors = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata["nbgrader"]
        try:
            _run(cell.source, ns)
            error = None
        except Exception as err:  # noqa: BLE001 (a learner's cell may raise anything)
            error = err
        if meta.get("grade"):
            errors[meta["grade_id"]] = error
        elif error is not None and meta["grade_id"] in ("setup", "quiz", "read_lesson"):
            raise error  # a locked setup cell must never fail
    return errors


def test_quiz_source_passes_with_the_key_and_names_each_unanswered_question(tmp_path, monkeypatch):
    nb = _read(QUIZ)
    (tmp_path / "quiz-answers").mkdir()
    (tmp_path / "quiz-answers" / f"{QUIZ}.json").write_text(_answers_file(_quiz_key()))
    assert _run_cells(nb, tmp_path, monkeypatch) == {gid: None for gid in QUIZ_POINTS}
    (tmp_path / "quiz-answers" / f"{QUIZ}.json").unlink()
    errors = _run_cells(nb, tmp_path, monkeypatch)
    for i, gid in enumerate(QUIZ_POINTS, 1):
        assert isinstance(errors[gid], AssertionError) and f"Question {i} is not answered" in str(errors[gid])


def test_teachback_checks_pass_a_good_lesson_and_name_what_is_missing(tmp_path, monkeypatch):
    checks = _read(TEACHBACK, "structure-checks")
    nbformat.write(good_lesson(), tmp_path / "lesson.ipynb")
    assert _run_cells(checks, tmp_path, monkeypatch) == {gid: None for gid in CHECK_POINTS}
    nbformat.write(nbformat.read(SOURCE / TEACHBACK / "lesson.ipynb", as_version=4), tmp_path / "lesson.ipynb")
    errors = _run_cells(checks, tmp_path, monkeypatch)
    assert {gid for gid, err in errors.items() if err is None} == TEMPLATE_PASSES
    assert "replace every TODO" in str(errors["check_filled"])
    (tmp_path / "lesson.ipynb").unlink()  # no lesson at all: every check fails, and says why
    errors = _run_cells(checks, tmp_path, monkeypatch)
    assert all(isinstance(e, AssertionError) and "not found" in str(e) for e in errors.values())


# ---- release and autograde through real nbgrader ----------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One temporary course: all three assignments released, submissions put in, one autograde run each."""
    course = course_copy(tmp_path_factory.mktemp("hr-course"))
    released = {a: release(course, a) for a in (SCREENING, QUIZ, TEACHBACK)}
    screening = nbformat.read(released[SCREENING] / f"{SCREENING}.ipynb", as_version=4)
    answers = solutions(_read(SCREENING))
    partly = {**answers, "selection_rates": COUNTS}  # a visible failure
    del partly["retrieve"], partly["reflection"]  # left as released
    hidden_only = {**answers, **WRONG}
    del hidden_only["reflection"]
    subs = {"correct": fill(screening, answers), "partly": fill(screening, partly),
            "hidden": fill(screening, hidden_only)}
    for student, nb in subs.items():
        submit(course, SCREENING, student, {f"{SCREENING}.ipynb": nb})

    quiz = nbformat.read(released[QUIZ] / f"{QUIZ}.ipynb", as_version=4)
    key = _quiz_key()
    questions = _quiz_questions(quiz)
    other = [next(o for o in opts if o != k) for (_, opts), k in zip(questions, key)]
    clicks = {"correct": key,
              "partly": [key[0], None, key[2], other[3], key[4], key[5]],
              "hidden": other[:3] + key[3:]}  # every question answered: the visible tests pass
    for student, picked in clicks.items():
        folder = submit(course, QUIZ, student, {f"{QUIZ}.ipynb": quiz})
        (folder / "quiz-answers").mkdir()
        (folder / "quiz-answers" / f"{QUIZ}.json").write_text(_answers_file(picked))
    submit(course, QUIZ, "none", {f"{QUIZ}.ipynb": quiz})  # never clicked: no answers file

    checks = nbformat.read(released[TEACHBACK] / "structure-checks.ipynb", as_version=4)
    template = nbformat.read(released[TEACHBACK] / "lesson.ipynb", as_version=4)
    submit(course, TEACHBACK, "correct", {"structure-checks.ipynb": checks, "lesson.ipynb": good_lesson()})
    submit(course, TEACHBACK, "template", {"structure-checks.ipynb": checks, "lesson.ipynb": template})

    runs = {a: nbgrader(course, "autograde", a) for a in (SCREENING, QUIZ, TEACHBACK)}
    return SimpleNamespace(course=course, released=released, screening=screening, subs=subs, quiz=quiz,
                           checks=checks, template=template, runs=runs)


@pytest.mark.slow
def test_releases_hold_no_solutions_hidden_tests_or_answer_keys(graded):
    texts = {p.relative_to(graded.course).as_posix(): p.read_text(encoding="utf-8")
             for folder in graded.released.values() for p in folder.rglob("*") if p.is_file()}
    assert not [p for p in texts if "quiz-answers" in p]
    for path, text in texts.items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, (path, marker)
    screening = texts[f"_nbgrader/release/{SCREENING}/{SCREENING}.ipynb"]
    for gid, answer in solutions(_read(SCREENING)).items():
        lines = [ln.strip() for ln in answer.splitlines() if len(ln.strip()) > 25 and not ln.strip().startswith("def ")]
        assert lines and not [ln for ln in lines if ln in screening], f"{gid}: solution text leaked"
    released = by_id(graded.screening)
    for gid in POINTS:
        hidden = HIDDEN.search(by_id(_read(SCREENING))[gid].source).group(0)
        leaked = [ln.strip() for ln in hidden.splitlines()[1:-1] if len(ln.strip()) > 25 and ln.strip() in screening]
        assert not leaked, f"{gid}: hidden test lines in the release: {leaked[:3]}"
        assert released[gid].metadata["nbgrader"]["locked"]
    quiz = "\n".join(c.source for c in graded.quiz.cells)
    assert "quiz.answers[0] is not None" in quiz and not re.search(r"quiz\.answers\[\d\] ==", quiz)
    assert "TODO" in texts[f"_nbgrader/release/{TEACHBACK}/lesson.ipynb"]


@pytest.mark.slow
def test_releases_fail_their_visible_tests_and_wrong_answers_pass_them(graded, tmp_path, monkeypatch):
    errors = _run_cells(graded.screening, tmp_path, monkeypatch)
    assert all(isinstance(errors[gid], NotImplementedError) for gid in POINTS), errors
    errors = _run_cells(graded.subs["hidden"], tmp_path, monkeypatch)
    assert errors == {gid: None for gid in POINTS}, "the hidden-only-wrong submission saw a visible failure"
    errors = _run_cells(graded.quiz, tmp_path, monkeypatch)  # nothing clicked
    assert all(isinstance(errors[gid], AssertionError) for gid in QUIZ_POINTS)
    nbformat.write(graded.template, tmp_path / "lesson.ipynb")
    errors = _run_cells(graded.checks, tmp_path, monkeypatch)
    assert {gid for gid, err in errors.items() if err is not None} == set(CHECK_POINTS) - TEMPLATE_PASSES


@pytest.mark.slow
def test_autograde_scores_hr_screening(graded):
    run = graded.runs[SCREENING]
    assert run.returncode == 0, run.stderr[-3000:]
    got = grades(graded.course, SCREENING, ("correct", "partly", "hidden"))
    assert got["correct"].auto == {**POINTS, "reflection": None}
    assert got["correct"].code_score == got["correct"].max_code_score == sum(POINTS.values()) == 12
    assert got["correct"].needs_manual_grade  # the reflection waits for the instructor
    assert got["partly"].auto == {"test_criteria": 2, "test_selection_rates": 0, "test_four_fifths": 3,
                                  "test_quote_evidence": 3, "test_retrieve": 0, "reflection": 0}
    assert got["partly"].code_score == 8
    assert got["hidden"].auto == {**{gid: 0 for gid in POINTS}, "reflection": 0}
    assert got["hidden"].code_score == 0
    autograded = graded.course / "_nbgrader" / "autograded" / "correct" / SCREENING / f"{SCREENING}.ipynb"
    cells = by_id(nbformat.read(autograded, as_version=4))
    assert "### BEGIN HIDDEN TESTS" in cells["test_four_fifths"].source  # restored from the gradebook
    assert [o.get("text") for o in cells["try_it"].outputs] == ["Skipped while grading.\n"]


@pytest.mark.slow
def test_autograde_scores_the_quiz_from_the_saved_clicks(graded):
    run = graded.runs[QUIZ]
    assert run.returncode == 0, run.stderr[-3000:]
    got = grades(graded.course, QUIZ, ("correct", "partly", "hidden", "none"))
    assert got["correct"].auto == QUIZ_POINTS and got["correct"].code_score == 6
    assert got["partly"].auto == {"test_q1": 1, "test_q2": 0, "test_q3": 1, "test_q4": 0, "test_q5": 1, "test_q6": 1}
    assert got["hidden"].auto == {"test_q1": 0, "test_q2": 0, "test_q3": 0, "test_q4": 1, "test_q5": 1, "test_q6": 1}
    assert got["none"].code_score == 0 and not got["none"].needs_manual_grade


@pytest.mark.slow
def test_autograde_scores_the_teachback_structure(graded):
    run = graded.runs[TEACHBACK]
    assert run.returncode == 0, run.stderr[-3000:]
    got = grades(graded.course, TEACHBACK, ("correct", "template"))
    assert got["correct"].auto == CHECK_POINTS and got["correct"].code_score == 10
    assert got["template"].auto == {gid: (p if gid in TEMPLATE_PASSES else 0) for gid, p in CHECK_POINTS.items()}
    assert got["template"].code_score == 3

"""The engineering path: its page and chapters, and its three assignments (the graded review exercise, the
quiz and the teach-back) released and autograded by real nbgrader in one temporary course.

The data tests need the mirror (`ADOPTKIT_DATA_MIRROR`, e.g. ../shared/data) or a filled cache.
"""

from __future__ import annotations

import ast
import re
from types import SimpleNamespace

import nbformat
import pytest
import test_book  # the book's own structure and nbval checks, reused for this path's chapters
from nbgrader_harness import (
    HIDDEN,
    ROOT,
    by_id,
    course_copy,
    execute,
    fill,
    grades,
    nbgrader,
    quiz_options,
    run_cell,
    solutions,
    source,
    submit,
    write_quiz_answers,
)

from adoptkit.engage import teachback

PATH = "book/roles/engineering"
CHAPTERS = [f"{PATH}/{name}" for name in ("tests-first", "reviewing-ai-code", "testing-real-code", "explain-refactor")]
REVIEW, QUIZ, TEACHBACK = "engineering-review", "engineering-quiz", "engineering-teachback"
EXERCISES = ROOT / "exercises"
REVIEW_POINTS = {"test_lines_for_product": 2, "test_safe_export_path": 3, "test_risky_calls": 3,
                 "test_check_chunked": 3, "test_review_code": 3}
QUIZ_IDS = [f"q{i}" for i in range(1, 7)]
REQUIREMENTS = ["title", "sections", "filled", "objectives", "example", "exercise", "sources", "length"]
CHECK_IDS = [f"check_{name}" for name in REQUIREMENTS]

# Plausible wrong answers to the review exercise: each passes the visible tests of its part and must fail the
# hidden ones (the key names the part; a suffix tells two wrong answers to the same part apart).
WRONG = {
    # escapes quotes by hand: safe enough against this input, but the value is still written into the SQL text
    "lines_for_product": '''
def lines_for_product(conn, description):
    safe = description.replace("'", "''")
    return conn.execute(f"SELECT InvoiceNo, Quantity, UnitPrice FROM sales WHERE Description = '{safe}'").fetchall()
''',
    # refuses '..' but lets an absolute path through (and refuses harmless names with '..')
    "safe_export_path": '''
def safe_export_path(export_dir, name):
    if ".." in name:
        raise ValueError(f"{name!r} is not allowed")
    return (Path(export_dir) / name).resolve()
''',
    # compares strings: /data/exports-old starts with /data/exports, and symbolic links are not followed
    "safe_export_path/startswith": '''
def safe_export_path(export_dir, name):
    folder = os.path.abspath(export_dir)
    path = os.path.normpath(os.path.join(folder, name))
    if not path.startswith(folder):
        raise ValueError(f"{name!r} leaves the folder")
    return Path(path)
''',
    # searches the text: comments and strings that mention shell=True count as calls
    "risky_calls": r'''
def risky_calls(source):
    found = []
    for number, line in enumerate(source.splitlines(), 1):
        if "shell=True" in line or "os.system(" in line or "os.popen(" in line:
            found.append((number, "shell"))
        if re.search(r"\.execute\w*\(\s*f[\"']", line) or re.search(r"\.execute\w*\(.*(%|\+|\.format\()", line):
            found.append((number, "sql"))
        if re.search(r"(?<![\w.])(eval|exec)\(", line):
            found.append((number, "eval"))
    return sorted(found)
''',
    # tests only the specification's example
    "check_chunked": '''
def check_chunked(chunked):
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
''',
    # trusts the reply's shape: a fenced reply is lost and any line number is accepted
    "review_code": '''
def review_code(code, client, model=MODEL):
    prompt = (f"Review this code. Reply in JSON with the keys issue (one of: {', '.join(ISSUES)}) and line."
              f"\\n\\n```python\\n{code}\\n```")
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], temperature=0)
    try:
        found = json.loads(response.choices[0].message.content)
    except json.JSONDecodeError:
        return None
    if not isinstance(found, dict) or found.get("issue") not in ISSUES:
        return None
    return {"issue": found["issue"], "line": found.get("line")}
''',
}
# Wrong answers the visible tests already catch: the assistant's own query, and a check that accepts anything.
VISIBLY_WRONG = {
    "lines_for_product": '''
def lines_for_product(conn, description):
    query = f"SELECT InvoiceNo, Quantity, UnitPrice FROM sales WHERE Description = '{description}'"
    return conn.execute(query).fetchall()
''',
    "check_chunked": '''
def check_chunked(chunked):
    pass
''',
}


def _quiz_key(quiz_nb) -> list[str]:
    """The answer key, read from the hidden tests of the source."""
    cells = by_id(quiz_nb)
    return [re.search(r"quiz\.answers\[\d\] == ('.*?'|\".*?\")", cells[q].source).group(1) for q in QUIZ_IDS]


def _answers_file(folder, answers) -> None:
    write_quiz_answers(folder, QUIZ, answers)


def good_lesson():
    """A filled teach-back lesson, as a learner of this path might write it."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        md("# Tests first: accepting AI-written code on evidence"),
        md("## Who this is for\n\nDevelopers on the order-processing team who already use a coding assistant "
           "and review its pull requests. You should be able to read a pytest test and run a notebook."),
        md("## What you will be able to do\n\n- write the acceptance tests before asking for code\n"
           "- run a candidate against them in a separate process\n"
           "- check a candidate that passes on the real export as well"),
        md("## Worked example\n\nWe parse the shop's real invoice export and compare a quick split-on-commas "
           "parser with the csv module. Some product descriptions contain commas inside quotes, so the quick "
           "parser silently drops those lines; the csv module keeps them. The numbers below come from the data."),
        code("from adoptkit import data\nretail = data.load('online_retail')\n"
             "print((retail['Description'].fillna('').str.contains(',')).sum(), 'descriptions with a comma')\n"
             "print(retail.attrs['citation'])"),
        md("## Try it yourself\n\nExercise: write a test with a real line whose description holds a comma and no "
           "space after it. Which of your team's parsers pass it? What do they return for that line?"),
        code("# your test here"),
        md("## Common mistakes\n\nAccepting code because every test passed, when the tests only held the examples "
           "the model had seen. Letting a model repair a failing test by special-casing its input. Swallowing "
           "errors with a bare except, which turns a visible crash into a wrong total that nobody notices."),
        md("## Sources\n\nData: UCI Online Retail, https://archive.ics.uci.edu/dataset/352/online+retail "
           "(CC BY 4.0). The engineering path's chapter on tests first."),
    ])


# ---- the path page and the chapters ---------------------------------------------------------------------

def test_path_page_states_outcomes_time_prerequisites_data_and_every_chapter():
    text = (ROOT / PATH / "index.md").read_text()
    for heading in ("## What you will be able to do", "## Time", "## Prerequisites", "## Chapters",
                    "## The data: code, and a real export"):
        assert heading in text
    assert "code is the data" in text.lower() and "standard library" in text
    for chapter in CHAPTERS:
        assert "{doc}`" + chapter.rsplit("/", 1)[1] + "`" in text
    for assignment in (REVIEW, QUIZ, TEACHBACK):
        assert f"exercises/{assignment}/" in text


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_structure(chapter):
    test_book.test_chapter_structure(chapter)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_labels_handwritten_candidates_and_cites_what_it_shows(chapter):
    text = (ROOT / f"{chapter}.md").read_text()
    assert "print(llm.banner())" in text, "every chapter says which model answers"
    if "CANDIDATES" in text or "REFACTORINGS" in text or "AI_MODULE" in text or "GENERATED" in text:
        assert '"as a model might write"' in text and "not the output of any model" in text
    if 'load("online_retail")' in text:
        assert "cite(retail)" in text
    if "inspect.getsource" in text or "STDLIB" in text:
        assert "cite(STDLIB_CITATION)" in text
    assert not re.search(r"`\{glue", text), "a glue role inside inline code is not rendered: drop the backticks"


def _glued_values() -> dict[str, str]:
    """A few of the chapters' glued numbers, computed here from the data independently of the chapters."""
    import sysconfig
    from pathlib import Path

    from adoptkit import settings
    from adoptkit.data import load

    retail = load("online_retail", settings.load(ROOT / "_config.yml"))
    names = retail["Description"].dropna()
    commas = names[names.str.contains(",")]
    return {
        "tests-first": {"n_comma": f"{len(commas)}", "n_comma_no_space": f"{commas.str.contains(r',(?! )').sum()}",
                        "n_invoices": f"{retail.loc[~retail['InvoiceNo'].str.startswith('C'), 'InvoiceNo'].nunique():,d}"},
        "reviewing-ai-code": {"n_apostrophe": f"{names.str.contains(chr(39)).sum()}",
                              "n_modules": f"{len(list(Path(sysconfig.get_paths()['stdlib']).glob('*.py')))}"},
        "testing-real-code": {"n_descriptions": f"{names.nunique():,d}", "n_cases": f"{names.nunique() * 9:,d}"},
    }


@pytest.mark.slow
def test_built_pages_show_numbers_computed_from_the_data(built_site):
    if f"{PATH}/index" not in test_book.toc_files():
        pytest.skip("the engineering path is not in _toc.yml yet (the lead adds it when merging)")
    for name, values in _glued_values().items():
        page = (built_site / PATH / f"{name}.html").read_text(encoding="utf-8")
        pasted = re.findall(r'<span class="pasted-text">([^<]*)</span>', page)
        assert {k: v for k, v in values.items() if v not in pasted} == {}, f"{name}: glued values missing"
        assert "{glue" not in page


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_under_nbval(chapter, tmp_path):
    test_book.test_chapter_runs_under_nbval(chapter, tmp_path)


# ---- the sources ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,notebook,points", [
    (REVIEW, REVIEW, REVIEW_POINTS),
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
        assert re.search(rf"\({value} points?\)", cells[gid].source.splitlines()[0]), f"{gid}: no points in its header"
    for cell in nb.cells:
        if cell.metadata["nbgrader"]["locked"] and cell.cell_type == "code" and not cell.metadata["nbgrader"]["grade"]:
            assert "Just run this cell" in cell.source.splitlines()[0], cell.id
    intro = cells["intro"].source
    assert f"{sum(points.values())} points" in intro or f"{sum(points.values()) + 3} points" in intro


def test_review_source_has_hidden_tests_everywhere_and_a_manual_reflection():
    nb = source(REVIEW)
    cells = by_id(nb)
    for gid in REVIEW_POINTS:
        assert "### BEGIN HIDDEN TESTS" in cells[gid].source, gid
    reflection = cells["reflection"].metadata["nbgrader"]
    assert reflection["solution"] and reflection["grade"] and not reflection["locked"] and reflection["points"] == 3
    assert "17 points" in cells["intro"].source and "14 autograded" in cells["intro"].source
    assert "NBGRADER_EXECUTION" in cells["try_it"].source


@pytest.fixture(scope="module")
def review():
    return source(REVIEW)


@pytest.fixture(scope="module")
def solved(review):
    """A namespace with the setup cell and every correct part run, with all tests, hidden ones included."""
    ns: dict = {}
    cells = by_id(review)
    run_cell(cells["setup"].source, ns)
    for part, code in solutions(review).items():
        if part != "reflection":
            run_cell(code, ns)
            run_cell(cells[f"test_{part}"].source, ns)  # raises if the source fails its own (hidden) tests
    return ns


@pytest.mark.parametrize("key", list(WRONG))
def test_hidden_tests_catch_a_wrong_answer_that_passes_the_visible_ones(key, review, solved):
    part = key.split("/")[0]
    test_cell = by_id(review)[f"test_{part}"].source
    ns = dict(solved)
    run_cell(WRONG[key], ns)
    run_cell(HIDDEN.sub("", test_cell), ns)  # the visible tests, as released: must pass
    with pytest.raises(AssertionError) as caught:
        run_cell(test_cell, ns)
    assert str(caught.value).strip(), "the hidden test that failed should tell the learner why"


@pytest.mark.parametrize("part", list(VISIBLY_WRONG))
def test_visible_tests_catch_the_assistants_query_and_an_empty_check(part, review, solved):
    ns = dict(solved)
    run_cell(VISIBLY_WRONG[part], ns)
    with pytest.raises(AssertionError):
        run_cell(HIDDEN.sub("", by_id(review)[f"test_{part}"].source), ns)


def test_quiz_key_is_hidden_and_names_one_option_of_each_question():
    nb = source(QUIZ)
    options = quiz_options(nb)
    key = [eval(k) for k in _quiz_key(nb)]  # string literals from the source
    assert len(options) == len(key) == len(QUIZ_IDS)
    assert all(answer in opts for answer, opts in zip(key, options))
    assert len({opts.index(answer) for answer, opts in zip(key, options)}) > 1, "the right answer should not always sit in one place"
    for gid in QUIZ_IDS:
        visible = HIDDEN.sub("", by_id(nb)[gid].source)
        assert "==" not in visible and "is not None" in visible, f"{gid}: the visible test only checks that it was answered"


def test_teachback_lesson_is_the_template_and_the_checks_cover_every_requirement(tmp_path):
    lesson = nbformat.read(EXERCISES / TEACHBACK / "lesson.ipynb", as_version=4)
    template = teachback.template("x")
    assert [c.cell_type for c in lesson.cells] == [c.cell_type for c in template.cells]
    assert [c.source for c in lesson.cells[1:]] == [c.source for c in template.cells[1:]]
    assert lesson.cells[0].source.startswith(f"# {teachback.PLACEHOLDER}: a lesson on ")
    # Every requirement the library knows is one graded cell: together, an empty lesson and the template miss
    # every one of them (a new requirement in adoptkit.engage.teachback would show up here).
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("")]), tmp_path / "empty.ipynb")
    missed = set(teachback.problems(tmp_path / "empty.ipynb")) | set(teachback.problems(EXERCISES / TEACHBACK / "lesson.ipynb"))
    assert missed == set(REQUIREMENTS)
    checks = by_id(source(TEACHBACK, "checks"))
    assert ast.literal_eval(re.search(r"^REQUIREMENTS = (\[.*\])$", checks["setup"].source, re.M).group(1)) == REQUIREMENTS
    assert "peer" in checks["review"].source.lower() or "colleague" in checks["review"].source.lower()


# ---- sources pass their own tests; release; autograde (real nbgrader, one course) ------------------------

@pytest.mark.slow
def test_quiz_and_teachback_sources_pass_their_own_tests_with_a_learners_answers(tmp_path):
    quiz = source(QUIZ)
    (tmp_path / "quiz").mkdir()
    _answers_file(tmp_path / "quiz", [eval(k) for k in _quiz_key(quiz)])
    errors = execute(quiz, tmp_path / "quiz")  # the source, hidden tests included
    assert all(not errors[q] for q in QUIZ_IDS), {q: e[0].evalue for q, e in errors.items() if e}

    (tmp_path / "tb").mkdir()
    nbformat.write(good_lesson(), tmp_path / "tb" / "lesson.ipynb")
    errors = execute(source(TEACHBACK, "checks"), tmp_path / "tb")
    assert all(not errors[c] for c in CHECK_IDS), {c: e[0].evalue for c, e in errors.items() if e}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, review):
    """One temporary course: the three assignments released, three submissions to each, autograded."""
    course = course_copy(tmp_path_factory.mktemp("course"))
    # One nbgrader run releases all three (the assignment id is a glob), and one grades all three below:
    # each run costs seconds of start-up on a small CI machine.
    generate = nbgrader(course, "generate_assignment", "engineering-*", "--force")
    assert generate.returncode == 0, generate.stderr[-3000:]
    released = {name: course / "_nbgrader" / "release" / name for name in (REVIEW, QUIZ, TEACHBACK)}

    # Review: correct; partly wrong (two parts fail visible tests); wrong only where hidden tests look.
    review_release = nbformat.read(released[REVIEW] / f"{REVIEW}.ipynb", as_version=4)
    right = solutions(review)
    partly = {**right, **VISIBLY_WRONG}
    hidden_only = {**right, **{k: WRONG[k] for k in ("lines_for_product", "risky_calls", "review_code")}}
    for answers in (partly, hidden_only):
        del answers["reflection"]  # left as released
    review_subs = {"correct": fill(review_release, right), "partly": fill(review_release, partly),
                   "hidden": fill(review_release, hidden_only)}
    for student, nb in review_subs.items():
        submit(course, REVIEW, student, {f"{REVIEW}.ipynb": nb})

    # Quiz: every answer right; four right and two wrong; every question answered, every answer wrong.
    quiz_release = nbformat.read(released[QUIZ] / f"{QUIZ}.ipynb", as_version=4)
    key = [eval(k) for k in _quiz_key(source(QUIZ))]
    wrong = [next(o for o in opts if o != k) for k, opts in zip(key, quiz_options(quiz_release))]
    quiz_answers = {"correct": key, "partly": key[:4] + wrong[4:], "hidden": wrong}
    for student, answers in quiz_answers.items():
        _answers_file(submit(course, QUIZ, student, {f"{QUIZ}.ipynb": quiz_release}), answers)

    # Teach-back: a filled lesson; the template as released; a lesson whose sources are left as TODO.
    checks_release = nbformat.read(released[TEACHBACK] / "checks.ipynb", as_version=4)
    template = nbformat.read(released[TEACHBACK] / "lesson.ipynb", as_version=4)
    no_sources = good_lesson()
    no_sources.cells[-1].source = f"## Sources\n\n{teachback.PLACEHOLDER}: links."
    for student, lesson in {"correct": good_lesson(), "partly": no_sources, "hidden": template}.items():
        submit(course, TEACHBACK, student, {"checks.ipynb": checks_release, "lesson.ipynb": lesson})

    autograde = nbgrader(course, "autograde", "engineering-*")
    scores = {name: grades(course, name, ("correct", "partly", "hidden")) for name in released}
    return SimpleNamespace(course=course, released=released, autograde=autograde, scores=scores,
                           review_subs=review_subs)


@pytest.mark.slow
def test_releases_hold_no_solutions_and_no_hidden_tests(graded, review):
    for name, folder in graded.released.items():
        for path in folder.glob("*.ipynb"):
            text = path.read_text(encoding="utf-8")
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
                assert marker not in text, f"{name}/{path.name}: {marker}"
    review_text = (graded.released[REVIEW] / f"{REVIEW}.ipynb").read_text(encoding="utf-8")
    for gid, answer in solutions(review).items():
        lines = [ln.strip() for ln in answer.splitlines() if len(ln.strip()) > 25 and not ln.strip().startswith("def ")]
        assert lines and not [ln for ln in lines if ln in review_text], f"{gid}: solution text leaked into the release"
    for gid in REVIEW_POINTS:
        hidden = HIDDEN.search(by_id(review)[gid].source).group(0)
        leaked = [ln.strip() for ln in hidden.splitlines()[1:-1] if len(ln.strip()) > 25 and ln.strip() in review_text]
        assert not leaked, f"{gid}: hidden test lines in the release: {leaked[:3]}"
    quiz_text = (graded.released[QUIZ] / f"{QUIZ}.ipynb").read_text(encoding="utf-8")
    assert not re.search(r"quiz\.answers\[\d\] ==", quiz_text), "the quiz's answer key is in the release"
    assert not list(graded.released[QUIZ].rglob("*.json")), "no answers file may ship with the quiz"


@pytest.mark.slow
def test_releases_fail_their_own_visible_tests(graded, tmp_path):
    errors = execute(nbformat.read(graded.released[REVIEW] / f"{REVIEW}.ipynb", as_version=4), tmp_path)
    assert all(errors[gid] for gid in REVIEW_POINTS)
    assert errors["test_lines_for_product"][0].ename == "NotImplementedError"

    errors = execute(nbformat.read(graded.released[QUIZ] / f"{QUIZ}.ipynb", as_version=4), tmp_path)
    assert all(errors[q] and "answer question" in errors[q][0].evalue for q in QUIZ_IDS)

    folder = tmp_path / "teachback"
    folder.mkdir()
    nbformat.write(nbformat.read(graded.released[TEACHBACK] / "lesson.ipynb", as_version=4), folder / "lesson.ipynb")
    errors = execute(nbformat.read(graded.released[TEACHBACK] / "checks.ipynb", as_version=4), folder)
    assert [c for c in CHECK_IDS if not errors[c]] == ["check_sections"], "the template keeps every section, nothing else"


@pytest.mark.slow
def test_hidden_only_wrong_answers_pass_the_visible_tests_in_the_learners_notebook(graded, tmp_path):
    errors = execute(graded.review_subs["hidden"], tmp_path)
    assert not any(errors[gid] for gid in REVIEW_POINTS), {g: e[0].evalue for g, e in errors.items() if e}


@pytest.mark.slow
def test_autograde_scores_the_review(graded):
    assert graded.autograde.returncode == 0, graded.autograde.stderr[-3000:]
    s = graded.scores[REVIEW]
    assert s["correct"].auto == {**REVIEW_POINTS, "reflection": None}
    assert s["correct"].code_score == s["correct"].max_code_score == 14 and s["correct"].needs_manual_grade
    # The assistant's query and an empty check fail visible tests; the reflection was left blank.
    assert s["partly"].auto == {**REVIEW_POINTS, "test_lines_for_product": 0, "test_check_chunked": 0, "reflection": 0}
    assert s["partly"].code_score == 9
    # Three parts pass every visible test and fail hidden ones.
    assert s["hidden"].auto == {**REVIEW_POINTS, "test_lines_for_product": 0, "test_risky_calls": 0,
                                "test_review_code": 0, "reflection": 0}
    assert s["hidden"].code_score == 6
    done = nbformat.read(graded.course / "_nbgrader" / "autograded" / "correct" / REVIEW / f"{REVIEW}.ipynb", as_version=4)
    cells = by_id(done)
    assert "### BEGIN HIDDEN TESTS" in cells["test_review_code"].source  # restored from the gradebook
    # (the kernel may send the printed line in more than one piece)
    assert "".join(o.get("text", "") for o in cells["try_it"].outputs) == "Skipped while grading.\n"


@pytest.mark.slow
def test_autograde_scores_the_quiz_from_the_saved_answers(graded):
    assert graded.autograde.returncode == 0, graded.autograde.stderr[-3000:]
    s = graded.scores[QUIZ]
    assert s["correct"].code_score == s["correct"].max_code_score == 6 and not s["correct"].needs_manual_grade
    assert s["partly"].auto == {"q1": 1, "q2": 1, "q3": 1, "q4": 1, "q5": 0, "q6": 0}
    assert s["hidden"].code_score == 0  # every question answered (visible tests pass), every answer wrong


@pytest.mark.slow
def test_autograde_scores_each_teachback_requirement(graded):
    assert graded.autograde.returncode == 0, graded.autograde.stderr[-3000:]
    s = graded.scores[TEACHBACK]
    assert s["correct"].auto == dict.fromkeys(CHECK_IDS, 1) and s["correct"].code_score == 8
    assert s["partly"].auto == {**dict.fromkeys(CHECK_IDS, 1), "check_filled": 0, "check_sources": 0}
    assert s["hidden"].auto == {**dict.fromkeys(CHECK_IDS, 0), "check_sections": 1}  # the untouched template

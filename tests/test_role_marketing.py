"""The marketing path: its chapters run and glue numbers that match the data; its three assignments (the
graded exercise, the quiz and the teach-back) pass their own tests from source, hold no answers once
released, fail their visible tests unanswered, and grade exactly through real nbgrader.

The data tests need the mirror (`ADOPTKIT_DATA_MIRROR`, e.g. ../shared/data) or a filled cache.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest
from myst_nb.core.read import read_myst_markdown_notebook

import test_book as book_tests
from nbgrader_harness import HIDDEN, ROOT, by_id, execute, fill, grades, nbgrader, release, solutions, submit

PATH = "book/roles/marketing"
CHAPTERS = [f"{PATH}/{name}" for name in ("product-copy", "keywords-and-intent", "campaign-segments", "brand-checks")]
COPY, QUIZ, TEACHBACK = "marketing-copy", "marketing-quiz", "marketing-teachback"
COPY_POINTS = {"test_product_facts": 3, "test_keyword_revenue": 2, "test_segment_conversion": 3,
               "test_check_copy": 3, "test_draft_copy": 3}
QUIZ_POINTS = {f"q{i}": 2 for i in range(1, 6)}
REQUIREMENTS = ["title", "sections", "filled", "objectives", "example", "exercise", "sources", "length"]


def source(assignment: str, name: str | None = None):
    return nbformat.read(ROOT / "exercises" / assignment / f"{name or assignment}.ipynb", as_version=4)


def _run(code: str, ns: dict) -> None:
    exec(compile(code, "<exercise cell>", "exec"), ns)


# ---- the path page and the chapters -----------------------------------------------------------------

def test_path_page_states_outcomes_time_prerequisites_and_links_every_chapter_and_assignment():
    text = (ROOT / PATH / "index.md").read_text()
    for heading in ("## What you will be able to do", "## Chapters", "## Time", "## Prerequisites"):
        assert heading in text
    for chapter in CHAPTERS:
        assert f"{{doc}}`{chapter.rsplit('/', 1)[1]}`" in text, chapter
    for assignment in (COPY, QUIZ, TEACHBACK):
        assert f"exercises/{assignment}/" in text and (ROOT / "exercises" / assignment).is_dir()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_structure(chapter):
    book_tests.test_chapter_structure(chapter)  # objectives first, hidden preamble, summary, exercises last


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_under_nbval(chapter, tmp_path):
    if chapter in book_tests.notebook_chapters():
        pytest.skip("listed in _toc.yml: test_book.py runs nbval on it")
    book_tests.test_chapter_runs_under_nbval(chapter, tmp_path)


@pytest.fixture(scope="module")
def glued(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Each chapter executed once in a real kernel: its glued values as text, by name (errors fail here)."""
    from nbclient import NotebookClient

    out = {}
    for chapter in CHAPTERS:
        nb = read_myst_markdown_notebook((ROOT / f"{chapter}.md").read_text())
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path_factory.mktemp("chapter"))}}).execute()
        code = [c for c in nb.cells if c.cell_type == "code"]
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{chapter}: {errors[0].ename}: {errors[0].evalue}"
        # Which model answered is said first; every table or chart of data is followed by its citation.
        assert "LLM endpoint" in "".join(o.get("text", "") for o in code[1].outputs), f"{chapter}: no banner"
        for cell, after in zip(code, code[1:] + [None]):  # the citation is in the cell or the next one
            shows = [o for o in cell.outputs if "image/png" in o.get("data", {})
                     or "<table" in o.get("data", {}).get("text/html", "")]
            cites = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                            for c in (cell, after) if c for o in c.outputs)
            assert not shows or "Data: " in cites, f"{chapter}: a table or chart without a citation:\n{cell.source[:300]}"
        out[chapter.rsplit("/", 1)[1]] = {
            o.metadata["scrapbook"]["name"]: o.data["application/papermill.record/text/plain"]
            for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "display_data" and "scrapbook" in o.get("metadata", {})}
    return out


@pytest.mark.slow
def test_glued_numbers_match_the_data(glued):
    """Key figures of each chapter, computed here independently of the chapters' code."""
    import pandas as pd
    from statsmodels.stats.proportion import proportion_confint

    from adoptkit import settings
    from adoptkit.data import load

    config = settings.load(ROOT / "_config.yml")
    retail, bank = load("online_retail", config), load("bank_marketing", config)
    sessions = load("online_shoppers", config)

    products = retail["StockCode"].str.match(r"^\d{5}")
    sold = (products & ~retail["InvoiceNo"].str.startswith("C") & (retail["Quantity"] > 0)
            & (retail["UnitPrice"] > 0) & retail["Description"].notna())
    copy = glued["product-copy"]
    assert int(copy["n_sold"]) == sold.sum() and int(copy["n_not_products"]) == (~products).sum()
    assert int(copy["n_products"]) == retail.loc[sold, "StockCode"].nunique()
    assert int(glued["brand-checks"]["n_products"]) == int(copy["n_products"])
    # The offline model cannot write a headline: no draft is well-formed (a real model would change this).
    assert copy["n_wellformed"] == "0" and copy["n_no_headline"] == copy["n_drafts"] == "12"

    keywords = glued["keywords-and-intent"]
    lines = retail[sold]
    revenue = lines["Quantity"] * lines["UnitPrice"]
    assert keywords["top_word"] == "'bag'"
    has_bag = lines["Description"].str.lower().str.contains(r"\bbag\b")
    assert float(keywords["top_word_share"]) == pytest.approx(revenue[has_bag].sum() / revenue.sum())
    assert int(keywords["n_sessions"]) == len(sessions)
    assert float(keywords["conversion"]) == pytest.approx(sessions["Revenue"].mean())
    assert keywords["missing_months"] == "'Jan and Apr'"
    monthly = sessions.groupby("Month", observed=True)["Revenue"].mean()
    assert keywords["best_month"] == repr(monthly.idxmax())

    segments = glued["campaign-segments"]
    yes = bank["y"] == "yes"
    assert float(segments["overall_rate"]) == pytest.approx(yes.mean())
    success = bank["poutcome"] == "success"
    assert float(segments["best_rate"]) == pytest.approx(yes[success].mean())
    assert segments["best_segment"] == "'poutcome = success'"
    chosen = 0
    for column in ("job", "education", "poutcome"):
        counts = bank.groupby(column, observed=True)["y"].agg(n="size", k=lambda y: (y == "yes").sum())
        low, _ = proportion_confint(counts["k"], counts["n"], method="wilson")
        chosen += int(((counts["n"] >= 100) & (low > yes.mean())).sum())
    bands = pd.cut(bank["age"], [0, 24, 34, 44, 54, 64, 200])
    counts = yes.groupby(bands, observed=True).agg(n="size", k="sum")
    chosen += int(((counts["n"] >= 100) & (proportion_confint(counts["k"], counts["n"], method="wilson")[0] > yes.mean())).sum())
    assert int(segments["n_chosen"]) == chosen

    checks = glued["brand-checks"]
    assert checks["n_hand_as_expected"] == checks["n_hand"]  # the checker finds every planted fault
    assert int(checks["n_named_banned"]) == 3  # BEST MUM, BEST WISHES, PERFECT POST: real product names
    assert float(checks["pass_template"]) == 1.0


# ---- marketing-copy: the graded exercise, in process --------------------------------------------------

# Plausible wrong answers: each passes the visible tests of its part and must fail the hidden ones.
WRONG = {
    # the median instead of the most common price, and postage kept as a product
    "product_facts": '''
def product_facts(retail):
    lines = retail[~retail["InvoiceNo"].str.startswith("C") & (retail["Quantity"] > 0) & (retail["UnitPrice"] > 0)
                   & retail["Description"].notna()]
    per_product = lines.assign(Description=lines["Description"].str.strip()).groupby("StockCode")
    return pd.DataFrame({"description": per_product["Description"].agg(lambda d: d.mode().iloc[0]),
                         "price": per_product["UnitPrice"].median(), "units": per_product["Quantity"].sum()})
''',
    # a word repeated in one description counts twice
    "keyword_revenue": '''
def keyword_revenue(lines, n=10):
    words = lines["Description"].map(lambda d: [w for w in re.findall(r"[a-z]+", d.lower()) if len(w) >= 3 and w not in IGNORE])
    per_word = lines.assign(keyword=words, revenue=lines["Quantity"] * lines["UnitPrice"]).explode("keyword")
    return per_word.groupby("keyword")["revenue"].sum().sort_values(ascending=False).head(n)
''',
    # "more than" instead of "at least", and the overall rate of the kept segments only
    "segment_conversion": '''
def segment_conversion(bank, column, min_customers=100):
    table = (bank["y"] == "yes").groupby(bank[column], observed=True).agg(customers="size", rate="mean")
    table = table[table["customers"] > min_customers]
    overall = (table["rate"] * table["customers"]).sum() / table["customers"].sum()
    return table.assign(lift=table["rate"] / overall).sort_values("rate", ascending=False)
''',
    # substrings instead of words ("every" contains "ever"), and only the first price
    "check_copy": '''
def check_copy(text, price):
    broken = []
    if any(word in text.lower() for word in BANNED):
        broken.append("claim")
    if len(text) > MAX_CHARS:
        broken.append("length")
    first = re.search(r"£\\s?(\\d+(?:\\.\\d+)?)", text)
    if first and abs(float(first.group(1)) - price) > 0.005:
        broken.append("price")
    return sorted(broken)
''',
    # trusts whatever JSON comes back, fenced or incomplete
    "draft_copy": '''
def draft_copy(product, client, model=MODEL):
    prompt = (f"Write product copy as JSON with the keys headline and body for {product['description']}, "
              f"£{product['price']:.2f}. Do not use: {', '.join(BANNED)}.")
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                           temperature=0).choices[0].message.content
    try:
        return json.loads(reply)
    except json.JSONDecodeError:
        return None
''',
}
# A wrong answer the visible tests already catch: a rule name that is not one of the three.
VISIBLY_WRONG_CHECK = '''
def check_copy(text, price):
    return ["superlative"] if re.search(r"\\bbest\\b", text, re.I) else []
'''


def test_sources_are_committed_clean_locked_and_worth_their_stated_points():
    for assignment, name, points in ((COPY, None, COPY_POINTS), (QUIZ, None, QUIZ_POINTS),
                                     (TEACHBACK, "checks", {f"check_{r}": 1 for r in REQUIREMENTS})):
        nb = source(assignment, name)
        nbformat.validate(nb)
        assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
        cells = by_id(nb)
        graded = {gid: c.metadata["nbgrader"]["points"] for gid, c in cells.items()
                  if c.metadata["nbgrader"]["grade"] and c.metadata["nbgrader"]["locked"]}
        assert graded == points, assignment
        for gid in points:
            meta = cells[gid].metadata
            assert meta["deletable"] is False and meta["editable"] is False
            assert f"({points[gid]} point" in cells[gid].source.splitlines()[0], f"{gid}: no points in its header"
            if assignment != TEACHBACK:
                assert "### BEGIN HIDDEN TESTS" in cells[gid].source, f"{gid} has no hidden tests"
        for cell in nb.cells:
            if cell.metadata["nbgrader"]["locked"] and cell.cell_type == "code":
                assert "Just run this cell" in cell.source, cell.id
        intro = cells["intro"].source
        assert f"{sum(points.values())} points" in intro or f"{sum(points.values()) + 3} points" in intro
    intro = by_id(source(COPY))["intro"].source
    assert "17 points" in intro and "14 autograded" in intro and "hidden tests" in intro
    reflection = by_id(source(COPY))["reflection"].metadata["nbgrader"]
    assert reflection["solution"] and reflection["grade"] and not reflection["locked"] and reflection["points"] == 3
    assert "peer" in by_id(source(TEACHBACK, "checks"))["intro"].source.lower()


def test_teachback_lesson_is_the_kits_template():
    from adoptkit.engage import teachback

    lesson = nbformat.read(ROOT / "exercises" / TEACHBACK / "lesson.ipynb", as_version=4)
    template = teachback.template("checking AI-written marketing copy against the brand and the facts", "marketing")
    assert [(c.cell_type, c.source) for c in lesson.cells] == [(c.cell_type, c.source) for c in template.cells]
    assert not any(c.get("outputs") for c in lesson.cells)


@pytest.fixture(scope="module")
def solved():
    """The setup cell and every correct part run, each followed by all its tests (hidden ones included)."""
    nb = source(COPY)
    cells, ns = by_id(nb), {}
    _run(cells["setup"].source, ns)
    for part, code in solutions(nb).items():
        if part != "reflection":
            _run(code, ns)
            _run(cells[f"test_{part}"].source, ns)  # raises if the source fails its own tests
    return ns


@pytest.mark.parametrize("part", list(WRONG))
def test_hidden_tests_catch_a_wrong_answer_that_passes_the_visible_ones(part, solved):
    test_cell = by_id(source(COPY))[f"test_{part}"].source
    ns = dict(solved)
    _run(WRONG[part], ns)
    _run(HIDDEN.sub("", test_cell), ns)  # the visible tests, as released: must pass
    with pytest.raises(AssertionError) as caught:
        _run(test_cell, ns)
    assert str(caught.value).strip(), "the hidden test that failed should tell the learner why"


def test_visible_tests_catch_a_made_up_rule_name(solved):
    ns = dict(solved)
    _run(VISIBLY_WRONG_CHECK, ns)
    with pytest.raises(AssertionError, match="'best' is a banned claim"):
        _run(HIDDEN.sub("", by_id(source(COPY))["test_check_copy"].source), ns)


# ---- the quiz and the teach-back, in process ---------------------------------------------------------

def quiz_key() -> list[str]:
    """The right answers, read from the hidden tests (the learner's copy has none)."""
    cells = by_id(source(QUIZ))
    hidden = [HIDDEN.search(cells[q].source).group(0) for q in QUIZ_POINTS]
    return [ast.literal_eval(re.search(r"== (['\"].*['\"]), \"Question", h).group(1)) for h in hidden]


def questions() -> list:
    ns: dict = {}
    _run(by_id(source(QUIZ))["quiz"].source.rsplit("\nquiz = ", 1)[0], ns)
    return ns["QUESTIONS"]


def answers_file(folder, answers) -> None:
    """What the learner's clicks leave beside the notebook (the format adoptkit.widgets.Quiz writes)."""
    (folder / "quiz-answers").mkdir(parents=True, exist_ok=True)
    (folder / "quiz-answers" / f"{QUIZ}.json").write_text(json.dumps({"quiz": QUIZ, "answers": answers}))


def wrong_answers() -> list[str]:
    """A first option that is not the key, for every question."""
    key = quiz_key()
    return [next(o for o in options if o != right) for (_, options), right in zip(questions(), key)]


def run_quiz(folder, answers, hidden: bool) -> dict[str, BaseException | None]:
    """Run the quiz cell and each question's test cell in `folder`; the exception of each, or None."""
    answers_file(folder, answers)
    cells, ns, out = by_id(source(QUIZ)), {}, {}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        _run(cells["quiz"].source, ns)
        for q in QUIZ_POINTS:
            try:
                _run(cells[q].source if hidden else HIDDEN.sub("", cells[q].source), ns)
                out[q] = None
            except AssertionError as err:
                out[q] = err
    finally:
        os.chdir(cwd)
    return out


def test_quiz_key_names_one_option_of_each_question_and_varies_its_position():
    key = quiz_key()
    qs = questions()
    assert len(qs) == len(key) == 5
    positions = [options.index(right) for (_, options), right in zip(qs, key)]  # ValueError if a key is a typo
    assert len(set(positions)) > 1, "the right answer should not always sit in the same place"


def test_quiz_right_answers_pass_and_wrong_ones_fail_only_the_hidden_tests(tmp_path):
    key = quiz_key()
    assert all(e is None for e in run_quiz(tmp_path / "right", key, hidden=True).values())
    assert all(e is None for e in run_quiz(tmp_path / "wrong", wrong_answers(), hidden=False).values())
    assert all(e is not None for e in run_quiz(tmp_path / "wrong", wrong_answers(), hidden=True).values())
    unanswered = run_quiz(tmp_path / "none", [None] * 5, hidden=False)
    assert all("not answered yet" in str(e) for e in unanswered.values())


def filled_lesson() -> nbformat.NotebookNode:
    """A lesson a learner could hand in: every requirement met."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        md("# Checking AI product copy before it goes live"),
        md("## Who this is for\n\nColleagues in the web team who publish product pages every week, know our "
           "brand guide well and have started to ask a language model for first drafts. No programming is "
           "needed to follow the example; running it needs the course's JupyterLab. We look at drafts for our "
           "own gift range, and the same checks work for any product where the facts sit in a table."),
        md("## What you will be able to do\n\n- build a fact sheet for a product from the sales data\n"
           "- flag banned claims, wrong prices and invented materials in a draft\n"
           "- decide which drafts a person must read before publication"),
        md("## Worked example\n\nWe load the real sales lines, take the most common price of one product and "
           "check a draft that quotes the wrong price. The draft reads well, which is exactly why the check "
           "runs before anyone is tempted to publish it."),
        code("from adoptkit import data\nretail = data.load('online_retail')\n"
             "prices = retail.loc[retail['StockCode'] == '85123A', 'UnitPrice']\nprint(prices.mode().min())"),
        md("## Try it yourself\n\nExercise: write a check for pressure phrases such as 'hurry' or 'last "
           "chance'. Which real product names would it flag by mistake?"),
        code("# your code here"),
        md("## Common mistakes\n\nTrusting a draft because it reads well; banning words that are part of product "
           "names (BEST WISHES is a greeting); forgetting that a rule cannot see a paraphrased claim."),
        md("## Sources\n\nData: UCI Online Retail, https://archive.ics.uci.edu/dataset/352/online+retail"),
    ])


def test_teachback_checks_cover_every_requirement_and_score_lessons(tmp_path):
    from adoptkit.engage import teachback

    cells = by_id(source(TEACHBACK, "checks"))
    assert [gid for gid in cells if gid.startswith("check_")] == [f"check_{r}" for r in REQUIREMENTS]
    # The checks cover exactly what teachback.problems can report (an empty lesson and the template between
    # them miss every requirement).
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "lesson.ipynb")
    seen = set(teachback.problems(tmp_path / "lesson.ipynb"))
    nbformat.write(teachback.template("x"), tmp_path / "lesson.ipynb")
    assert seen | set(teachback.problems(tmp_path / "lesson.ipynb")) == set(REQUIREMENTS)

    def failing(lesson) -> set[str]:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        if lesson is not None:
            nbformat.write(lesson, folder / "lesson.ipynb")
        ns, out, cwd = {}, set(), os.getcwd()
        os.chdir(folder)
        try:
            _run(cells["read_lesson"].source, ns)
            for r in REQUIREMENTS:
                try:
                    _run(cells[f"check_{r}"].source, ns)
                except AssertionError:
                    out.add(r)
        finally:
            os.chdir(cwd)
        return out

    assert failing(filled_lesson()) == set()
    assert failing(nbformat.read(ROOT / "exercises" / TEACHBACK / "lesson.ipynb", as_version=4)) == {
        "title", "filled", "objectives", "example", "exercise", "sources", "length"}  # only "sections" is there
    assert failing(None) == set(REQUIREMENTS)  # no lesson at all: every check fails, with the reason


# ---- slow: real kernels and real nbgrader -------------------------------------------------------------

@pytest.mark.slow
def test_copy_source_passes_nbval_lax_and_nbgrader_validate():
    folder = ROOT / "exercises" / COPY
    nbval = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", str(folder), "-q", "-p", "no:cacheprovider"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert nbval.returncode == 0, nbval.stdout[-3000:] + nbval.stderr[-3000:]
    assert re.search(r"\b\d+ passed\b", nbval.stdout) and "failed" not in nbval.stdout, nbval.stdout[-500:]
    validate = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(folder / f"{COPY}.ipynb")],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert validate.returncode == 0 and "passes all the tests" in validate.stdout, validate.stdout + validate.stderr


@pytest.mark.slow
def test_quiz_and_teachback_sources_pass_their_own_tests_with_right_answers(tmp_path):
    """A quiz source needs the learner's clicks and a teach-back a lesson: with right ones, no cell fails."""
    quiz_dir, tb_dir = tmp_path / "quiz", tmp_path / "teachback"
    answers_file(quiz_dir, quiz_key())
    tb_dir.mkdir()
    nbformat.write(filled_lesson(), tb_dir / "lesson.ipynb")
    for nb, folder in ((source(QUIZ), quiz_dir), (source(TEACHBACK, "checks"), tb_dir)):
        errors = execute(nb, folder)
        assert not any(errors.values()), {gid: e[0].evalue for gid, e in errors.items() if e}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """One temporary course: the three assignments released, submissions put in, one autograde per assignment."""
    from nbgrader_harness import course_copy

    root = course_copy(tmp_path_factory.mktemp("course"))
    released = {a: release(root, a) for a in (COPY, QUIZ, TEACHBACK)}
    copy_release = nbformat.read(released[COPY] / f"{COPY}.ipynb", as_version=4)
    right = solutions(source(COPY))
    submissions = {
        COPY: {
            "correct": right,
            # two parts fail hidden tests only, one fails a visible test, the reflection is left blank
            "partly": {**right, "product_facts": WRONG["product_facts"], "draft_copy": WRONG["draft_copy"],
                       "check_copy": VISIBLY_WRONG_CHECK, "reflection": "YOUR ANSWER HERE"},
            "hidden": {**right, **WRONG},  # green in the learner's notebook, every hidden test fails
        },
    }
    for student, answers in submissions[COPY].items():
        submit(root, COPY, student, {f"{COPY}.ipynb": fill(copy_release, answers)})
    quiz_release = nbformat.read(released[QUIZ] / f"{QUIZ}.ipynb", as_version=4)
    key, wrong = quiz_key(), wrong_answers()
    for student, answers in {"correct": key, "partly": key[:3] + wrong[3:], "hidden": wrong,
                             "unanswered": None}.items():
        folder = submit(root, QUIZ, student, {f"{QUIZ}.ipynb": quiz_release})
        if answers is not None:
            answers_file(folder, answers)
    checks = nbformat.read(released[TEACHBACK] / "checks.ipynb", as_version=4)
    template = nbformat.read(released[TEACHBACK] / "lesson.ipynb", as_version=4)
    partly = filled_lesson()
    partly.cells = partly.cells[:-1]  # no Sources section: "sections" and "sources" fail
    for student, lesson in {"correct": filled_lesson(), "partly": partly, "template": template}.items():
        submit(root, TEACHBACK, student, {"checks.ipynb": checks, "lesson.ipynb": lesson})
    runs = {a: nbgrader(root, "autograde", a) for a in (COPY, QUIZ, TEACHBACK)}
    return SimpleNamespace(root=root, released=released, runs=runs, copy_release=copy_release,
                           quiz_release=quiz_release, template=template, checks=checks)


@pytest.mark.slow
def test_releases_hold_no_solutions_hidden_tests_or_answers(course):
    for assignment, folder in course.released.items():
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        expected = {COPY: [f"{COPY}.ipynb"], QUIZ: [f"{QUIZ}.ipynb"], TEACHBACK: ["checks.ipynb", "lesson.ipynb"]}
        assert files == expected[assignment], files  # no quiz-answers/, nothing else
        for path in folder.glob("*.ipynb"):
            text = path.read_text(encoding="utf-8")
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
                assert marker not in text, f"{path.name}: {marker}"
    released = nbformat.writes(course.quiz_release)
    assert not [q for q in range(5) if f"quiz.answers[{q}] ==" in released], "the answer key is in the release"
    cells = by_id(course.copy_release)
    for gid, answer in solutions(source(COPY)).items():
        lines = [ln.strip() for ln in answer.splitlines() if len(ln.strip()) > 25 and not ln.strip().startswith("def ")]
        text = nbformat.writes(course.copy_release)
        assert lines and not [ln for ln in lines if ln in text], f"{gid}: solution text leaked into the release"
        assert ("YOUR ANSWER HERE" if gid == "reflection" else "raise NotImplementedError()") in cells[gid].source


@pytest.mark.slow
def test_releases_fail_their_own_visible_tests(course, tmp_path):
    for name in ("copy", "quiz", "teachback"):
        (tmp_path / name).mkdir()
    errors = execute(course.copy_release, tmp_path / "copy")
    assert all(errors[gid] for gid in COPY_POINTS) and errors["test_product_facts"][0].ename == "NotImplementedError"
    errors = execute(course.quiz_release, tmp_path / "quiz")  # nothing clicked yet
    assert all(errors[q] and "not answered yet" in errors[q][0].evalue for q in QUIZ_POINTS)
    folder = tmp_path / "teachback"
    nbformat.write(course.template, folder / "lesson.ipynb")
    errors = execute(course.checks, folder)
    # the template's own headings and hints earn nothing: only the learner's words count
    assert {gid for gid, e in errors.items() if e} == {f"check_{r}" for r in ("title", "filled", "objectives", "example",
                                                                             "exercise", "sources", "length")}


@pytest.mark.slow
def test_autograde_scores_the_graded_exercise_exactly(course):
    run = course.runs[COPY]
    assert run.returncode == 0, run.stderr[-3000:]
    got = grades(course.root, COPY, ("correct", "partly", "hidden"))
    assert got["correct"].auto == {**COPY_POINTS, "reflection": None}
    assert got["correct"].code_score == got["correct"].max_code_score == 14 and got["correct"].needs_manual_grade
    assert got["partly"].auto == {"test_product_facts": 0, "test_keyword_revenue": 2, "test_segment_conversion": 3,
                                  "test_check_copy": 0, "test_draft_copy": 0, "reflection": 0}
    assert got["partly"].code_score == 5
    assert got["hidden"].auto == {**{gid: 0 for gid in COPY_POINTS}, "reflection": None}
    assert got["hidden"].code_score == 0
    done = nbformat.read(course.root / "_nbgrader" / "autograded" / "hidden" / COPY / f"{COPY}.ipynb", as_version=4)
    assert "### BEGIN HIDDEN TESTS" in by_id(done)["test_draft_copy"].source  # restored from the gradebook
    assert [o.get("text") for o in by_id(done)["try_it"].outputs] == ["Skipped while grading.\n"]


@pytest.mark.slow
def test_autograde_scores_the_quiz_from_the_saved_answers(course):
    run = course.runs[QUIZ]
    assert run.returncode == 0, run.stderr[-3000:]
    got = grades(course.root, QUIZ, ("correct", "partly", "hidden", "unanswered"))
    assert got["correct"].auto == QUIZ_POINTS and got["correct"].code_score == 10
    assert got["partly"].auto == {"q1": 2, "q2": 2, "q3": 2, "q4": 0, "q5": 0} and got["partly"].code_score == 6
    assert got["hidden"].code_score == 0 and got["unanswered"].code_score == 0
    assert not any(g.needs_manual_grade for g in got.values())


@pytest.mark.slow
def test_autograde_scores_the_teachback_structure(course):
    run = course.runs[TEACHBACK]
    assert run.returncode == 0, run.stderr[-3000:]
    got = grades(course.root, TEACHBACK, ("correct", "partly", "template"))
    assert got["correct"].code_score == got["correct"].max_code_score == 8
    assert {k for k, v in got["partly"].auto.items() if v == 0} == {"check_sections", "check_sources"}
    assert got["partly"].code_score == 6
    assert {k for k, v in got["template"].auto.items() if v == 1} == {"check_sections"}  # headings kept, nothing written
    assert got["template"].code_score == 1
    graded_lesson = course.root / "_nbgrader" / "autograded" / "correct" / TEACHBACK / "lesson.ipynb"
    assert graded_lesson.is_file()  # the lesson is kept, executed, beside its checks

"""A new path made with the scaffold, end to end: the `adoptkit new` commands in a scratch copy of a small
course, the book built from it with `-W`, and its exercises graded by real nbgrader with the course's hardened
config (the source's solution gets full marks; each declared wrong answer loses its part's points; the no-code
exercise and the quiz graded from answers given through their widgets).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from authoring_course import PATH, ROOT, small_course
from nbgrader_harness import fill, grades, nbgrader, solutions, submit

from adoptkit.authoring import toc

pytestmark = pytest.mark.slow
CODE, NOCODE, QUIZ = f"{PATH}-triage", f"{PATH}-replies", f"{PATH}-quiz"
CHAPTER = f"book/roles/{PATH}/complaint-triage"


def adoptkit(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")}
    return subprocess.run([sys.executable, "-m", "adoptkit.cli", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = small_course(tmp_path_factory.mktemp("authoring-course"))
    for args in (["new", "path", PATH], ["new", "chapter", PATH, "complaint-triage"],
                 ["new", "exercise", "triage", "--path", PATH], ["new", "exercise", "replies", "--path", PATH, "--no-code"]):
        proc = adoptkit(course, *args)
        assert proc.returncode == 0, f"adoptkit {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return course


def test_the_commands_write_the_pages_and_keep_the_toc_s_comments(course):
    text = (course / "_toc.yml").read_text()
    assert "# One entry per role: its path page, with the role's chapters as sections." in text
    assert "# Pages for the course team go here." in text
    parsed = toc.read(course)
    assert toc.part_files(parsed, "Role paths") == ["book/roles/about", f"book/roles/{PATH}/index", CHAPTER]
    assert toc.sections(parsed, f"book/roles/{PATH}/index") == [CHAPTER]
    for rel in (f"exercises/{CODE}/{CODE}.ipynb", f"autograders/{CODE}/wrong-answers.yml", f"content/{NOCODE}.yml",
                f"exercises/{NOCODE}/{NOCODE}.ipynb", f"exercises/{NOCODE}/tasks.yml", f"exercises/{QUIZ}/{QUIZ}.ipynb",
                f"exercises/{PATH}-teachback/lesson.ipynb", f"exercises/{PATH}-teachback/checks.ipynb"):
        assert (course / rel).is_file(), rel
    index = (course / f"book/roles/{PATH}/index.md").read_text()
    assert "{doc}`complaint-triage`" in index and f"`{CODE}`" in index and f"`{NOCODE}`" in index


def test_a_second_run_refuses_and_changes_nothing(course):
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file() and "_build" not in p.parts}
    for args in (["new", "path", PATH], ["new", "chapter", PATH, "complaint-triage"],
                 ["new", "exercise", "triage", "--path", PATH], ["new", "path", "../escape"],
                 ["new", "chapter", PATH, "x\n- file: evil"], ["new", "exercise", "a: b", "--path", PATH]):
        proc = adoptkit(course, *args)
        assert proc.returncode == 1 and proc.stderr.strip(), (args, proc.stdout, proc.stderr)
    after = {p: p.read_bytes() for p in course.rglob("*") if p.is_file() and "_build" not in p.parts}
    assert after == before
    assert not (course.parent / "escape").exists()


def test_the_exercise_sources_are_locked_stripped_and_keyless(course):
    for name in (CODE, NOCODE, QUIZ):
        nb = nbformat.read(course / "exercises" / name / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            nbg = cell.metadata.get("nbgrader", {})
            if nbg.get("locked"):
                assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, cell.id
            if nbg.get("grade") and not nbg.get("solution"):
                assert nbg.get("locked") and nbg.get("points"), cell.id
                assert "### BEGIN HIDDEN TESTS" in cell.source, cell.id
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
    tasks = (course / "exercises" / NOCODE / "tasks.yml").read_text()
    for key in ("answer:", "fault:", "why:", "rubric", "wrong_answers", "right_answer"):
        assert key not in tasks, key


@pytest.fixture(scope="module")
def site(course, tmp_path_factory) -> Path:
    from adoptkit import tools
    from adoptkit.site import install_vendor

    install_vendor(course, ROOT / ".cache")
    out = tmp_path_factory.mktemp("authoring-site")
    proc = subprocess.run([tools.find("jupyter-book"), "build", str(course), "-W", "--keep-going", "--path-output",
                           str(out)], cwd=out, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")})
    assert proc.returncode == 0, f"the scaffolded course does not build with -W:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}"
    return out / "_build" / "html"


def test_the_new_path_builds_with_warnings_as_errors(site):
    for page in (f"book/roles/{PATH}/index", CHAPTER):
        assert (site / f"{page}.html").is_file(), page


def test_the_chapter_shows_glued_numbers_attribution_and_alt_text(site):
    from adoptkit.data import load

    page = (site / f"{CHAPTER}.html").read_text(encoding="utf-8")
    data = load("cfpb_complaints")
    counts = data["Product"].value_counts()
    pasted = re.findall(r'<span class="pasted-text">([^<]*)</span>', page)
    assert f"{len(data):,d}" in pasted and html.escape(str(counts.index[0]), quote=False) in pasted
    assert f"{counts.iloc[0] / len(data):.0%}" in pasted
    assert html.escape(data.attrs["citation"], quote=False) in page
    alts = re.findall(r'<img[^>]*alt="([^"]*)"', page)
    assert any("Horizontal bar chart of the eight most frequent values of Product" in a for a in alts), alts
    assert "Chapter learning objectives" in page and "about 60 minutes" in page


# -- real nbgrader ------------------------------------------------------------------------------------------

def _answer_nocode(folder: Path, spec: dict, prompts: dict[str, list[str]], flag_all=False) -> None:
    """The no-code parts done through the widgets' own API, as clicks would do them."""
    from adoptkit.llm.replay import replay_client
    from adoptkit.widgets import CheckWork, Decide, PromptTask, content

    learner = folder / "tasks.yml"
    for p in spec["parts"]:
        part = content.part(learner, p["id"])
        if p["kind"] == "prompt":
            task = PromptTask(part, folder=folder, client=replay_client(lambda _: "(a replayed reply)"))
            for text in prompts[p["id"]]:
                task.write(text)
                task.run()
        elif p["kind"] == "check":
            work = CheckWork(part, folder=folder)
            for s in p["sentences"]:
                if flag_all or s.get("fault"):
                    work.flag(s["id"], s.get("fault") or p["reasons"][0])
        else:
            d = Decide(part, folder=folder, learner="tester")
            for it in p["items"]:
                d.choose(it["id"], it["answer"])


@pytest.fixture(scope="module")
def graded(course):
    gen = nbgrader(course, "generate_assignment", f"{PATH}-*", "--force")
    assert gen.returncode == 0, gen.stderr[-3000:]
    release = course / "_nbgrader" / "release"
    # The code exercise: its own solution, and each declared wrong answer on its own.
    source = nbformat.read(course / "exercises" / CODE / f"{CODE}.ipynb", as_version=4)
    released = nbformat.read(release / CODE / f"{CODE}.ipynb", as_version=4)
    wrong = yaml.safe_load((course / "autograders" / CODE / "wrong-answers.yml").read_text())
    submit(course, CODE, "solver", {f"{CODE}.ipynb": fill(released, solutions(source))})
    for cell, entries in wrong.items():
        answers = {**solutions(source), cell: entries[0]["source"]}
        submit(course, CODE, f"wrong-{cell.replace('_', '-')}", {f"{CODE}.ipynb": fill(released, answers)})
    # The no-code exercise: the declared right answer, a declared wrong one, and flagging every sentence.
    spec = yaml.safe_load((course / "content" / f"{NOCODE}.yml").read_text())
    prompt = spec["parts"][0]
    plans = {"expert": ({prompt["id"]: prompt["right_answer"]}, False),
             "nolabels": ({prompt["id"]: [prompt["right_answer"][0], *prompt["wrong_answers"][0]["prompts"]]}, False),
             "flagall": ({prompt["id"]: prompt["right_answer"]}, True)}
    for student, (prompts, flag_all) in plans.items():
        folder = submit(course, NOCODE, student, {f"{NOCODE}.ipynb": nbformat.read(release / NOCODE / f"{NOCODE}.ipynb", 4)})
        (folder / "tasks.yml").write_text((release / NOCODE / "tasks.yml").read_text())
        _answer_nocode(folder, spec, prompts, flag_all)
    # The quiz: the right options, and always the first option.
    quiz = yaml.safe_load((ROOT / "src/adoptkit/authoring/templates/quiz.yml").read_text())["questions"]
    for student, pick in (("expert", lambda q: q["options"][q["answer"]]), ("first", lambda q: q["options"][0])):
        folder = submit(course, QUIZ, student, {f"{QUIZ}.ipynb": nbformat.read(release / QUIZ / f"{QUIZ}.ipynb", 4)})
        (folder / "quiz-answers").mkdir()
        (folder / "quiz-answers" / f"{QUIZ}.json").write_text(json.dumps({"quiz": QUIZ, "answers": [pick(q) for q in quiz]}))
    auto = nbgrader(course, "autograde", f"{PATH}-*")
    assert auto.returncode == 0, auto.stderr[-4000:]
    return {CODE: grades(course, CODE, ["solver", *(f"wrong-{c.replace('_', '-')}" for c in wrong)]),
            NOCODE: grades(course, NOCODE, list(plans)), QUIZ: grades(course, QUIZ, ["expert", "first"]), "wrong": wrong}


def test_the_code_exercise_s_solution_gets_full_marks_and_each_wrong_answer_loses_its_part(graded):
    scores = graded[CODE]
    solver = scores["solver"]
    assert solver.code_score == solver.max_code_score == 5, solver
    for cell in graded["wrong"]:
        got = scores[f"wrong-{cell.replace('_', '-')}"]
        assert got.auto[f"test_{cell}"] == 0, (cell, got.auto)
        assert all(v > 0 for k, v in got.auto.items() if k != f"test_{cell}"), (cell, got.auto)


def test_the_no_code_exercise_full_marks_and_wrong_answers_lose_points(graded):
    scores = graded[NOCODE]
    expert = scores["expert"]
    assert expert.code_score == expert.max_code_score == 10, expert
    nolabels = scores["nolabels"]
    assert nolabels.auto["label-requests-labels"] == 0 and nolabels.code_score < expert.code_score, nolabels.auto
    flagall = scores["flagall"]
    assert flagall.auto["check-reply-facts"] == 0, flagall.auto


def test_the_quiz_full_marks_and_the_first_option_strategy_at_chance(graded):
    expert, first = graded[QUIZ]["expert"], graded[QUIZ]["first"]
    assert expert.code_score == expert.max_code_score == 4
    assert first.code_score == 1  # one of four right answers stands first


def test_check_runs_the_declared_wrong_answers_and_catches_one_the_tests_miss(course, tmp_path):
    from adoptkit.authoring import check
    from adoptkit.authoring.wrong import load_declared, verify_exercise

    declared = load_declared(course, CODE)
    notebook = course / "exercises" / CODE / f"{CODE}.ipynb"
    assert verify_exercise(course, notebook, declared) == []
    # A "wrong" answer that is in fact right: no test can fail it, and --run says so.
    source = nbformat.read(notebook, as_version=4)
    right = solutions(source)["most_common"]
    declared["answers"] = {"most_common": [{"why": "right after all", "source": right, "caught_by": "hidden"}]}
    problems = verify_exercise(course, notebook, declared)
    assert len(problems) == 1 and "passes test_most_common" in problems[0][1], problems
    # And the prompt parts: the declared answers of the no-code exercise hold.
    spec = yaml.safe_load((course / "content" / f"{NOCODE}.yml").read_text())
    from adoptkit.authoring.wrong import verify_prompt_part

    assert verify_prompt_part(spec["parts"][0]) == []
    weak = {**spec["parts"][0], "wrong_answers": [{"why": "not wrong", "prompts": spec["parts"][0]["right_answer"],
                                                   "loses": ["label-requests-labels"]}]}
    assert "still earns label-requests-labels" in verify_prompt_part(weak)[0]
    assert check.RULES["wrong-answer"]


# -- live sessions: slides and the facilitator guide, opened in chromium -----------------------------------

QUESTION = "Which column of your own export would you count first, and why?"


@pytest.fixture(scope="module")
def slides(course, graded, tmp_path_factory) -> Path:
    """`adoptkit slides PATH` after grading (so the guide has real mistakes), with a question in the exercises."""
    chapter = course / f"{CHAPTER}.md"
    text = chapter.read_text(encoding="utf-8")
    chapter.write_text(text.replace("## Exercises\n\n", f"## Exercises\n\n1. **Your own data.** {QUESTION}\n", 1),
                       encoding="utf-8")
    out = tmp_path_factory.mktemp("authoring-slides")
    proc = adoptkit(course, "slides", PATH, "--out", str(out))
    assert proc.returncode == 0, f"adoptkit slides {PATH}:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return out


def test_the_guide_s_mistakes_are_the_gradebook_s(course, slides, graded):
    """Each graded part under "Common mistakes" with the counts nbgrader's own API gives, most lost first."""
    expected = {}
    for assignment in (CODE, NOCODE, QUIZ):
        nb = nbformat.read(course / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
        points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points", 0)
                  for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
        for student in graded[assignment].values():
            for item, score in student.auto.items():
                lost, n = expected.get((assignment, item), (0, 0))
                expected[(assignment, item)] = (lost + int((score or 0) < points[item]), n + 1)
    guide = (slides / "facilitator.md").read_text(encoding="utf-8")
    section = guide.split("## Common mistakes seen in grading", 1)[1]
    listed = re.findall(r"- `([\w-]+)` part `([\w-]+)`: (\d+) of (\d+) learners lost points", section)
    lost_any = [v for v in expected.values() if v[0] > 0]
    assert len(listed) == min(5, len(lost_any)), (listed, expected)
    for assignment, item, lost, n in listed:
        assert expected[(assignment, item)] == (int(lost), int(n)), (assignment, item, lost, n)
    assert int(listed[0][2]) == max(v[0] for v in lost_any)
    assert "## Agenda" in guide and "about 60 minutes" in guide and QUESTION in guide


@pytest.mark.browser
def test_the_decks_and_the_guide_open_offline_in_chromium(slides):
    from urllib.parse import urlsplit

    from browser import CHROMIUM, launch, serve
    from playwright.sync_api import sync_playwright

    from adoptkit.data import load

    deck_html = (slides / "complaint-triage.slides.html").read_text(encoding="utf-8")
    assert f"{len(load('cfpb_complaints')):,d}" in deck_html  # the chapter's glued count, filled in
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium)")
    requests, failed = [], []
    with serve(slides) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
            page.goto(url, wait_until="networkidle")
            deck = page.locator("a[href$='.slides.html']")
            assert deck.count() == 1, page.content()
            deck.first.click()
            page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
            assert page.evaluate("Reveal.getTotalSlides()") >= 4
            first = page.evaluate("Reveal.getCurrentSlide().textContent")
            assert "Chapter learning objectives" in first, first
            alts = page.eval_on_selector_all(".reveal img", "els => els.map(e => e.alt)")
            assert alts and all(a.strip() for a in alts), alts
            assert "Horizontal bar chart" in " ".join(alts), alts
            text = page.evaluate("document.querySelector('.reveal .slides').textContent")  # every slide, shown or not
            assert QUESTION in text and "import " not in text  # discussed, and no code on the slides
            page.keyboard.press("End")  # the last slide: the prompts to discuss
            page.wait_for_function("Reveal.isLastSlide()", timeout=10_000)
            last = page.evaluate("Reveal.getCurrentSlide().textContent")
            assert "To discuss" in last and QUESTION in last, last
            page.goto(url + "facilitator.html", wait_until="networkidle")
            assert "Common mistakes seen in grading" in page.inner_text("body")
        finally:
            browser.close()
    foreign = sorted({u for u in requests if urlsplit(u).scheme not in ("data", "blob")
                      and urlsplit(u).hostname not in ("127.0.0.1", "localhost")})
    assert requests and not foreign, foreign
    assert not failed, failed


def test_the_guide_shows_no_counts_below_the_minimum_group(course, graded):
    from adoptkit.authoring import facilitator

    url = f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}"
    lines, source = facilitator.mistakes(course, PATH, url, min_group=1000)
    assert not any("learners lost points" in line for line in lines), lines
    assert "shown once at least 1000 are" in source and "declared by its authors, not observed" in lines[0]
    assert any(f"`{CODE}` part `most_common`" in line for line in lines), lines

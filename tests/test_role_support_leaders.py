"""The customer-support and leaders' paths: their path pages, and their quizzes' keys (fast, no nbgrader;
tests/test_nocode_support.py grades both no-code assignments with real nbgrader, the course-solutions check grades
the quizzes and the teach-backs, and test_book builds and runs the chapters)."""

from __future__ import annotations

import ast
import json
import os
import re

import pytest
import yaml
from nbgrader_harness import HIDDEN, ROOT, by_id, source

QUIZZES = {"support-quiz": 6, "leaders-quiz": 5}


def toc_text() -> str:
    return (ROOT / "_toc.yml").read_text()


@pytest.mark.parametrize("path", ["support", "leaders"])
def test_path_page_states_outcomes_time_prerequisites_and_every_chapter_is_in_the_toc(path):
    text = (ROOT / "book" / "roles" / path / "index.md").read_text()
    for heading in ("## What you will be able to do", "## Chapters", "## Time", "## Prerequisites"):
        assert heading in text, f"{path}: {heading} is missing"
    chapters = re.findall(r"\{doc\}`([\w-]+)`", text)
    assert chapters, f"{path}: the page links no chapter"
    for chapter in chapters:
        assert (ROOT / "book" / "roles" / path / f"{chapter}.md").is_file(), chapter
        assert f"book/roles/{path}/{chapter}" in toc_text(), f"{chapter} is not in _toc.yml"
    for assignment in re.findall(r"`((?:support|leaders)-[\w-]+)` \(source: `exercises/", text):
        assert (ROOT / "exercises" / assignment).is_dir(), f"{path}: names {assignment}, which does not exist"


@pytest.mark.parametrize("path", ["support", "leaders"])
def test_path_page_states_the_points_the_assignment_carries(path):
    text = (ROOT / "book" / "roles" / path / "index.md").read_text()
    spec = yaml.safe_load((ROOT / "content" / f"{path}-nocode.yml").read_text())
    points = 0
    for part in spec["parts"]:
        if part["kind"] == "decide":
            points += sum(item.get("points", 1) for item in part["items"])
        else:
            points += sum(grade["points"] for grade in part["grades"])
    row = next(line for line in text.splitlines() if line.startswith(f"| `{path}-nocode`"))
    assert f"| {points} |" in row, f"the page's row gives other points than the content's {points}: {row}"


def ids(quiz: str) -> list[str]:
    return [f"q{i}" for i in range(1, QUIZZES[quiz] + 1)]


def quiz_key(quiz: str) -> list[str]:
    cells = by_id(source(quiz))
    return [ast.literal_eval(re.search(r"== (['\"].*['\"]), \"Question", HIDDEN.search(cells[q].source).group(0)).group(1))
            for q in ids(quiz)]


def questions(quiz: str) -> list:
    ns: dict = {}
    exec(by_id(source(quiz))["quiz"].source.rsplit("\nquiz = ", 1)[0], ns)
    return ns["QUESTIONS"]


def run_quiz(quiz: str, folder, answers, hidden: bool) -> dict:
    """Run the quiz cell and each question's test cell in `folder` with these answers saved: the error of each."""
    (folder / "quiz-answers").mkdir(parents=True)
    (folder / "quiz-answers" / f"{quiz}.json").write_text(json.dumps({"quiz": quiz, "answers": answers}))
    cells, ns, out = by_id(source(quiz)), {}, {}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(cells["quiz"].source, ns)
        for q in ids(quiz):
            try:
                exec(cells[q].source if hidden else HIDDEN.sub("", cells[q].source), ns)
                out[q] = None
            except AssertionError as err:
                out[q] = err
    finally:
        os.chdir(cwd)
    return out


@pytest.mark.parametrize("quiz", QUIZZES)
def test_quiz_key_is_one_option_of_each_question_in_varied_places(quiz):
    key, qs = quiz_key(quiz), questions(quiz)
    assert len(qs) == len(key) == QUIZZES[quiz]
    positions = [options.index(right) for (_, options), right in zip(qs, key)]  # ValueError if the key has a typo
    assert len(set(positions)) >= 3, positions


@pytest.mark.parametrize("quiz", QUIZZES)
def test_quiz_right_answers_pass_and_each_wrong_one_fails_only_its_hidden_test(tmp_path, quiz):
    key = quiz_key(quiz)
    assert all(e is None for e in run_quiz(quiz, tmp_path / "right", key, hidden=True).values())
    wrong = [next(o for o in options if o != right) for (_, options), right in zip(questions(quiz), key)]
    assert all(e is None for e in run_quiz(quiz, tmp_path / "visible", wrong, hidden=False).values())
    failed = run_quiz(quiz, tmp_path / "wrong", wrong, hidden=True)
    assert all(isinstance(e, AssertionError) for e in failed.values()), failed


def test_every_dataset_in_the_catalog_is_used_by_the_course():
    """Issue 18: a dataset the kit fetches and no page or exercise uses is used or dropped (the FOMC statements
    and macrodata are used by the leaders' path)."""
    from adoptkit.data.catalog import DATASETS

    texts = "".join(p.read_text(errors="ignore") for pattern in ("book/**/*.md", "exercises/**/*.ipynb", "content/*.yml",
                                                                  "sandbox/**/*.ipynb") for p in ROOT.glob(pattern))
    unused = [name for name in DATASETS
              if not re.search(rf"""load\(\s*\\?["']{name}\\?["']|dataset: {name}\b""", texts)]
    assert unused == [], f"fetched but used by no chapter or exercise (use them or drop them from the catalog): {unused}"


TEACHBACK_TOPICS = {"support": "triaging complaints into the desk's queues with a prompt, and checking each reply",
                    "leaders": "asking for a briefing on a policy statement that you can check against its text"}


@pytest.mark.parametrize("path", ["support", "leaders"])
def test_teachback_lesson_is_the_code_free_template_and_its_checks_say_so(path):
    """Like marketing's, sales' and HR's: no code to write (the worked example and the exercise are the template's
    locked prompt boxes on the role's records), and the checks describe the prompt box as the sales ones do."""
    import nbformat

    from adoptkit.engage import teachback

    lesson = nbformat.read(ROOT / "exercises" / f"{path}-teachback" / "lesson.ipynb", as_version=4)
    template = teachback.template(TEACHBACK_TOPICS[path], path)
    assert [(c.cell_type, c.source) for c in lesson.cells[1:]] == [(c.cell_type, c.source) for c in template.cells[1:]]
    assert lesson.cells[0].source.startswith(template.cells[0].source)  # the topic, then which path to pick from
    assert all(not c.get("outputs") for c in lesson.cells)
    code = [c for c in lesson.cells if c.cell_type == "code"]
    assert [teachback.BOX_CALL.search(c.source).groups() for c in code] == [(path, None), (path, "try-it")]
    assert all(c.metadata["editable"] is False for c in code)

    rows = {nb: [line for line in source(f"{nb}-teachback", "checks").cells[0].source.splitlines()
                 if line.startswith(("| example", "| exercise"))] for nb in (path, "sales")}
    assert rows[path] == rows["sales"] and "prompt box" in rows[path][0], rows[path]


def test_teachback_prompt_boxes_run_on_each_roles_own_real_records():
    """Support's box holds CFPB complaints, leaders' FOMC statements (a dataset of the leaders' role in the
    catalog, loaded through adoptkit.data as the chapter loads it), each with the data's citation."""
    if not os.environ.get("ADOPTKIT_DATA_MIRROR"):
        pytest.skip("the boxes read real data: set ADOPTKIT_DATA_MIRROR (CI does)")
    from adoptkit.data import citation
    from adoptkit.data.catalog import DATASETS
    from adoptkit.engage import teachback
    from adoptkit.widgets import content

    for path, dataset in (("support", "cfpb_complaints"), ("leaders", "fomc_statements")):
        spec = teachback.lesson_sample(path)
        assert spec["dataset"] == dataset and path in DATASETS[dataset].roles
        records, source_line = content.records(spec)
        assert len(records) == len(spec["ids"]) >= 3 and all(len(r.text.split()) > 40 for r in records)
        assert source_line == citation(dataset)

"""`adoptkit check`: a small course made with the scaffold passes it (once its TODOs are written), and a defect
of each kind planted in a scratch copy gives the right finding, with its file and line, and nothing else.

The base course is scaffolded once; each test copies it and plants one defect. The check itself is run in
process (`check.check`), and once through the command for its output format and exit codes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from authoring_course import PATH, finish_todos, scaffolded

from adoptkit.authoring import check, prose

CHAPTER = f"book/roles/{PATH}/complaint-triage.md"
INDEX = f"book/roles/{PATH}/index.md"
CODE = f"{PATH}-triage"
NOCODE = f"{PATH}-replies"
CODE_NB = f"exercises/{CODE}/{CODE}.ipynb"
NOCODE_NB = f"exercises/{NOCODE}/{NOCODE}.ipynb"
QUIZ_NB = f"exercises/{PATH}-quiz/{PATH}-quiz.ipynb"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    course = scaffolded(tmp_path_factory.mktemp("authoring-check"))
    finish_todos(course)
    return course


@pytest.fixture
def course(base, tmp_path) -> Path:
    copy = tmp_path / "course"
    shutil.copytree(base, copy)
    return copy


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def edit_nb(path: Path, grade_id: str, change) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    change(cell)
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()) if needle in line)


def only(course: Path, rule: str, file: str, contains: str = "", line: int | None = None) -> check.Finding:
    """The findings are exactly one of `rule`, in `file`, saying `contains` (at `line`, if given)."""
    found = check.check(course)
    assert len(found) == 1, "\n".join(map(str, found))
    f = found[0]
    assert (f.rule, f.file) == (rule, file), str(f)
    assert contains in f.message, str(f)
    if line is not None:
        assert f.line == line, str(f)
    return f


def test_the_scaffolded_course_passes_once_its_todos_are_written(base):
    assert check.check(base) == []


def test_the_scaffold_s_todos_are_findings_until_written(tmp_path):
    course = scaffolded(tmp_path)
    found = check.check(course)
    assert found and {f.rule for f in found} == {"placeholder"}
    assert {f.file for f in found} >= {CHAPTER, INDEX, CODE_NB, NOCODE_NB}


# -- pages ------------------------------------------------------------------------------------------------

def test_a_chapter_without_objectives(course):
    edit(course / CHAPTER, "Chapter learning objectives", "Chapter overview")
    only(course, "objectives", CHAPTER, "learning objectives", line_of(course / CHAPTER, "# Complaint triage") + 1)


def test_a_chapter_without_a_time_estimate(course):
    edit(course / CHAPTER, "**Time:** about 60 minutes, reading", "Read")
    only(course, "time", CHAPTER, "how long it takes")


def test_a_path_page_without_its_time_section(course):
    edit(course / INDEX, "## Time", "## Duration")
    only(course, "time", INDEX, "## Time")


def test_a_number_in_prose_that_is_not_glued(course):
    edit(course / CHAPTER, "## The data\n", "## The data\n\nOf these records, 4,212 mention a refund.\n")
    f = only(course, "glue", CHAPTER, "4,212", line_of(course / CHAPTER, "4,212 mention"))
    assert "glue:text" in f.message


def test_a_claim_with_a_statistic_and_no_source(course):
    edit(course / INDEX, "## Chapters", "Teams that use AI resolve 40% more tickets in their first month.\n\n## Chapters")
    only(course, "source", INDEX, "40% more tickets", line_of(course / INDEX, "40% more tickets"))


def test_the_same_claim_with_a_source_or_a_label_passes(course):
    edit(course / INDEX, "## Chapters", "Teams that use AI resolve 40% more tickets ([a study](https://example.org/s)).\n\n"
                                         "A pilot might save 30% of the time (the authors' estimate).\n\n## Chapters")
    assert check.check(course) == []


def test_a_table_of_data_shown_without_its_attribution(course):
    edit(course / CHAPTER, "display(data.head(3))\nattribution(data)", "display(data.head(3))")
    only(course, "attribution", CHAPTER, "attribution", line_of(course / CHAPTER, "data = load("))


def test_a_figure_without_alt_text(course):
    text = (course / CHAPTER).read_text()
    text = re.sub(r"---\nmystnb:\n  image:\n    alt: >-\n(      .*\n)+---\n", "", text)
    (course / CHAPTER).write_text(text)
    only(course, "alt-text", CHAPTER, "alt text", line_of(course / CHAPTER, "fig, ax = plt.subplots"))


def test_a_markdown_image_without_alt_text(course):
    edit(course / INDEX, "## Chapters", "```{figure} chart.png\nThe chart.\n```\n\n## Chapters")
    only(course, "alt-text", INDEX, "chart.png")


def test_a_red_green_colour_scale(course):
    edit(course / CHAPTER, "color=OKABE_ITO[0]", 'cmap="RdYlGn"')
    only(course, "colour", CHAPTER, "RdYlGn", line_of(course / CHAPTER, "RdYlGn"))


def test_a_code_cell_that_does_not_parse(course):
    edit(course / CHAPTER, "counts = ", "counts = (")
    only(course, "syntax", CHAPTER, "not valid Python")


def test_a_todo_left_on_a_page(course):
    edit(course / INDEX, "## Chapters", "TODO: say who this path is for.\n\n## Chapters")
    only(course, "placeholder", INDEX, "TODO", line_of(course / INDEX, "TODO: say who"))


# -- exercises --------------------------------------------------------------------------------------------

def test_a_graded_part_without_a_hidden_test(course):
    edit_nb(course / CODE_NB, "test_most_common",
            lambda c: c.update(source=re.sub(r"### BEGIN HIDDEN TESTS.*### END HIDDEN TESTS\n?", "",
                                             "".join(c["source"]), flags=re.S)))
    only(course, "hidden-test", CODE_NB, "has no hidden test")


def test_a_graded_part_without_a_declared_wrong_answer(course):
    wrong = course / "autograders" / CODE / "wrong-answers.yml"
    data = yaml.safe_load(wrong.read_text())
    del data["label_text"]
    wrong.write_text(yaml.safe_dump(data))
    only(course, "wrong-answer", CODE_NB, "no wrong answer is declared for label_text")


def test_a_wrong_answer_declared_for_a_cell_that_does_not_exist(course):
    wrong = course / "autograders" / CODE / "wrong-answers.yml"
    wrong.write_text(wrong.read_text() + "no_such_cell:\n  - {why: a typo, source: 'x = 1'}\n")
    only(course, "wrong-answer", f"autograders/{CODE}/wrong-answers.yml", "'no_such_cell'")


def test_a_prompt_part_without_a_declared_wrong_answer(course):
    content = course / "content" / f"{NOCODE}.yml"
    data = yaml.safe_load(content.read_text())
    data["parts"][0].pop("wrong_answers")
    content.write_text(yaml.safe_dump(data, sort_keys=False))
    only(course, "wrong-answer", NOCODE_NB, "prompt part label-requests declares no wrong answer")


def test_a_locked_cell_editable_in_jupyter(course):
    edit_nb(course / CODE_NB, "setup", lambda c: c["metadata"].update(editable=True))
    only(course, "lock", CODE_NB, "cell setup is locked for nbgrader but a learner can still edit")


def test_a_test_cell_not_locked_for_nbgrader(course):
    edit_nb(course / CODE_NB, "test_label_text", lambda c: c["metadata"]["nbgrader"].update(locked=False))
    only(course, "lock", CODE_NB, "test cell test_label_text is not locked")


def test_a_graded_cell_without_points(course):
    edit_nb(course / CODE_NB, "test_label_text", lambda c: c["metadata"]["nbgrader"].pop("points"))
    only(course, "points", CODE_NB, "has no points")


def test_an_assert_without_a_message(course):
    edit_nb(course / CODE_NB, "test_most_common",
            lambda c: c.update(source="".join(c["source"]).replace("print(most_common", "assert _got\nprint(most_common")))
    only(course, "assert-message", CODE_NB, "test_most_common")


def test_outputs_left_in_an_exercise_source(course):
    edit_nb(course / CODE_NB, "setup", lambda c: c.update(
        execution_count=1, outputs=[{"output_type": "stream", "name": "stdout", "text": "12,345 records\n"}]))
    only(course, "outputs", CODE_NB, "cell setup holds outputs")


def test_an_api_key_in_an_exercise(course):
    edit_nb(course / CODE_NB, "setup", lambda c: c.update(
        source="".join(c["source"]) + '\nOPENAI_API_KEY = "sk-proj-4fQ9zLr2Xw8Ty6Vb1Nc3Md5Ke7Pa0Hs"\n'))
    only(course, "secret", CODE_NB, "API key")


def test_an_answer_key_in_the_learner_s_copy_of_the_tasks(course):
    tasks = course / "exercises" / NOCODE / "tasks.yml"
    tasks.write_text(tasks.read_text() + "    answer: c\n")
    only(course, "answer-key", f"exercises/{NOCODE}/tasks.yml", "answer key")


def test_a_quiz_key_outside_the_hidden_tests(course):
    edit_nb(course / QUIZ_NB, "q2", lambda c: c.update(source="".join(c["source"]).replace(
        "### BEGIN HIDDEN TESTS\n", "").replace("### END HIDDEN TESTS", "")))
    found = check.check(course)
    rules = {(f.rule, f.file) for f in found}
    assert ("answer-key", QUIZ_NB) in rules and ("hidden-test", QUIZ_NB) in rules, "\n".join(map(str, found))


def test_choice_options_whose_length_gives_the_answer_away(course):
    content = course / "content" / f"{NOCODE}.yml"
    data = yaml.safe_load(content.read_text())
    for item in data["parts"][2]["items"]:
        for o in item["options"]:
            if o["id"] == item["answer"]:
                o["text"] += ", and say so to the team in writing"
    content.write_text(yaml.safe_dump(data, sort_keys=False))
    only(course, "choice-cue", f"content/{NOCODE}.yml", "always clicking the longest option scores 100%")


def test_a_choice_option_without_its_explanation(course):
    content = course / "content" / f"{NOCODE}.yml"
    data = yaml.safe_load(content.read_text())
    data["parts"][2]["items"][0]["options"][1].pop("why")
    content.write_text(yaml.safe_dump(data, sort_keys=False))
    only(course, "choice-key", f"content/{NOCODE}.yml", "no one-line explanation")


# -- the allow-list -----------------------------------------------------------------------------------------

def test_an_allowed_exception_with_a_reason_silences_its_finding(course):
    edit(course / CHAPTER, "## The data\n", "## The data\n\nThe CRM field holds at most 200 characters.\n")
    (course / check.ALLOW_FILE).write_text(
        f"- rule: glue\n  file: {CHAPTER}\n  match: '200'\n  reason: the CRM's field length, a fact of the system\n")
    assert check.check(course) == []


def test_an_allow_list_entry_without_a_reason_or_that_matches_nothing(course):
    (course / check.ALLOW_FILE).write_text(
        f"- rule: glue\n  file: {CHAPTER}\n  reason: ''\n- rule: glue\n  file: book/none.md\n  reason: it used to be needed\n")
    found = check.check(course)
    assert [(f.rule, f.line) for f in found] == [("allow-list", 1), ("allow-list", 4)], found
    assert "gives no reason" in found[0].message and "matches nothing" in found[1].message


# -- the command ---------------------------------------------------------------------------------------------

def test_the_command_prints_file_line_rule_message_and_exits_1(course):
    edit(course / INDEX, "## Chapters", "TODO: say who this path is for.\n\n## Chapters")
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "check"], cwd=course, capture_output=True, text=True,
                          env={**__import__("os").environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")})
    assert proc.returncode == 1, proc.stderr
    line = line_of(course / INDEX, "TODO: say who")
    assert proc.stdout.splitlines() == [f"{INDEX}:{line}: placeholder: a TODO is left in what learners read: write "
                                        f"the text it asks for"]
    assert "1 finding(s): placeholder 1" in proc.stderr


def test_the_command_exits_0_on_a_clean_course(course):
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "check"], cwd=course,
                          capture_output=True, text=True,
                          env={**__import__("os").environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")})
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert "0 finding(s): the course passes" in proc.stderr


# -- the rule for numbers, on sentences ----------------------------------------------------------------------

@pytest.mark.parametrize("sentence", [
    "In 2023 the team of 4 ran three pilots.",
    "See chapter 12 and Part 3, step 14.",
    "Open Badges 3.0 credentials are signed.",
    "The quiz is worth 6 points and takes about 15 minutes.",
    'A customer wrote "I was charged 350 dollars twice".',
    "Use `top_n=25` in the call.",
    "The rate is {glue:text}`rate:.0%` of 1,234 records (Smith, 2021).",
    "A ratio below 0.8 is flagged under 29 CFR 1607.4(D).",
    "Report it with a 95% confidence interval.",
])
def test_numbers_the_rule_allows(sentence):
    block = [sentence]
    if prose.cites(sentence):
        return
    assert prose.numbers(sentence) == [], block


@pytest.mark.parametrize("sentence, numbers", [
    ("Of the 40 replies, 35 passed every check.", ["40", "35"]),
    ("The model was right 72% of the time.", ["72%"]),
    ("Revenue grew to £12,400.50 in the quarter.", ["12,400.50"]),
])
def test_numbers_the_rule_flags(sentence, numbers):
    assert [n.text for n in prose.numbers(sentence)] == numbers

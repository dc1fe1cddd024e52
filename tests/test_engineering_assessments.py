"""The engineering assessments: the code path kept, and the same AI skills as the other roles without code.

Part A (a prompt for a real service, a drafted bug ticket to check, privacy triage and a coding situation, in the
no-code widgets) gives one point per competency; Part B's code tasks give three. Graded by real nbgrader with
the course's hardened config: an engineer who does both gets 24 of 24 and level 4 everywhere; a learner who does
only Part A gets exactly its point in every competency; one who does only the code gets the other three.
"""

from __future__ import annotations

import nbformat
import pytest
from nbgrader_harness import fill, solutions, source
from nocode_harness import SECRETS, answer, explanations, grade_cohort, levels

pytestmark = pytest.mark.slow
PRE, POST = "engineering-assessment-pre", "engineering-assessment-post"


def code_only(folder, name):
    """Type the source's solutions into the released notebook, as an engineer would (Part B)."""
    release = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    nbformat.write(fill(release, solutions(source(name))), folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """engineer: both parts right; nocode: only Part A (the widgets); coder: only Part B (the code)."""
    plan = {PRE: {"engineer": {"widgets": True, "code": True}, "nocode": {"widgets": True, "code": False},
                  "coder": {"widgets": False, "code": True}},
            POST: {"engineer": {"widgets": True, "code": True}}}

    def work(folder, name, student, widgets, code):
        if widgets:
            answer(folder, name, student)
        if code:
            code_only(folder, name)

    return grade_cohort(tmp_path_factory.mktemp("engineering-course"), "engineering-assessment-*", plan, work)


def test_the_release_holds_no_key_of_the_parts_without_code(graded):
    for name in (PRE, POST):
        folder = graded.course / "_nbgrader" / "release" / name
        text = (folder / f"{name}.ipynb").read_text() + (folder / "tasks.yml").read_text()
        for secret in SECRETS:
            assert secret not in text, f"the released {name} shows part of its answer key ({secret!r})"
        shown = [why for why in explanations(name) if why in text]
        assert not shown, f"the released {name} gives away explanations of its answers: {shown[:3]}"


def test_part_a_gives_one_point_per_competency_without_code(graded):
    assert graded.auto.returncode == 0, f"grading stopped: {graded.auto.stderr[-3000:]}"
    pre = graded.scores[PRE]
    part_a = {k: v for k, v in pre["engineer"].auto.items() if k.startswith("eng-")}
    assert sum(part_a.values()) == 6 and len(part_a) == 7, f"Part A done right should give its 6 points: {part_a}"
    assert all(v == pre["engineer"].auto[k] for k, v in pre["nocode"].auto.items() if k.startswith("eng-")), \
        "Part A should score the same with or without the code part"
    assert not any(v for k, v in pre["coder"].auto.items() if k.startswith("eng-")), \
        "a learner who left Part A blank should earn nothing there"
    post = {k: v for k, v in graded.scores[POST]["engineer"].auto.items() if k.startswith("eng-")}
    assert sum(post.values()) == 6, f"the post-check's Part A done right should give its 6 points: {post}"
    _, notes = levels(graded.course)
    assert not notes, f"graded cells the competency report cannot place: {notes}"


def test_both_parts_give_full_marks_and_the_code_three_points_per_competency(graded):
    for name in (PRE, POST):
        engineer = graded.scores[name]["engineer"]
        assert engineer.code_score == engineer.max_code_score == 24 and not engineer.needs_manual_grade, \
            f"an engineer who did both parts right got {engineer.code_score} of 24 on {name}: {engineer.auto}"
    coder, nocode = graded.scores[PRE]["coder"], graded.scores[PRE]["nocode"]
    assert coder.code_score == 18, f"Part B alone is worth 18 points, not {coder.code_score}: {coder.auto}"
    assert nocode.code_score == 6, f"Part A alone is worth 6 points, not {nocode.code_score}: {nocode.auto}"
    table, _ = levels(graded.course)
    assert (table.loc[("nocode", "pre")] == 1).all(), f"Part A gives each competency one point of four:\n{table}"
    assert (table.loc["engineer"] == 4).all().all(), f"both parts right should give level 4 everywhere:\n{table}"
    assert (table.loc[("coder", "pre")] == 3).all(), f"Part B gives each competency three points of four:\n{table}"

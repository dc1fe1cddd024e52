"""Shared helpers for the no-code tracks' tests: a learner doing an assignment through the widgets (as their
clicks would), real nbgrader over a cohort of such learners, and the competency levels it leads to.

Each role's test (tests/test_nocode_<role>.py) names its assignments and its plan of learners; the prompt a
knowledgeable learner writes is each prompt part's `example` in the content file. Everything else is here, so
every role is graded the same way.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml
from nbgrader_harness import ROOT, course_copy, grades, nbgrader

from adoptkit.llm.replay import replay_client
from adoptkit.widgets import CheckWork, Decide, PromptTask, content

VAGUE = "Please do this task well for me and make the results look good."


def spec(name: str) -> dict:
    """The author's content file of an assignment (with its answer key)."""
    return yaml.safe_load((ROOT / "content" / f"{name}.yml").read_text(encoding="utf-8"))


def learner_part(name: str, part_id: str) -> dict:
    """A part as the learner's widget reads it: from the released copy of the tasks, without the key."""
    return content.part(ROOT / "exercises" / name / "tasks.yml", part_id)


def example(name: str, part_id: str) -> str:
    """The prompt a knowledgeable learner writes for a part: its `example` in the content file."""
    part = next(p for p in spec(name)["parts"] if p["id"] == part_id)
    assert part.get("example"), \
        f"content/{name}.yml, part {part_id!r}: add the prompt that earns every point as 'example'"
    return part["example"]


def answer(folder: Path, name: str, student: str, prompts=None, flags="right", choose="right") -> None:
    """Do the assignment through the widgets, as clicks would: prompts {part: [versions run]} (default: a vague
    first try, then the part's example), flags (right | all | half), choose (right | first | longest)."""
    for p in spec(name)["parts"]:
        part = learner_part(name, p["id"])
        if p["kind"] == "prompt":
            versions = (prompts or {}).get(p["id"]) or [VAGUE, example(name, p["id"])]
            task = PromptTask(part, folder=folder, client=replay_client(["(a replayed reply)"] * 50))
            for text in versions:
                task.write(text)
                task.run()
        elif p["kind"] == "check":
            work = CheckWork(part, folder=folder)
            for i, s in enumerate(p["sentences"]):
                if flags == "right" and s.get("fault"):
                    work.flag(s["id"], s["fault"])
                elif flags == "all" or (flags == "half" and i % 2 == 0):
                    work.flag(s["id"], p["reasons"][0] if flags == "all" else max(p["reasons"], key=len))
        else:
            d = Decide(part, folder=folder, learner=student)
            for it in p["items"]:
                pick = {"right": it["answer"], "first": d.order(it["id"])[0],
                        "longest": max(it["options"], key=lambda o: len(o["text"]))["id"]}[choose]
                d.choose(it["id"], pick)


def grade_cohort(tmp: Path, pattern: str, plan: dict, work=answer) -> SimpleNamespace:
    """Release the assignments matching `pattern` with real nbgrader (the course's hardened config), submit one
    copy per learner of `plan` ({assignment: {learner: answer() options}}), done by `work(folder, name, learner,
    **options)`, autograde them all, and return the course folder, the autograde run and each learner's grades."""
    course = course_copy(tmp)
    gen = nbgrader(course, "generate_assignment", pattern, "--force")
    assert gen.returncode == 0, f"the assignments could not be released for learners: {gen.stderr[-3000:]}"
    for name, students in plan.items():
        release = (course / "_nbgrader" / "release" / name / f"{name}.ipynb").read_text()
        for student, how in students.items():
            folder = course / "_nbgrader" / "submitted" / student / name
            folder.mkdir(parents=True)
            (folder / f"{name}.ipynb").write_text(release)
            work(folder, name, student, **how)
    auto = nbgrader(course, "autograde", pattern)
    return SimpleNamespace(course=course, auto=auto,
                           scores={name: grades(course, name, list(students)) for name, students in plan.items()})


def lost(scores: dict, who: str, reference: str = "expert") -> dict[str, float]:
    """The grade cells where `who` scored differently from `reference`: {cell: who's score}."""
    full = scores[reference].auto
    return {k: v for k, v in scores[who].auto.items() if v != full[k]}


def released_text(course: Path, name: str) -> str:
    """Everything a learner receives for an assignment: the notebook file as stored (metadata included), its
    cells' text unescaped, and the tasks file."""
    import json

    folder = course / "_nbgrader" / "release" / name
    raw = (folder / f"{name}.ipynb").read_text()
    cells = "\n".join("".join(c["source"]) for c in json.loads(raw)["cells"])
    return "\n".join([raw, cells, (folder / "tasks.yml").read_text()])


SECRETS = ("KEY =", "BEGIN HIDDEN", '"faults"', "why:", "answer:", "rubric")


def explanations(name: str) -> list[str]:
    """Every explanation of the key (each option's why, each planted fault's why, each rubric failure, each prompt
    part's example): text a learner must not find in what they receive, since it gives the answer away."""
    out = []
    for p in spec(name)["parts"]:
        out += [o["why"] for it in p.get("items", []) for o in it["options"]]
        out += [s["why"] for s in p.get("sentences", []) if s.get("why")]
        out += [r["failure"] for r in p.get("rubric", []) if r.get("failure")]
        out += [p["example"]] if p.get("example") else []  # the prompt that earns every point
    return out


def levels(course: Path):
    """Competency levels (learner and phase by competency) from the course's gradebook, as the report computes
    them; the second value holds the report's notes (cells mapped to no competency)."""
    from adoptkit.measure import assessment, competency
    from adoptkit.settings import current

    scores, _ = assessment.gradebook_scores(f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}")
    model = current().competency
    labelled, notes = assessment.label(scores, assessment.competency_map(course / "exercises"), model.ids())
    lv = competency.levels(labelled[labelled["phase"].notna()], model)
    return lv.pivot_table(index=["learner", "phase"], columns="competency", values="level"), notes


def assert_levels(course: Path) -> None:
    """The competency report on the graded cohort: every cell placed, six competencies, the knowledgeable
    learner ("expert") at level 3 or more everywhere, the two guessers ("first", "longest") at 1 or below."""
    table, notes = levels(course)
    assert not notes, f"graded cells the competency report cannot place: {notes}"
    print(table.to_string())
    assert len(table.columns) == 6, f"the report should show all six competencies, not {list(table.columns)}"
    assert (table.loc["expert"] >= 3).all().all(), \
        f"a knowledgeable non-coder should reach level 3 or more everywhere:\n{table.loc['expert']}"
    for guesser in ("first", "longest"):
        assert (table.loc[guesser] <= 1).all().all(), \
            f"a learner who guesses ({guesser} option) should stay at level 1 or below:\n{table.loc[guesser]}"

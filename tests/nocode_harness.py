"""Shared helpers for the no-code tracks' tests (sales, HR, ...): a learner's clicks made through the widgets' own
API, a plan of learners submitted and graded by real nbgrader with the course's hardened config, and the
competency levels the report gives them.

    from nocode_harness import grade_plan, competency_table
    graded = grade_plan(tmp, "hr-[an]*", {"hr-nocode": {"expert": {}, "flagall": {"flags": "all"}}},
                        good=GOOD, vague=VAGUE)
    graded.scores["hr-nocode"]["expert"].code_score
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml
from nbgrader_harness import ROOT, course_copy, grades, nbgrader

from adoptkit.llm.replay import replay_client
from adoptkit.widgets import CheckWork, Decide, PromptTask, content


def spec(name: str) -> dict:
    """The author's content file of an assignment (with its key)."""
    return yaml.safe_load((ROOT / "content" / f"{name}.yml").read_text())


def learner_part(name: str, part_id: str) -> dict:
    """A part as the learner's widget reads it: from the released copy, without the key."""
    return content.part(ROOT / "exercises" / name / "tasks.yml", part_id)


def answer(folder: Path, name: str, student: str, good: dict, vague: str, prompts=None, flags="right",
           choose="right") -> None:
    """Do an assignment through the widgets, as clicks would: prompts {part: [versions run]} (default: the vague
    one, then good[part]); flags right | all | half (half: every other sentence, with the longest reason);
    choose right | first (as this learner sees them) | longest."""
    for p in spec(name)["parts"]:
        part = learner_part(name, p["id"])
        if p["kind"] == "prompt":
            versions = (prompts or {}).get(p["id"], [vague, good[p["id"]]])
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


def grade_plan(tmp: Path, pattern: str, plan: dict, **how) -> SimpleNamespace:
    """Release the assignments matching `pattern` in a copy of the course, submit each learner of
    plan {assignment: {student: answer() options}}, autograde with real nbgrader (the course's hardened config)."""
    course = course_copy(tmp)
    gen = nbgrader(course, "generate_assignment", pattern, "--force")
    assert gen.returncode == 0, f"nbgrader could not release {pattern}: {gen.stderr[-3000:]}"
    for name, students in plan.items():
        release = (course / "_nbgrader" / "release" / name / f"{name}.ipynb").read_text()
        for student, options in students.items():
            folder = course / "_nbgrader" / "submitted" / student / name
            folder.mkdir(parents=True)
            (folder / f"{name}.ipynb").write_text(release)
            answer(folder, name, student, **{**how, **options})
    auto = nbgrader(course, "autograde", pattern)
    return SimpleNamespace(course=course, auto=auto,
                           scores={name: grades(course, name, list(students)) for name, students in plan.items()})


def lost_points(scores: dict, who: str, reference: str = "expert") -> dict:
    """The grade cells where `who` scored differently from `reference`, with who's score."""
    ref = scores[reference].auto
    return {k: v for k, v in scores[who].auto.items() if v != ref[k]}


def competency_table(course: Path):
    """The competency report's levels from the course's gradebook: rows (learner, phase), one column a competency."""
    from adoptkit.measure import assessment, competency
    from adoptkit.settings import current

    scores, _ = assessment.gradebook_scores(f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}")
    model = current().competency
    labelled, notes = assessment.label(scores, assessment.competency_map(course / "exercises"), model.ids())
    assert not notes, f"the report could not file some grades under a competency: {notes}"
    lv = competency.levels(labelled[labelled["phase"].notna()], model)
    return lv.pivot_table(index=["learner", "phase"], columns="competency", values="level")

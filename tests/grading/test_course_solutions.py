"""Every assignment of the course, graded by `adoptkit grade` through the course's own hardened config
(autograders/nbgrader_config.py): the source's solution scores full marks with no flag, an untouched
release gets no flag, and an honest answer written differently (its own helper functions, extra imports,
a wrapper) scores full marks with no flag either. A false flag buries the real ones. Quiz answers are read
from the source's hidden tests; the no-code track's answers are given through its widgets
(tests/nocode_harness.py's `answer`, the knowledgeable learner's prompts being the content files'
examples); a teach-back gets a complete lesson on the role's data (a role without code: its prompt run in the
lesson's box).
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from lessons import NO_CODE_ROLES, good_lesson, run_prompt_box
from nbgrader_harness import ROOT, by_id, nbgrader, solutions

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.geteuid() != 0, reason="grades in the root sandbox")]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir())
CONFIG = ROOT / "autograders" / "nbgrader_config.py"
QUIZ_KEY = re.compile(r"quiz\.answers\[(\d+)\] == (.+?)(?:, \"|, '|$)", re.M)


def honest_variant(code: str) -> str:
    """The same answer written differently: each function becomes a helper plus a wrapper, with extra
    imports and a comment, as a learner who structures code their own way would write it."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    out = ["import math  # not needed, but harmless", "from collections import Counter", ""]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            name = node.name
            node.name = f"_my_{name}"
            out += [ast.unparse(node), "", "",
                    f"def {name}(*args, **kwargs):", f"    # my version, written my own way",
                    f"    return _my_{name}(*args, **kwargs)", "", ""]
        else:
            out += [ast.unparse(node), ""]
    return "\n".join(out)


def quiz_answers(source_nb) -> tuple[str, list] | None:
    """(quiz name, the right answers) read from the source's hidden tests, when the notebook has a quiz."""
    setup = "\n".join(c.source for c in source_nb.cells if c.cell_type == "code")
    name = re.search(r"Quiz\(\s*['\"]([^'\"]+)['\"]", setup)
    if not name:
        return None
    answers: dict[int, str] = {}
    for cell in source_nb.cells:
        for m in QUIZ_KEY.finditer(cell.source if cell.cell_type == "code" else ""):
            try:
                answers[int(m.group(1))] = ast.literal_eval(m.group(2).strip())
            except (ValueError, SyntaxError):
                pass
        try:
            tree = ast.parse(cell.source) if cell.cell_type == "code" else None
        except SyntaxError:
            tree = None
        for node in ast.walk(tree) if tree else ():  # grading.choice(quiz.answers[i], {"answer": ...})
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "choice" and len(node.args) == 2
                    and isinstance(node.args[0], ast.Subscript) and "quiz.answers" in ast.unparse(node.args[0])):
                index = ast.literal_eval(node.args[0].slice)
                answers[int(index)] = ast.literal_eval(node.args[1])["answer"]
    return name.group(1), [answers.get(i) for i in range(max(answers) + 1)] if answers else []


def learner_copy(release_nb, source_nb, variant: str):
    nb = copy.deepcopy(release_nb)
    if variant == "release":
        return nb
    cells = by_id(nb)
    for gid, text in solutions(source_nb).items():
        if gid in cells:
            code = cells[gid].cell_type == "code"
            cells[gid].source = honest_variant(text) if variant == "alternative" and code else text
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "exercises", root / "exercises")
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    proc = nbgrader(root, "generate_assignment", "*", "--force")  # one run releases all (the id is a glob)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_and_nothing_honest_is_flagged(course, assignment):
    if not os.environ.get("ADOPTKIT_DATA_MIRROR"):
        pytest.skip("the exercises load real data: set ADOPTKIT_DATA_MIRROR (CI does)")
    release_dir = course / "_nbgrader" / "release" / assignment
    notebooks = sorted(p.name for p in release_dir.glob("*.ipynb"))
    code_answers = any(c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
                       for name in notebooks
                       for c in nbformat.read(course / "exercises" / assignment / name, as_version=4).cells)
    variants = ("solution", "release", "alternative") if code_answers else ("solution", "release")
    for variant in variants:
        folder = course / "_nbgrader" / "submitted" / variant / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name in notebooks:
            source = nbformat.read(course / "exercises" / assignment / name, as_version=4)
            graded = any("nbgrader" in c.metadata for c in source.cells)
            if graded:
                nb = learner_copy(nbformat.read(release_dir / name, as_version=4), source, variant)
            else:  # a teach-back lesson: the learner's own notebook (the source holds the blank template)
                role = assignment.split("-")[0]
                nb = good_lesson(role) if variant != "release" else nbformat.read(release_dir / name, as_version=4)
                if variant != "release" and role in NO_CODE_ROLES:  # without code: its prompt, run in the box
                    run_prompt_box(role, folder)
            nbformat.write(nb, folder / name)
            if variant != "release" and (course / "exercises" / assignment / "tasks.yml").exists():
                # the no-code track: a knowledgeable learner's answers (each prompt part's example in the content file),
                # given through its widgets' own API
                from nocode_harness import answer

                answer(folder, assignment, variant)
            quiz = quiz_answers(source)
            if quiz and variant != "release":
                (folder / "quiz-answers").mkdir(exist_ok=True)
                (folder / "quiz-answers" / f"{quiz[0]}.json").write_text(json.dumps({"quiz": quiz[0],
                                                                                      "answers": quiz[1]}))
    env = {**os.environ, "ADOPTKIT_COURSE_ROOT": str(course),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", assignment, "-j", "2", "--force",
                           "--course-config", str(CONFIG)], cwd=course, env=env, capture_output=True, text=True,
                          timeout=900)
    problems = []
    for variant in variants:
        for name in notebooks:
            path = course / "_nbgrader" / "reports" / variant / assignment / name.replace(".ipynb", ".json")
            if not path.exists():
                problems.append(f"{variant}/{name}: no report")
                continue
            rep = json.loads(path.read_text())
            if rep["status"] != "graded":
                problems.append(f"{variant}/{name}: {rep['status']}: {rep.get('reason')} {rep['flags']}")
            if variant == "solution" and rep["status"] != "failed":  # no cell errs: llm.client() works offline too
                graded_nb = nbformat.read(course / "_nbgrader" / "autograded" / variant / assignment / name,
                                          as_version=4)
                problems += [f"{variant}/{name}: cell {i + 1} failed: {o.get('ename')}: {o.get('evalue', '')[:200]}"
                             for i, c in enumerate(graded_nb.cells) if c.cell_type == "code"
                             for o in c.get("outputs", []) if o.get("output_type") == "error"]
            if variant != "release":
                short = [c for c in rep["cells"] if c["score"] is not None and c["score"] < c["points"]]
                problems += [f"{variant}/{name}: {c['grade_id']} scored {c['score']} of {c['points']} "
                             f"({c['error']})" for c in short]
    assert not problems, "\n".join(problems) + "\n" + proc.stderr[-4000:]

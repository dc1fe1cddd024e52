"""Declared wrong answers, and running them: does each graded part's test catch a plausible mistake?

Code exercises declare theirs in `autograders/<assignment>/wrong-answers.yml` (outside exercises/, which
nbgrader releases): per answer cell, code a learner could plausibly write, why it is wrong, and whether the
hidden tests (the default) or the visible ones catch it. No-code prompt parts declare theirs in their content
file (`right_answer`, `wrong_answers`). Quiz and Decide items and CheckWork drafts need no declaration: every
other option, and flagging every sentence, are graded the same way.

`verify()` runs them (`adoptkit check --run`):
- a code exercise's source notebook runs once as written (every test cell must pass), then once per wrong
  answer with that answer in place of the solution: the part's test cells must fail, and, when the hidden
  tests are to catch it, pass again with the hidden tests taken out (so the visible tests did not);
- a prompt part's right answer must earn every point of its grades and each wrong one must lose the points
  of the grades it names, graded by the same functions as the hidden tests (adoptkit.widgets.grading).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

FILE = "wrong-answers.yml"
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def load_declared(root: Path, assignment: str) -> dict | None:
    """{"answers": {cell: [{why, source, caught_by}]}, "lines": {cell: line}, "problems": [(line, message)]}."""
    path = Path(root) / "autograders" / assignment / FILE
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    out: dict = {"answers": {}, "lines": {}, "problems": [], "file": path}
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        out["problems"].append((1, f"{FILE} is not valid YAML ({err})"))
        return out
    if not isinstance(data, dict):
        out["problems"].append((1, f"{FILE} must map each answer cell's grade_id to a list of wrong answers"))
        return out
    lines = text.splitlines()
    for cell, entries in data.items():
        line = next((i + 1 for i, raw in enumerate(lines) if raw.startswith(f"{cell}:")), 1)
        out["lines"][cell] = line
        good = []
        for e in entries if isinstance(entries, list) else [None]:
            if not isinstance(e, dict) or not isinstance(e.get("source"), str) or not str(e.get("why") or "").strip() \
                    or e.get("caught_by", "hidden") not in ("hidden", "visible"):
                out["problems"].append((line, f"{cell}: each wrong answer needs `source` (code), `why` (one line) and "
                                              f"optionally `caught_by: hidden|visible`"))
                continue
            good.append({"why": e["why"].strip(), "source": e["source"], "caught_by": e.get("caught_by", "hidden")})
        out["answers"][str(cell)] = good
    return out


# -- running code exercises --------------------------------------------------------------------------------

def _run(nb, folder: Path, config: Path) -> dict[str, bool]:
    """Execute a notebook in `folder` as a learner's kernel would; per graded cell: did it pass?"""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    env_before = os.environ.get("ADOPTKIT_CONFIG")
    os.environ["ADOPTKIT_CONFIG"] = str(config)
    try:
        with tempfile.TemporaryDirectory(prefix="adoptkit-kernel-") as sockets:
            km = KernelManager(kernel_name="python3", transport="ipc")  # Unix sockets: nothing on the network
            km.ip = str(Path(sockets) / "kernel")
            NotebookClient(nb, km=km, timeout=120, kernel_name="python3", allow_errors=True, startup_timeout=120,
                           resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("ADOPTKIT_CONFIG", None)
        else:
            os.environ["ADOPTKIT_CONFIG"] = env_before
    out = {}
    for cell in nb.cells:
        nbg = cell.metadata.get("nbgrader") or {}
        if cell.cell_type == "code" and nbg.get("grade_id"):
            out[nbg["grade_id"]] = not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    return out


def _tests_of(nb, answer: str) -> list[str]:
    """The graded cells after the answer cell, up to the next answer cell."""
    out, seen = [], False
    for cell in nb.cells:
        nbg = cell.metadata.get("nbgrader") or {}
        if nbg.get("grade_id") == answer:
            seen = True
            continue
        if seen and nbg.get("solution"):
            break
        if seen and nbg.get("grade") and cell.cell_type == "code":
            out.append(nbg["grade_id"])
    return out


def verify_exercise(root: Path, notebook: Path, declared: dict, echo=None) -> list[tuple[int, str]]:
    """Problems (line in the declarations file, message) found by running the exercise's wrong answers."""
    import nbformat

    source = nbformat.read(notebook, as_version=4)
    problems: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory(prefix="adoptkit-wrong-") as tmp:
        folder = Path(tmp) / notebook.parent.name
        shutil.copytree(notebook.parent, folder)
        config = Path(root) / "_config.yml"
        ids = {(c.metadata.get("nbgrader") or {}).get("grade_id"): c for c in source.cells}
        if echo:
            echo(f"running {notebook.parent.name}/{notebook.name} with its solution")
        solved = _run(copy.deepcopy(source), folder, config)
        failing = [g for g, ok in solved.items() if not ok and (ids[g].metadata.get("nbgrader") or {}).get("grade")]
        if failing:
            problems.append((1, f"{notebook.name}: the source's own solution fails {', '.join(failing)}: fix the "
                                f"solution or the tests before judging wrong answers"))
            return problems
        for answer, entries in declared["answers"].items():
            line = declared["lines"].get(answer, 1)
            if answer not in ids:
                continue  # reported by the static check
            tests = _tests_of(source, answer)
            for entry in entries:
                if echo:
                    echo(f"running {notebook.parent.name}: {answer} answered wrongly ({entry['why']})")
                wrong = copy.deepcopy(source)
                for cell in wrong.cells:
                    if (cell.metadata.get("nbgrader") or {}).get("grade_id") == answer:
                        cell.source = entry["source"]
                result = _run(copy.deepcopy(wrong), folder, config)
                if all(result.get(t, True) for t in tests):
                    problems.append((line, f"{answer}: the wrong answer ({entry['why']}) passes {', '.join(tests)}: "
                                           f"add a test that fails it"))
                    continue
                if entry["caught_by"] == "hidden":
                    visible_only = copy.deepcopy(wrong)
                    for cell in visible_only.cells:
                        if (cell.metadata.get("nbgrader") or {}).get("grade_id") in tests:
                            cell.source = HIDDEN.sub("", cell.source)
                    seen = _run(visible_only, folder, config)
                    caught = [t for t in tests if not seen.get(t, True)]
                    if caught:
                        problems.append((line, f"{answer}: the wrong answer ({entry['why']}) already fails the visible "
                                               f"tests of {', '.join(caught)}: it is declared `caught_by: hidden`; "
                                               f"say `caught_by: visible`, or declare one the hidden tests catch"))
    return problems


# -- no-code prompt parts ------------------------------------------------------------------------------------

@contextlib.contextmanager
def _in(folder: Path):
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def _earned(part: dict, prompts: list[str]) -> dict[str, tuple[float, float]]:
    """grade id -> (earned, points) for a learner who ran `prompts` in turn, graded as the hidden tests grade."""
    from ..llm.replay import replay_client
    from ..widgets import PromptTask, grading
    from ..widgets.author import grade_units

    out = {}
    with tempfile.TemporaryDirectory(prefix="adoptkit-prompt-") as tmp:
        task = PromptTask(part, folder=tmp, client=replay_client(lambda _: "(a replayed reply)"))
        for text in prompts:
            task.write(text)
            task.run()
        with _in(Path(tmp)), contextlib.redirect_stdout(io.StringIO()):
            for unit in grade_units(part):
                try:
                    got = grading.prompt(part["id"], unit["key"], criteria=unit["criteria"], points=unit["points"])
                except AssertionError:
                    got = 0.0
                out[unit["id"]] = (float(got), float(unit["points"]))
    return out


def verify_prompt_part(part: dict) -> list[str]:
    problems = []
    right = part.get("right_answer")
    if right:
        scores = _earned(part, list(right))
        short = [g for g, (got, pts) in scores.items() if got < pts - 1e-9]
        if short:
            problems.append(f"part {part['id']}: the right answer does not earn full marks on {', '.join(short)} "
                            f"({', '.join(f'{scores[g][0]:g}/{scores[g][1]:g}' for g in short)})")
    for w in part.get("wrong_answers") or []:
        scores = _earned(part, list(w.get("prompts") or []))
        kept = [g for g in w.get("loses") or [] if g in scores and scores[g][0] >= scores[g][1] - 1e-9]
        if kept or all(got >= pts - 1e-9 for got, pts in scores.values()):
            problems.append(f"part {part['id']}: the wrong answer ({w.get('why')}) still earns "
                            f"{', '.join(kept) or 'every point'}: the rubric does not catch it")
    return problems


def verify(course, echo=None):
    """Run every declared wrong answer of the course; findings for those a test does not catch."""
    from .check import Finding, content_spec

    found = []
    for nb in course.exercises():
        assignment = nb.parent.name
        declared = load_declared(course.root, assignment)
        if declared and declared["answers"] and any(
                (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id") in declared["answers"]
                for c in _cells(nb)):
            rel = course.rel(declared["file"])
            for line, message in verify_exercise(course.root, nb, declared, echo):
                found.append(Finding(rel, line, "wrong-answer", message))
    seen: set[str] = set()
    for f in sorted((course.root / "content").glob("*.yml")):
        spec, _ = content_spec(course, (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("assignment"))
        if not spec or spec.get("assignment") in seen:
            continue
        seen.add(spec["assignment"])
        lines = f.read_text(encoding="utf-8").splitlines()
        for part in spec.get("parts", []):
            if part.get("kind") == "prompt" and (part.get("right_answer") or part.get("wrong_answers")):
                if echo:
                    echo(f"grading the declared answers of {spec['assignment']}, part {part['id']}")
                line = next((i + 1 for i, raw in enumerate(lines) if re.search(rf"id:\s*{re.escape(part['id'])}\s*$",
                                                                              raw)), 1)
                for message in verify_prompt_part(part):
                    found.append(Finding(course.rel(f), line, "wrong-answer", message))
    return found


def _cells(nb: Path) -> list[dict]:
    import json

    return json.loads(nb.read_text(encoding="utf-8")).get("cells", [])


def expected_mistakes(root: Path, assignment: str) -> list[dict]:
    """The mistakes an assignment's tests are built to catch: [{part, why}] (for the facilitator guide)."""
    out = []
    declared = load_declared(root, assignment)
    for cell, entries in ((declared or {}).get("answers") or {}).items():
        out += [{"part": cell, "why": e["why"]} for e in entries]
    for f in sorted((Path(root) / "content").glob("*.yml")):
        try:
            spec = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        if spec.get("assignment") != assignment:
            continue
        for part in spec.get("parts", []):
            out += [{"part": part["id"], "why": w.get("why", "")} for w in part.get("wrong_answers") or []]
            if part.get("kind") == "check":
                out += [{"part": part["id"], "why": f"missing the planted fault: {s.get('why') or s.get('fault')}"}
                        for s in part.get("sentences", []) if s.get("fault")]
    return out

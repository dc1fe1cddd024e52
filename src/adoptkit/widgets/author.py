"""From an author's content file to an nbgrader assignment: the notebook and the learner's copy of the content.

    python -m adoptkit.widgets.author content/sales-nocode.yml      # writes exercises/sales-nocode/
    python -m adoptkit.widgets.author --check content/*.yml         # exit 1 if a committed file is stale

The author's file (`content/<assignment>.yml`, format in docs/no-code.md) holds everything: the texts, the
sample, the draft and its planted faults, the items with their answers, the rubric and the grade cells. It is
kept outside `exercises/` because nbgrader releases every file there. This writes, into
`exercises/<assignment>/`:
- `tasks.yml`: the learner's copy, without answers, explanations, planted faults or rubric;
- `<assignment>.ipynb`: locked cells that show each widget, and one grade cell per graded unit whose hidden
  part holds its answer key and calls adoptkit.widgets.grading.

A file with `built_by: <script>` holds only the no-code parts of a notebook that also has code tasks (the
engineering assessments): this writes its `tasks.yml`, and that script writes the notebook with `part_cells`.
"""

from __future__ import annotations

import argparse
import json
import pprint
import sys
import textwrap
from pathlib import Path

import nbformat
import yaml

from . import content
from .content import ContentError

LEARNER_FILE = "tasks.yml"
WIDGET = {"prompt": "PromptTask", "check": "CheckWork", "decide": "Decide"}
KERNEL = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}
LEARNER_KEYS = {
    "prompt": ("id", "kind", "title", "output", "sample", "starter"),
    "check": ("id", "kind", "title", "evidence", "evidence_title", "draft_title", "reasons"),
    "decide": ("id", "kind", "title"),
}


def learner_part(p: dict) -> dict:
    out = {k: p[k] for k in LEARNER_KEYS[p["kind"]] if k in p}
    if p["kind"] == "check":
        out["sentences"] = [{"id": s["id"], "text": s["text"]} for s in p["sentences"]]
    if p["kind"] == "decide":
        out["items"] = [{"id": it["id"], "prompt": it["prompt"],
                         "options": [{"id": o["id"], "text": o["text"]} for o in it["options"]]} for it in p["items"]]
    return out


def validate(spec: dict, where: str) -> None:
    """Author-side checks the learner's widgets cannot make: every key points at something that exists."""
    content.require(spec, where, "assignment", "title", "parts")
    for p in spec["parts"]:
        pw = f"{where}, part {p.get('id')!r}"
        if p.get("kind") not in content.KINDS:
            raise ContentError(f"{pw}: kind must be one of {content.KINDS}")
        if p["kind"] == "prompt":
            content.require(p, pw, "output", "sample", "rubric", "grades")
            rules = {r["id"] for r in p["rubric"]} | {"output", "iterate"}
            for g in p["grades"]:
                bad = [c for c in g.get("criteria", []) if c not in rules]
                if bad or not g.get("criteria"):
                    raise ContentError(f"{pw}, grade {g.get('id')!r}: criteria {bad or '(none)'} are not rubric ids "
                                       f"(or 'output', 'iterate')")
        elif p["kind"] == "check":
            content.require(p, pw, "sentences", "reasons", "grades")
            faults = {s["id"]: s["fault"] for s in p["sentences"] if s.get("fault")}
            for sid, reason in faults.items():
                if reason not in p["reasons"]:
                    raise ContentError(f"{pw}: sentence {sid!r} has fault {reason!r}, which is not one of the reasons")
            graded = [f for g in p["grades"] for f in g.get("faults", [])]
            if sorted(graded) != sorted(faults):
                raise ContentError(f"{pw}: the grades must cover each planted fault exactly once "
                                   f"(planted {sorted(faults)}, graded {sorted(graded)})")
        else:
            for it in p["items"]:
                ids = [o["id"] for o in it["options"]]
                if it.get("answer") not in ids:
                    raise ContentError(f"{pw}, item {it.get('id')!r}: answer {it.get('answer')!r} is not an option id")
                if not all(o.get("why") for o in it["options"]):
                    raise ContentError(f"{pw}, item {it['id']!r}: every option needs a one-line 'why'")


def _lines(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def _meta(grade_id: str, *, grade=False, points=None, competency=None) -> dict:
    nbg = {"grade": grade, "grade_id": grade_id, "locked": True, "schema_version": 3, "solution": False,
           "task": False}
    if points is not None:
        nbg["points"] = points
    meta = {"deletable": False, "editable": False, "nbgrader": nbg}
    if competency:
        meta["adoptkit"] = {"competency": competency}
    return meta


def _md(text: str, grade_id: str):
    return nbformat.v4.new_markdown_cell(_lines(text), metadata=_meta(grade_id))


def _code(text: str, grade_id: str, hide=False):
    meta = _meta(grade_id)
    if hide:
        meta["jupyter"] = {"source_hidden": True}
    return nbformat.v4.new_code_cell(_lines(text), metadata=meta)


def _grade(grade_id: str, header: str, visible: str, hidden: str, points, competency):
    src = f"# {header} Just run this cell; the answer key is in hidden tests, checked when your work is graded.\n" \
          f"{visible}\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
    cell = nbformat.v4.new_code_cell(src, metadata=_meta(grade_id, grade=True, points=points, competency=competency))
    # raises-exception: JupyterLab's Run All goes on past a part not answered yet (its check fails, as it should),
    # so a learner's first Run All shows every widget; nbgrader grades the cell as before.
    cell.metadata["tags"] = ["nbval-skip", "raises-exception"]
    return cell


def _key(value) -> str:
    return pprint.pformat(value, width=110, sort_dicts=False)


def grade_units(p: dict) -> list[dict]:
    """The grade cells of a part: [{id, points, competency, label, call}] (call: the hidden line)."""
    pid = p["id"]
    if p["kind"] == "prompt":
        key = {"rubric": p["rubric"], "output": p["output"], "sample": p.get("grade_sample", p["sample"])}
        for extra in ("min_words", "min_attempts"):
            if extra in p:
                key[extra] = p[extra]
        return [{**g, "call": f"grading.prompt({pid!r}, KEY, criteria={g['criteria']!r}, points={g['points']!r})",
                 "key": key, "kind": "prompt"} for g in p["grades"]]
    if p["kind"] == "check":
        key = {"sentences": [s["id"] for s in p["sentences"]],
               "faults": {s["id"]: s["fault"] for s in p["sentences"] if s.get("fault")},
               "why": {s["id"]: s["why"] for s in p["sentences"] if s.get("why")}}
        return [{**g, "call": f"grading.check({pid!r}, KEY, faults={g['faults']!r}, points={g['points']!r})",
                 "key": key, "kind": "check"} for g in p["grades"]]
    units = []
    for n, it in enumerate(p["items"], 1):
        key = {"answer": it["answer"], "label": f"Item {n}", "text": {o["id"]: o["text"] for o in it["options"]},
               "why": {o["id"]: o["why"] for o in it["options"]}}
        points = it.get("points", 1)
        units.append({"id": f"{pid}-{it['id']}", "points": points, "competency": it.get("competency"),
                      "label": f"item {n}", "key": key, "kind": "decide",
                      "call": f"grading.decide({pid!r}, {it['id']!r}, KEY, points={points!r})"})
    return units


def part_cells(p: dict, label: str, heading: str = "##") -> list:
    """A part's cells: its brief under `heading label: title`, its widget, one grade cell per graded unit.
    (autograders/assessments.py uses it too, for the no-code parts of the assessments that also hold code.)"""
    units = grade_units(p)
    total = sum(u["points"] for u in units)
    cells = [_md(f"{heading} {label}: {p.get('title', p['id'])} ({total:g} points)\n\n{_lines(p.get('brief', ''))}",
                 f"{p['id']}-brief")]
    cls = WIDGET[p["kind"]]
    cells.append(_code(f"""
        # Just run this cell: it shows the task. Your work is saved as you go.
        from adoptkit.widgets import {cls}
        {cls}.from_content({LEARNER_FILE!r}, {p['id']!r})""", f"{p['id']}-widget", hide=True))
    for u in units:
        header = f"{label}, {u.get('label', u['id'])} ({u['points']:g} point{'s' if u['points'] != 1 else ''})."
        visible = f"from adoptkit.widgets import grading\ngrading.answered({p['id']!r}, {p['kind']!r})"
        hidden = f"KEY = {_key(u['key'])}\n{u['call']}"
        cells.append(_grade(u["id"], header, visible, hidden, u["points"], u.get("competency")))
    return cells


def notebook(spec: dict) -> nbformat.NotebookNode:
    name = spec["assignment"]
    cells = [_md(f"# {spec['title']}\n\n{_lines(spec.get('intro', ''))}", "intro")]
    rows = []
    for n, p in enumerate(spec["parts"], 1):
        rows.append(f"| {n} | {p.get('title', p['id'])} | {sum(u['points'] for u in grade_units(p)):g} |")
        cells += part_cells(p, f"Part {n}")
    total = sum(u["points"] for p in spec["parts"] for u in grade_units(p))
    table = "| Part | Task | Points |\n|---|---|---|\n" + "\n".join(rows)
    cells.insert(1, _md(f"""
        **{total:g} points, autograded; no code to write.** Each part is a box to fill or options to click;
        your work is saved as you go in the `quiz-answers` folder beside this notebook. **Submit that folder with the
        notebook.**

        {table}

        Below each part, a cell checks that you answered it; the answer key is in **hidden tests** that run when
        your work is graded, and your feedback then explains each answer. Prompts are graded on what they say and on
        what they produce on the course's offline model, never on a live model.

        **To start:** *Run → Run All Cells*. **Before you submit:** run all cells again and check every part says
        it is answered.""", "how"))
    for extra in spec.get("after", []):
        gid = extra["id"]
        cells.append(_md(extra["markdown"], gid) if "markdown" in extra else _code(extra["code"], gid))
    for c in cells:
        c["id"] = c.metadata["nbgrader"]["grade_id"]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=dict(KERNEL))
    meta = {k: spec[k] for k in ("role", "phase") if k in spec}
    if meta:
        nb.metadata["adoptkit"] = meta
    return nb


def learner_file(spec: dict, source: str) -> str:
    body = {"assignment": spec["assignment"], "parts": [learner_part(p) for p in spec["parts"]]}
    head = (f"# Generated from {source} by `python -m adoptkit.widgets.author`: edit that file, not this one.\n"
            f"# The learner's copy of the tasks: no answers, explanations or planted faults are in it.\n")
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110)


def build(path: str | Path, root: str | Path | None = None) -> dict[Path, str]:
    """{output path: text} for a content file (nothing written)."""
    path = Path(path)
    root = Path(root) if root else path.resolve().parent.parent
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ContentError(f"{path}: {err}") from None
    validate(spec, str(path))
    folder = root / "exercises" / spec["assignment"]
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.name
    outputs = {folder / LEARNER_FILE: learner_file(spec, rel)}
    if spec.get("built_by"):  # the no-code parts of a notebook with code tasks: that generator writes the notebook
        return outputs
    nb = notebook(spec)
    nbformat.validate(nb)
    return {folder / f"{spec['assignment']}.ipynb": json.dumps(nb, indent=1, ensure_ascii=False) + "\n", **outputs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m adoptkit.widgets.author", description=__doc__.split("\n\n")[0])
    ap.add_argument("content", nargs="+", help="content/<assignment>.yml files")
    ap.add_argument("--check", action="store_true", help="only say which committed files differ")
    args = ap.parse_args(argv)
    stale = 0
    for c in args.content:
        try:
            outputs = build(c)
        except ContentError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for out, text in outputs.items():
            if args.check:
                if not out.exists() or out.read_text(encoding="utf-8") != text:
                    print(f"stale: {out} (run python -m adoptkit.widgets.author {c})")
                    stale += 1
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text, encoding="utf-8")
                print(out)
        if not args.check and (by := yaml.safe_load(Path(c).read_text(encoding="utf-8")).get("built_by")):
            print(f"{c}: its notebook also holds code tasks; write it with: python {by}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

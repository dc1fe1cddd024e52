"""Filling the scaffolds' templates (package data under `templates/`) with an author's names.

Templates are text files with `{{key}}` slots; `{{key|json}}` writes the value as a JSON string (valid YAML
too) and `{{key|py}}` as a Python literal, so a value lands in code or data as a value, never as syntax. No
logic lives in a template: a slot with no value, or a value never used, is an error, so a template and the
code that fills it cannot drift apart silently.

A notebook template is YAML: notebook metadata and a list of cells, each with its source and what it is to
nbgrader (`locked`, `solution`, `grade` with `points`, `manual`), and `repeat: NAME` to emit the cell once per
item of a list. The nbgrader and Jupyter metadata are written here, the same way for every cell of a kind:
a locked cell is locked for nbgrader *and* for Jupyter (`editable`/`deletable` false).
"""

from __future__ import annotations

import json
import pprint
import re
from importlib.resources import files

import nbformat
import yaml

from .names import AuthoringError

SLOT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)(?:\|([a-z]+))?\s*\}\}")
FILTERS = {"json": json.dumps, "py": lambda v: pprint.pformat(v, width=110, sort_dicts=False), "text": str}
KERNEL = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}


def template(name: str) -> str:
    """The text of templates/NAME."""
    return files("adoptkit.authoring").joinpath("templates", name).read_text(encoding="utf-8")


def fill(text: str, values: dict, where: str = "template", used: set | None = None) -> str:
    def slot(m: re.Match) -> str:
        key, how = m.group(1), m.group(2) or "text"
        if key not in values:
            raise AuthoringError(f"{where}: no value for the slot {{{{{key}}}}}")
        if how not in FILTERS:
            raise AuthoringError(f"{where}: unknown filter |{how} (allowed: {', '.join(FILTERS)})")
        if used is not None:
            used.add(key)
        return FILTERS[how](values[key])

    out = SLOT.sub(slot, text)
    if "{{" in SLOT.sub("", text):
        raise AuthoringError(f"{where}: a malformed slot (write {{{{name}}}} or {{{{name|json}}}})")
    return out


def render(name: str, values: dict) -> str:
    """templates/NAME with every slot filled; every value given must be used."""
    used: set = set()
    out = fill(template(name), values, name, used)
    if unused := set(values) - used:
        raise AuthoringError(f"templates/{name}: values never used: {sorted(unused)}")
    return out


def cell_metadata(spec: dict, grade_id: str) -> dict:
    """nbgrader and Jupyter metadata for a template cell (the house conventions, in one place)."""
    if spec.get("plain"):
        return {}
    grade, solution = bool(spec.get("grade") or spec.get("manual")), bool(spec.get("solution") or spec.get("manual"))
    locked = not solution
    nbg = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
           "task": False}
    if grade:
        if not isinstance(spec.get("points"), (int, float)) or spec["points"] <= 0:
            raise AuthoringError(f"template cell {grade_id}: a graded cell needs points > 0")
        nbg["points"] = spec["points"]
    meta: dict = {}
    if locked:
        meta.update({"deletable": False, "editable": False})
    meta["nbgrader"] = nbg
    if spec.get("tags"):
        meta["tags"] = list(spec["tags"])
    if spec.get("hidden"):
        meta["jupyter"] = {"source_hidden": True}
    if spec.get("competency"):
        meta["adoptkit"] = {"competency": spec["competency"]}
    return meta


def notebook(name: str, values: dict, lists: dict[str, list[dict]] | None = None) -> nbformat.NotebookNode:
    """Build a notebook from the YAML template templates/NAME; `lists` feeds the cells marked `repeat:`."""
    spec = yaml.safe_load(template(name))
    used: set = set()
    cells = []
    for c in spec["cells"]:
        items = (lists or {}).get(c["repeat"]) if c.get("repeat") else [{}]
        if items is None:
            raise AuthoringError(f"templates/{name}: no list {c['repeat']!r} for a repeated cell")
        for item in items:
            vals = {**values, **item}
            here = f"templates/{name}, cell {c['id']}"
            grade_id = fill(c["id"], vals, here, used)
            cell_spec = {k: (fill(str(v), vals, here, used) if k == "points" and isinstance(v, str) else v)
                         for k, v in c.items()}
            if isinstance(cell_spec.get("points"), str):
                cell_spec["points"] = float(cell_spec["points"]) if "." in cell_spec["points"] else int(cell_spec["points"])
            source = fill(c["source"], vals, here, used).rstrip("\n")
            make = nbformat.v4.new_markdown_cell if c["type"] == "markdown" else nbformat.v4.new_code_cell
            cell = make(source, metadata=cell_metadata(cell_spec, grade_id))
            cell["id"] = grade_id
            cells.append(cell)
    item_keys = {k for items in (lists or {}).values() for it in items for k in it}
    if unused := set(values) - used - item_keys:
        raise AuthoringError(f"templates/{name}: values never used: {sorted(unused)}")
    nb = nbformat.v4.new_notebook(cells=cells, metadata=spec.get("metadata") or dict(KERNEL))
    nbformat.validate(nb)
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """As the course commits notebooks: one-space indent, UTF-8, a final newline."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"

"""What happened while grading one notebook, carried inside the notebook between nbgrader's passes.

nbgrader's autograde reads the notebook twice (sanitize, then execute), with fresh resources each
time, so incidents travel in `nb.metadata["adoptkit"]` and the report step turns them into the
grader's report, the formgrader flag and a note at the top of the graded notebook.

A *flag* needs a person (tampering, a dead kernel, a time limit); a *note* does not (output cut,
one cell timing out: the score is already right).
"""

from __future__ import annotations

from nbformat import NotebookNode

KEY = "adoptkit"
GRADER_KEYS = ("flags", "notes", "sandbox", "instructor")  # what the grader writes under KEY


def section(nb: NotebookNode) -> dict:
    meta = nb.metadata.setdefault(KEY, {})
    meta.setdefault("flags", [])
    meta.setdefault("notes", [])
    return meta


def flag(nb: NotebookNode, kind: str, detail: str, cell: str | None = None) -> None:
    entry = {"kind": kind, "detail": detail, "cell": cell}
    if entry not in section(nb)["flags"]:
        section(nb)["flags"].append(entry)


def note(nb: NotebookNode, kind: str, detail: str, cell: str | None = None) -> None:
    entry = {"kind": kind, "detail": detail, "cell": cell}
    if entry not in section(nb)["notes"]:
        section(nb)["notes"].append(entry)


def cell_name(cell: NotebookNode, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"

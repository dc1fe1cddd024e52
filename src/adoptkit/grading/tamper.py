"""Read a submission safely and put the instructor's cells back where a learner changed them.

`SafeNotebookExporter` reads the submitted file itself, so an empty file, broken JSON, another
nbformat or a notebook that does not validate becomes one clear, recorded per-learner error
(`SubmissionError`) instead of a traceback, and nbgrader moves on to the next learner.

`RestoreCells` replaces nbgrader's DeduplicateIds + OverwriteCells in the sanitize pass. From the
instructor's cells in the gradebook it restores, and flags, every grade/test/locked cell that was
deleted, duplicated, retyped, edited or had its nbgrader metadata changed. Restoring hidden tests
into released test cells is normal and is not flagged. A notebook with no nbgrader cells at all, or
only another assignment's, is a `SubmissionError` naming what it looks like.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sys
from collections.abc import Iterator

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode
from nbgrader.api import Gradebook, Notebook, SourceCell
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, NbGraderPreprocessor

from .files import kind_problem
from .record import GRADER_KEYS, KEY, flag, section


class SubmissionError(Exception):
    """A submission that cannot be graded automatically; the message is for the grader."""


_held: dict[str, list[int]] = {}  # lock path -> [fd, depth]: re-entrant within one process


@contextlib.contextmanager
def gradebook_lock(db_url: str) -> Iterator[None]:
    """Serialise gradebook writes between processes (SQLite only; a server database needs none)."""
    if not db_url.startswith("sqlite:///"):
        yield
        return
    path = db_url[len("sqlite:///"):] + ".adoptkit-lock"
    if path in _held:
        _held[path][1] += 1
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[path] = [fd, 1]
    try:
        yield
    finally:
        _held[path][1] -= 1
        if _held[path][1] == 0:
            os.close(_held.pop(path)[0])


# ---------------------------------------------------------------- reading


def read_submission(path: str) -> NotebookNode:
    """The notebook at `path` as nbformat 4, or a SubmissionError saying what is wrong with the file."""
    name = os.path.basename(path)
    try:
        why = kind_problem(os.lstat(path))
        if why:
            raise SubmissionError(f"{name} is {why}, not a notebook file handed in: it was not read, and it "
                                  "scores 0 until the learner hands in the notebook itself")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            why = kind_problem(os.fstat(f.fileno()))
            if why:
                raise SubmissionError(f"{name} is {why}, not a notebook file handed in")
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as err:
        raise SubmissionError(f"{name} could not be read: {err.strerror}") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB: not graded automatically")
    if not raw.strip():
        raise SubmissionError(f"{name} is empty ({len(raw)} bytes): the learner submitted a blank file; "
                              "ask for the notebook again")
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise SubmissionError(f"{name} is JSON nested too deeply to be a notebook (more than "
                              f"{sys.getrecursionlimit():,} levels): a crafted or corrupted file, not a "
                              "notebook; ask for the notebook again") from None
    except UnicodeDecodeError as err:
        raise SubmissionError(f"{name} is not text (byte {err.start} is not UTF-8): not a notebook file") from None
    except json.JSONDecodeError as err:
        raise SubmissionError(f"{name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                              "the file was probably cut short or edited by hand") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise SubmissionError(f"{name} is JSON but not a Jupyter notebook (no cells)")
    major = data.get("nbformat")
    if not isinstance(major, int):
        raise SubmissionError(f"{name} has no nbformat version: not a Jupyter notebook file")
    if major > 4 or major < 3:
        raise SubmissionError(f"{name} uses nbformat {major}, which this grader cannot read (it reads 3 and 4)")
    if _depth(data) > MAX_DEPTH:
        raise SubmissionError(f"{name} is JSON nested more than {MAX_DEPTH} levels deep, far deeper than any "
                              "notebook: a crafted or corrupted file; ask for the notebook again")
    invalid: dict = {}
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4, capture_validation_error=invalid)
    except Exception as err:  # noqa: BLE001 - nbformat raises several kinds; the schema says it better
        try:
            nbformat.validate(data, version=major)
        except nbformat.ValidationError as schema_err:
            raise SubmissionError(_format_problem(name, schema_err)) from None
        raise SubmissionError(f"{name} could not be read as a notebook: {err}") from None
    if "ValidationError" in invalid:  # try nbformat's own repairs (missing ids, stray keys) once
        err = invalid["ValidationError"]
        try:
            _changes, fixed = nbformat.validator.normalize(nbformat.from_dict(data))
            nb = nbformat.from_dict(fixed)
            if nb.nbformat != 4:
                nb = nbformat.convert(nb, 4)
            nbformat.validate(nb)
        except Exception:  # noqa: BLE001 - the original message is the useful one
            raise SubmissionError(_format_problem(name, err)) from None
    return nb


MAX_NOTEBOOK_BYTES = 100 * 2**20
MAX_DEPTH = 64  # a notebook's JSON is about 6 levels deep; widget state and outputs add a few


def _depth(data) -> int:
    """How deeply `data` nests (iteratively: a crafted file must not exhaust the stack)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def _format_problem(name: str, err) -> str:
    where = "/".join(str(p) for p in err.absolute_path) or "top level"
    message = err.message if len(err.message) < 300 else err.message[:300] + "..."
    return f"{name} does not follow the notebook format at {where}: {message}"


class SafeNotebookExporter(NotebookExporter):
    """nbgrader's exporter, but reading submissions through `read_submission`."""

    def from_filename(self, filename, resources=None, **kw):
        resources = resources if resources is not None else {}
        try:
            nb = read_submission(filename)
        except SubmissionError as err:
            from .report import record_failure

            record_failure(self, resources, str(err))
            raise
        resources.setdefault("metadata", {})
        resources["metadata"].setdefault("path", os.path.dirname(os.path.abspath(filename)))
        resources["metadata"].setdefault("name", os.path.splitext(os.path.basename(filename))[0])
        return self.from_notebook_node(nb, resources, **kw)


# ---------------------------------------------------------------- restoring


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _ids(nb: NotebookNode) -> list[tuple[int, str]]:
    return [(i, c.metadata["nbgrader"]["grade_id"]) for i, c in enumerate(nb.cells)
            if isinstance(c.metadata.get("nbgrader"), dict) and c.metadata["nbgrader"].get("grade_id")]


class RestoreCells(NbGraderPreprocessor):
    """Restore the instructor's cells from the gradebook; flag every change a learner made to them."""

    def preprocess(self, nb, resources):
        # what the grader records travels in this metadata: whatever a submission brought there is not ours
        # (a course's own keys there, such as an assessment's role and phase, stay)
        for key in GRADER_KEYS:
            nb.metadata.get(KEY, {}).pop(key, None)
        nb.cells = [c for c in nb.cells if not c.metadata.get(KEY, {}).get("grading_notes")]
        info = resources["nbgrader"]
        nb_id, assignment_id, db_url = info["notebook"], info["assignment"], info["db_url"]
        with gradebook_lock(db_url), Gradebook(db_url) as gb:
            source_nb = gb.find_notebook(nb_id, assignment_id)
            self.cells = [(c.name, c.cell_type, bool(c.locked), c.source or "", c.checksum)
                          for c in source_nb.source_cells]
            self.points = {c.name: float(c.max_score) for c in source_nb.grade_cells}
            self.tasks = {c.name: float(c.max_score) for c in source_nb.task_cells}
            self.solutions = {c.name for c in source_nb.solution_cells}
            submitted = _ids(nb)
            known = {c[0] for c in self.cells}
            if not known:  # the instructor's notebook has no nbgrader cells either (a teach-back lesson)
                return nb, resources
            if not submitted:
                raise self._fail(resources, f"{nb_id}.ipynb has no nbgrader cells at all (its metadata was "
                                 "stripped, or it was re-created as a new notebook); it cannot be graded "
                                 "automatically: grade it by hand or ask for the released notebook back")
            if not known & {name for _, name in submitted}:
                raise self._fail(resources, self._elsewhere(gb, nb_id, assignment_id, [n for _, n in submitted]))
        self._restore(nb)
        # what the execute pass needs to know of the instructor's cells, beyond the learner's reach
        solution_sources = [c[3] for c in self.cells if c[0] in self.solutions]
        section(nb)["instructor"] = {
            "solution_binds": sorted({n for src in solution_sources for n in _bound(src)}),
        }
        return nb, resources

    def _fail(self, resources, message: str) -> SubmissionError:
        from .report import record_failure

        record_failure(self, resources, message)
        return SubmissionError(message)

    @staticmethod
    def _elsewhere(gb: Gradebook, nb_id: str, assignment_id: str, names: list[str]) -> str:
        rows = (gb.db.query(Notebook.name, Notebook.assignment_id).join(SourceCell)
                .filter(SourceCell.name.in_(names)).distinct().all())
        matches = []
        for notebook, aid in rows:
            assignment = next((a.name for a in gb.assignments if a.id == aid), "?")
            if (notebook, assignment) != (nb_id, assignment_id):
                matches.append(f"{assignment}/{notebook}.ipynb")
        where = f" It looks like {', '.join(sorted(matches))}." if matches else ""
        return (f"the file submitted as {assignment_id}/{nb_id}.ipynb has none of this notebook's graded "
                f"cells, so it is a different notebook.{where} Ask the learner to submit the right file.")

    def _restore(self, nb: NotebookNode) -> None:
        order = [c[0] for c in self.cells]
        by_name = {c[0]: c for c in self.cells}
        # unknown and duplicated ids: keep the last copy of each (nbgrader's rule), strip the others
        last: dict[str, int] = {}
        for i, name in _ids(nb):
            if name not in by_name:
                nb.cells[i].metadata.pop("nbgrader")
                flag(nb, "unknown_cell", f"a cell claims to be graded cell {name!r}, which this notebook does "
                     "not have; it was run as an ordinary cell", name)
                continue
            if name in last:
                nb.cells[last[name]].metadata.pop("nbgrader")
                flag(nb, "duplicated", f"graded cell {name!r} appears more than once; the last copy was "
                     "graded and the others were run as ordinary cells", name)
            last[name] = i
        for name, i in last.items():
            self._repair(nb, nb.cells[i], by_name[name])
        self._insert_missing(nb, order, by_name, set(last))

    def _wanted_meta(self, name: str, locked: bool, checksum: str | None) -> dict:
        meta = {"grade": name in self.points, "grade_id": name, "locked": locked, "schema_version": 3,
                "solution": name in self.solutions, "task": name in self.tasks, "checksum": checksum}
        if name in self.points or name in self.tasks:
            meta["points"] = self.points.get(name, self.tasks.get(name))
        return meta

    def _repair(self, nb: NotebookNode, cell: NotebookNode, source_cell: tuple) -> None:
        name, cell_type, locked, source, checksum = source_cell
        if cell.cell_type != cell_type:
            flag(nb, "retyped", f"cell {name!r} was changed from {cell_type} to {cell.cell_type}; changed back", name)
            _set_type(cell, cell_type)
        meta = cell.metadata["nbgrader"]
        wanted = self._wanted_meta(name, locked, checksum)
        changed = sorted(k for k in ("grade", "solution", "locked", "task", "points")
                         if k in wanted and _effective(meta, k) != _effective(wanted, k))
        if changed:
            flag(nb, "metadata_changed", f"cell {name!r} had its nbgrader {', '.join(changed)} changed; restored", name)
        meta.update(wanted)
        if "points" not in wanted:
            meta.pop("points", None)
        if locked:
            if _normal(cell.source) not in {_normal(source), _normal(self._released(source, name))}:
                flag(nb, "edited_locked", f"locked cell {name!r} was edited; the instructor's version was graded",
                     name)
            cell.source = source
        cell.metadata["deletable"] = False
        if locked:
            cell.metadata["editable"] = False

    def _insert_missing(self, nb, order, by_name, present: set[str]) -> None:
        position = {c.metadata["nbgrader"]["grade_id"]: i for i, c in enumerate(nb.cells)
                    if c.metadata.get("nbgrader", {}).get("grade_id") in present}
        for k, name in enumerate(order):
            if name in position:
                continue
            _, cell_type, locked, source, checksum = by_name[name]
            graded = name in self.points or name in self.tasks
            if not (locked or graded):
                flag(nb, "missing_answer", f"answer cell {name!r} was deleted; whatever the learner wrote "
                     "elsewhere was run as it stands", name)
                continue
            before = [position[n] for n in order[:k] if n in position]
            after = [position[n] for n in order[k + 1:] if n in position]
            at = max(before) + 1 if before else (min(after) if after else len(nb.cells))
            text = source if locked else self._released(source, name)
            cell = (nbformat.v4.new_code_cell(text) if cell_type == "code" else nbformat.v4.new_markdown_cell(text))
            cell.pop("id", None)
            cell.metadata = {"deletable": False, "nbgrader": self._wanted_meta(name, locked, checksum)}
            if locked:
                cell.metadata["editable"] = False
            cell.metadata = MetadataValidator().upgrade_cell_metadata(cell).metadata
            nb.cells.insert(at, cell)
            position = {n: (p + 1 if p >= at else p) for n, p in position.items()}
            position[name] = at
            flag(nb, "deleted", f"{'test' if graded and name not in self.solutions else 'locked'} cell {name!r} "
                 "was deleted; the instructor's version was put back and graded", name)

    def _released(self, source: str, name: str) -> str:
        """What the learner was given for this cell: hidden tests and solutions removed."""
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata = {"nbgrader": {"grade_id": name, "solution": name in self.solutions,
                                      "grade": name in self.points, "locked": False}}
        ClearHiddenTests(config=self.config)._remove_hidden_test_region(cell)
        if name in self.solutions:
            ClearSolutions(config=self.config)._replace_solution_region(cell, "python")
        return cell.source


def _effective(meta: dict, key: str):
    """A cell's nbgrader setting as nbgrader acts on it: a missing flag is False (older notebooks carry
    no `task` key), every test cell counts as locked whatever its `locked` flag (nbgrader's is_locked),
    points are numbers."""
    if key == "points":
        value = meta.get("points")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if key == "locked":
        return bool(meta.get("locked")) or (bool(meta.get("grade")) and not meta.get("solution"))
    return bool(meta.get(key))


def _set_type(cell: NotebookNode, cell_type: str) -> None:
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def hidden_lines(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS") -> set[int]:
    """1-based line numbers of the hidden-test region(s) of an instructor's test cell."""
    lines, inside, out = source.splitlines(), False, set()
    for n, line in enumerate(lines, 1):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.add(n)
    return out


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failing_line(output: NotebookNode) -> int | None:
    """The line of the cell itself where an error output was raised (the first frame in the cell)."""
    for line in output.get("traceback", []):
        m = re.search(r"Cell In\s*\[\d*\], line (\d+)", _ANSI.sub("", line))
        if m:
            return int(m.group(1))
    return None



def _bound(source: str) -> list[str]:
    from .guard import bound_names

    return bound_names(source)

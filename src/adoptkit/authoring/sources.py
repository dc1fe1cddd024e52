"""The course's sources as cells with line numbers, so a finding can say `file:line`.

- A MyST page (`book/**.md`) is split into prose chunks, code cells (```` ```{code-cell} ````, with their
  options: tags, `mystnb` metadata) and directives (their name, argument and options), each with the line it
  starts on. Fenced code, math and comments are not prose.
- A notebook (`.ipynb`) is read as JSON; a small scanner finds the line each cell's source starts on in the
  file (nbformat writes a source either as one JSON string or one line per list item).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([\w:.-]+)\})?\s*(.*)$")
# Directives whose body is Markdown a reader sees (the rest is code, math or data).
PROSE_DIRECTIVES = {"admonition", "note", "tip", "important", "warning", "caution", "attention", "danger", "error",
                    "hint", "seealso", "epigraph", "sidebar", "topic", "dropdown", "card", "tab-item", "tab-set",
                    "grid", "grid-item", "grid-item-card", "div", "margin", "figure", "list-table", "table",
                    "glossary", "important"}


@dataclass
class Cell:
    kind: str  # "code" or "markdown"
    source: str
    line: int  # the file line of the source's first line (1-based)
    metadata: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    execution_count: int | None = None
    index: int = 0
    per_line: bool = True  # False: every source line is on the same file line (a one-string JSON source)

    @property
    def tags(self) -> set[str]:
        return set(self.metadata.get("tags") or [])

    @property
    def nbgrader(self) -> dict:
        return self.metadata.get("nbgrader") or {}

    @property
    def name(self) -> str:
        return self.nbgrader.get("grade_id") or self.metadata.get("id") or f"#{self.index + 1}"

    def line_of(self, n: int) -> int:
        """The file line of the source's line n (1-based)."""
        return self.line + (n - 1 if self.per_line else 0)


@dataclass
class Directive:
    name: str
    argument: str
    options: dict
    line: int


@dataclass
class Page:
    path: Path
    text: str
    notebook: bool  # a MyST notebook (front matter with a kernel): executed at build time
    prose: list[Cell]
    code: list[Cell]
    directives: list[Directive]
    cells: list[Cell]  # prose and code in order


def read_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    i, notebook = 0, False
    if lines and lines[0].strip() == "---":
        end = next((k for k in range(1, len(lines)) if lines[k].strip() == "---"), None)
        if end is not None:
            front = "\n".join(lines[1:end])
            notebook = "kernelspec" in front or "jupytext" in front
            i = end + 1
    page = Page(path, text, notebook, [], [], [], [])
    _segment(lines, i, len(lines), page)
    return page


def _flush(page: Page, chunk: list[tuple[int, str]]) -> None:
    if any(t.strip() for _, t in chunk):
        cell = Cell("markdown", "\n".join(t for _, t in chunk), chunk[0][0] + 1, index=len(page.cells))
        page.prose.append(cell)
        page.cells.append(cell)
    chunk.clear()


def _segment(lines: list[str], start: int, stop: int, page: Page) -> None:
    chunk: list[tuple[int, str]] = []
    i = start
    in_comment = False
    while i < stop:
        line = lines[i]
        if in_comment:
            if "-->" in line:
                in_comment = False
            i += 1
            continue
        if line.lstrip().startswith("<!--"):
            _flush(page, chunk)
            in_comment = "-->" not in line
            i += 1
            continue
        if line.lstrip().startswith("%"):  # a MyST comment
            i += 1
            continue
        if line.strip() == "$$":
            _flush(page, chunk)
            i = next((k for k in range(i + 1, stop) if lines[k].strip() == "$$"), stop - 1) + 1
            continue
        m = FENCE.match(line)
        if not m:
            chunk.append((i, line))
            i += 1
            continue
        _flush(page, chunk)
        fence, name, argument = m.group(2), m.group(4), m.group(5).strip()
        close = next((k for k in range(i + 1, stop)
                      if lines[k].strip().startswith(fence[0] * len(fence)) and not lines[k].strip().strip(fence[0])),
                     stop)
        body_start, options = _options(lines, i + 1, close)
        if name == "code-cell":
            source = "\n".join(lines[body_start:close])
            meta = {k: v for k, v in options.items()}
            cell = Cell("code", source, body_start + 1, meta, index=len(page.cells))
            page.code.append(cell)
            page.cells.append(cell)
        elif name:
            page.directives.append(Directive(name, argument, options, i + 1))
            if name in PROSE_DIRECTIVES or name.startswith(("admonition", "note")):
                if argument and name == "admonition":
                    chunk.append((i, argument))
                    _flush(page, chunk)
                _segment(lines, body_start, close, page)
        i = close + 1
    _flush(page, chunk)


def _options(lines: list[str], start: int, stop: int) -> tuple[int, dict]:
    """A directive's options (`:key: value` lines, or a `---` YAML block) and where its body starts."""
    if start < stop and lines[start].strip() == "---":
        end = next((k for k in range(start + 1, stop) if lines[k].strip() == "---"), None)
        if end is not None:
            try:
                opts = yaml.safe_load("\n".join(lines[start + 1:end])) or {}
            except yaml.YAMLError:
                opts = {}
            return end + 1, opts if isinstance(opts, dict) else {}
    opts, k = {}, start
    while k < stop and (m := re.match(r"^\s*:([\w-]+):\s*(.*)$", lines[k])):
        value = m.group(2).strip()
        try:
            opts[m.group(1)] = yaml.safe_load(value) if value else True
        except yaml.YAMLError:
            opts[m.group(1)] = value
        k += 1
    return k, opts


# -- notebooks -------------------------------------------------------------------------------------------

def _source_lines(text: str) -> list[tuple[int, bool]]:
    """Per cell, in order: (file line of its "source" key, whether the source is a list of lines)."""
    out: list[list] = []
    stack: list[list] = []  # [opening char, last key read in it]
    line, i, n = 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            key = text[i + 1:j]
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] == ":" and stack and stack[-1][0] == "{":
                stack[-1][1] = key
                if key == "source" and len(stack) == 3 and stack[0][1] == "cells" and out:
                    rest = text[k + 1:k + 40].lstrip()
                    out[-1] = [line, rest.startswith("[")]
            i = j
        elif ch in "{[":
            stack.append([ch, None])
            if ch == "{" and len(stack) == 3 and stack[0][1] == "cells":
                out.append([line, False])
        elif ch in "}]":
            if stack:
                stack.pop()
        i += 1
    return [(a, b) for a, b in out]


def notebook_cells(path: Path) -> list[Cell]:
    """The cells of a notebook file, each with the file line its source starts on."""
    text = Path(path).read_text(encoding="utf-8")
    nb = json.loads(text)
    places = _source_lines(text)
    cells = []
    for index, raw in enumerate(nb.get("cells", [])):
        src = raw.get("source", "")
        per_line = isinstance(src, list)
        src = "".join(src) if per_line else str(src)
        key_line, listed = places[index] if index < len(places) else (1, False)
        cells.append(Cell(raw.get("cell_type", "code"), src, key_line + (1 if listed else 0),
                          raw.get("metadata") or {}, raw.get("outputs") or [], raw.get("execution_count"),
                          index, per_line=listed))
    return cells


def notebook_metadata(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metadata") or {}

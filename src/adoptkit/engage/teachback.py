"""Learn-Do-Teach: the structure of a learner's teach-back lesson, checked so nbgrader can grade it.

A teach-back is a short lesson notebook a learner writes for colleagues from a template. What can be
checked mechanically is its structure (the sections a good lesson has, a worked example that runs on
real data, an exercise, sources); whether it teaches well is for a peer or mentor review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

# The template's sections, in order; the learner fills each one.
SECTIONS = ("Who this is for", "What you will be able to do", "Worked example", "Try it yourself",
            "Common mistakes", "Sources")
MIN_WORDS, MAX_WORDS = 150, 1500
PLACEHOLDER = "TODO"


@dataclass
class Lesson:
    title: str | None
    sections: dict[str, list[nbformat.NotebookNode]]  # heading -> the cells under it
    words: int


class TeachbackError(ValueError):
    """The lesson notebook cannot be read at all."""


def read(path: str | Path) -> Lesson:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise TeachbackError(f"{path} not found: write your lesson in it (start from the template)") from None
    except Exception as err:  # nbformat raises several kinds for a damaged file
        raise TeachbackError(f"{path} is not a readable notebook ({err.__class__.__name__}): "
                             f"restore it from the template or your last checkpoint") from None
    title, current, sections, words = None, None, {}, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            words += len(re.findall(r"[A-Za-z]{2,}", cell.source))
            for line in cell.source.splitlines():
                if m := re.match(r"^#\s+(.+)", line):
                    title = title or m.group(1).strip()
                elif m := re.match(r"^##\s+(.+)", line):
                    current = m.group(1).strip().rstrip(":")
                    sections.setdefault(current, [])
        if current is not None:
            sections[current].append(cell)
    return Lesson(title, sections, words)


def _text(cells) -> str:
    return "\n".join(c.source for c in cells)


def problems(path: str | Path) -> dict[str, str]:
    """Each structural requirement that the lesson misses, by requirement name, with what to do."""
    lesson = read(path)
    out: dict[str, str] = {}
    if not lesson.title or PLACEHOLDER in lesson.title:
        out["title"] = "give the lesson a title: one '# ' heading at the top"
    missing = [s for s in SECTIONS if s not in lesson.sections]
    if missing:
        out["sections"] = f"add the section(s) {missing} as '## ' headings (the template has them all)"
    unfilled = [s for s in SECTIONS if s in lesson.sections and (
        PLACEHOLDER in _text(lesson.sections[s]) or len(_text(lesson.sections[s]).split()) < 4)]
    if unfilled:
        out["filled"] = f"fill in the section(s) {unfilled} (replace every {PLACEHOLDER})"
    if not any(re.match(r"\s*[-*] |\s*\d+\. ", line)
               for line in _text(lesson.sections.get("What you will be able to do", [])).splitlines()):
        out["objectives"] = "list what colleagues will be able to do as bullet points"
    example = [c for c in lesson.sections.get("Worked example", []) if c.cell_type == "code" and c.source.strip()]
    if not example:
        out["example"] = "add at least one code cell to the worked example"
    elif not re.search(r"adoptkit\.(data|llm)|\bload\(|\bclient\(", _text(example)):
        out["example"] = "make the worked example use real data or the course model (adoptkit.data.load or llm.client)"
    if not re.search(r"\?|exercise|try", _text(lesson.sections.get("Try it yourself", [])), re.I) or not any(
            c.cell_type == "code" for c in lesson.sections.get("Try it yourself", [])):
        out["exercise"] = "give colleagues a task to try, with a code cell for them to start from"
    if not re.search(r"https?://|\bData:|adoptkit\.data|citation", _text(lesson.sections.get("Sources", []))):
        out["sources"] = "name your sources (a link, or the dataset's citation line)"
    if not MIN_WORDS <= lesson.words <= MAX_WORDS:
        out["length"] = f"the lesson has {lesson.words} words of prose; aim for {MIN_WORDS}-{MAX_WORDS}"
    return out


def template(topic: str = "your topic") -> nbformat.NotebookNode:
    """The lesson template a learner starts from (every section present, each to be filled)."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    hints = {
        "Who this is for": "Which colleagues, and what they already know.",
        "What you will be able to do": "- one bullet per thing colleagues can do after this lesson",
        "Worked example": "Show the technique on real data (adoptkit.data.load) or with the course model.",
        "Try it yourself": "A short task for colleagues; leave them a code cell to start from.",
        "Common mistakes": "Where this goes wrong, and how to notice.",
        "Sources": "Links, and the citation line of any dataset you used.",
    }
    cells = [md(f"# {PLACEHOLDER}: a lesson on {topic}")]
    for section in SECTIONS:
        cells.append(md(f"## {section}\n\n{PLACEHOLDER}: {hints[section]}"))
        if section in ("Worked example", "Try it yourself"):
            cells.append(code(f"# {PLACEHOLDER}"))
    return nbformat.v4.new_notebook(cells=cells)

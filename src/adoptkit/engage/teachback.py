"""Learn-Do-Teach: the structure of a learner's teach-back lesson, checked so nbgrader can grade it.

A teach-back is a short lesson notebook a learner writes for colleagues from a template. What can be
checked mechanically is its structure (the sections a good lesson has, a worked example that runs on
real data, an exercise, sources); whether it teaches well is for a peer or mentor review.

Most roles do not program, so their template needs no code: the worked example and the exercise are
ready-made prompt boxes (`prompt_box`, a PromptTask on a few real records of the role) that the learner
only types into; the prompt and every run are saved in `quiz-answers/teachback-<part>.json` beside the
lesson. Engineering's template keeps code cells (`CODE_ROLES`). Only the learner's own lines count: a
template's headings and hints pass no check.
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
CODE_ROLES = ("engineering",)  # their lessons show code; every other role's template is code-free
BOX_PARTS = ("example", "try-it")  # the ready-made prompt boxes: in "Worked example" and "Try it yourself"
# A ready-made prompt box as the template writes it: teachback.prompt_box("sales") or (..., "try-it").
BOX_CALL = re.compile(r"""\bprompt_box\(\s*['"]([\w-]+)['"]\s*(?:,\s*['"]([\w-]+)['"]\s*)?\)""")


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


def template_lines() -> set[str]:
    """Every line of every template (headings, hints, ready-made cells): what is not the learner's own."""
    lines = {line.strip() for nb in (template("x"), template("x", "sales")) for c in nb.cells
             for line in c.source.splitlines() if line.strip()}
    return lines | {line.removeprefix(f"{PLACEHOLDER}: ") for line in lines}  # a hint with its TODO deleted


def own_text(cells) -> str:
    """The learner's own finished lines of markdown cells: the templates' headings and hints, and any line
    still marked TODO, left out."""
    skip = template_lines()
    return "\n".join(line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()
                     if line.strip() and line.strip() not in skip and PLACEHOLDER not in line)


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
    elif not re.search(r"adoptkit\.(data|llm)|\bload\(|\bclient\(", _text(example)) and not any(
            BOX_CALL.search(c.source) for c in example):
        out["example"] = ("make the worked example use real data or the course model: the template's prompt box "
                          "(teachback.prompt_box), or code with adoptkit.data.load or llm.client")
    trying = lesson.sections.get("Try it yourself", [])
    if not re.search(r"\?|exercise|\btry|\btask", own_text(trying), re.I) or not any(
            c.cell_type == "code" for c in trying):
        out["exercise"] = ("in your own words, give colleagues a task to try in 'Try it yourself', with a cell to "
                           "start from (the template's prompt box, or a code cell)")
    if not re.search(r"https?://|\bData:|adoptkit\.data|citation", own_text(lesson.sections.get("Sources", []))):
        out["sources"] = ("name your sources in your own words: a link, or the data's citation line (the prompt box "
                          "shows it under the sample)")
    if not MIN_WORDS <= lesson.words <= MAX_WORDS:
        out["length"] = f"the lesson has {lesson.words} words of prose; aim for {MIN_WORDS}-{MAX_WORDS}"
    return out


def template(topic: str = "your topic", role: str | None = None) -> nbformat.NotebookNode:
    """The lesson template a learner starts from (every section present, each to be filled). Without a role,
    or for a role in CODE_ROLES, the worked example and the exercise are code cells; for any other role they
    are ready-made prompt boxes on the role's real data, so the whole lesson is written without code."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    hints = {
        "Who this is for": "Which colleagues, and what they already know.",
        "What you will be able to do": "- one bullet per thing colleagues can do after this lesson",
        "Worked example": "Show the technique on real data (adoptkit.data.load) or with the course model.",
        "Try it yourself": "A short task for colleagues; leave them a code cell to start from.",
        "Common mistakes": "Where this goes wrong, and how to notice.",
        "Sources": "Links, and the citation line of any dataset you used.",
    }
    cells_for = {"Worked example": [code(f"# {PLACEHOLDER}")], "Try it yourself": [code(f"# {PLACEHOLDER}")]}
    if role is not None and role not in CODE_ROLES:
        hints["Worked example"] = ("Type the prompt your lesson teaches in the box below and click Run on the "
                                   "sample; then explain here, in your own words, what the model replied and what "
                                   "you checked.")
        hints["Try it yourself"] = ("A short task for colleagues: what to try in the box below, and what to look "
                                    "for in the replies.")
        hints["Sources"] = "Links, and the data's citation line (the prompt box shows it under the sample)."
        fixed = {"editable": False, "deletable": False}  # JupyterLab keeps a non-coder from breaking them
        cells_for = {
            "Worked example": [code(f"# Ready-made, no code to write: type your prompt in the box, click Run.\n"
                                    f"from adoptkit.engage import teachback\nteachback.prompt_box({role!r})",
                                    metadata=dict(fixed))],
            "Try it yourself": [code(f"# Ready-made, for colleagues: a box of their own to try your task in.\n"
                                     f"from adoptkit.engage import teachback\n"
                                     f"teachback.prompt_box({role!r}, 'try-it')", metadata=dict(fixed))],
        }
    cells = [md(f"# {PLACEHOLDER}: a lesson on {topic}")]
    for section in SECTIONS:
        cells.append(md(f"## {section}\n\n{PLACEHOLDER}: {hints[section]}"))
        cells += cells_for.get(section, [])
    return nbformat.v4.new_notebook(cells=cells)


# -- the ready-made prompt boxes of a code-free lesson ---------------------------------------------------

def lesson_sample(role: str) -> dict:
    """The real records a role's prompt box runs on (lesson_samples.yml; a role not listed gets `default`), as
    a PromptTask sample: records read from the role's data, with the data's citation."""
    import yaml

    samples = yaml.safe_load(Path(__file__).with_name("lesson_samples.yml").read_text(encoding="utf-8"))
    spec = samples.get(role) or samples["default"]
    if "products" in spec:  # product facts, built as the marketing chapters build them
        return _product_facts(spec["dataset"], [str(c) for c in spec["products"]])
    return dict(spec)


def _product_facts(dataset: str, codes: list[str]) -> dict:
    """A fact sheet per product (its most common description and price, from sold lines only)."""
    from .. import data

    retail = data.load(dataset)
    sold = retail[retail["StockCode"].astype(str).isin(codes) & ~retail["InvoiceNo"].astype(str).str.startswith("C")
                  & (retail["Quantity"] > 0) & (retail["UnitPrice"] > 0) & retail["Description"].notna()]
    records = []
    for code in codes:
        rows = sold[sold["StockCode"].astype(str) == code]
        if rows.empty:
            raise ValueError(f"lesson_samples.yml names product {code}, which {dataset} has no sold line of")
        description = rows["Description"].str.strip().mode().iloc[0]
        price = float(rows["UnitPrice"].mode().min())
        records.append({"id": code, "text": f"Product: {description}\nPrice: £{price:.2f} each\nStock code: {code}"})
    return {"records": records, "source": str(retail.attrs.get("citation", ""))}


def prompt_box(role: str, part: str = "example", folder: str | Path = ".", client=None):
    """A code-free lesson's ready-made prompt box (the last line of a template cell shows it): the learner
    types a prompt and runs it, through the course model, on a few real records of their role. `part` is
    "example" (the worked example, whose saved run the grader looks for) or "try-it" (colleagues' box)."""
    from ..widgets.prompt_task import PromptTask

    if part not in BOX_PARTS:
        raise ValueError(f"prompt_box part {part!r}: use one of {', '.join(BOX_PARTS)}")
    return PromptTask({"id": f"teachback-{part}", "output": {"kind": "text"}, "sample": lesson_sample(role)},
                      folder=folder, client=client)

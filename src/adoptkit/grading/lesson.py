"""Run a learner's teach-back lesson as a colleague would, and measure what it says.

The teach-back checks notebooks (exercises/*-teachback/) call `review(lesson, role)`. While grading,
they run inside the grading sandbox like any submission; the lesson then runs in a second kernel
started from there (same sandbox, same limits), never in the checks' own interpreter. Cells that reach
for the grading machinery (reach.py) are not run. What is measured:

- `example`: the worked example's code ran, showed something, and uses the role's real data
  (`data.load` of a dataset of that role) or the course model (`llm.client()`); every other code cell
  ran too;
- `filled`: every section in the learner's own words (the template's do not count), with real variety:
  a paragraph repeated to reach the word count does not pass;
- `length`: 120 to 1500 words of the learner's own prose (about 150 with the template's headings).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import reach

MIN_WORDS, MAX_WORDS = 120, 1500  # the learner's own words: about 150 with the template's headings
MIN_DISTINCT = 50       # different content words (4+ letters, not filler) the learner wrote
MIN_VARIETY = 0.35      # distinct content words / content words: repeated filler stays far below
CELL_TIMEOUT = 60
STOP = set("""this that with from have will your they them their there what when which where were been being
into than then these those about would could should also only just more most some such very much many each
other over under after before because while does done make made like want need used using uses""".split())


@dataclass
class Review:
    problems: dict[str, str] = field(default_factory=dict)  # requirement -> what to do
    cells: list[dict] = field(default_factory=list)          # per code cell: index, ok, error, output


def _words(text: str) -> list[str]:
    text = re.sub(r"```.*?```|`[^`]*`|https?://\S+", " ", text, flags=re.S)
    return [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", text)]


def role_datasets(role: str) -> list[str]:
    from ..data.catalog import DATASETS

    own = sorted(name for name, d in DATASETS.items() if role in d.roles)
    return own or sorted(DATASETS)  # a role with no dataset of its own (engineering) may use any


def execute(nb: nbformat.NotebookNode, folder: Path) -> list[dict]:
    """Run the lesson's code cells in a fresh kernel; one result per code cell, in order."""
    from nbclient import NotebookClient

    results, runnable = [], nbformat.v4.new_notebook(metadata=nb.metadata)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        found = reach.problems(cell.source)
        result = {"index": index, "source": cell.source, "ok": not found, "output": False,
                  "error": f"not run: it reaches into the grading machinery ({'; '.join(found[:3])})" if found else None}
        results.append(result)
        if not found:
            runnable.cells.append(nbformat.v4.new_code_cell(cell.source, metadata={"lesson_index": index}))
    if runnable.cells:
        import tempfile

        from jupyter_client import KernelManager

        err = None
        for _attempt in range(2):  # a kernel that fails to start (a busy machine) is not the lesson's fault
            place = tempfile.mkdtemp(prefix="lesson-kernel-")
            km = KernelManager(kernel_name="python3", transport="ipc")  # Unix sockets, nothing on the network
            km.ip = place + "/kernel"
            log_path = os.path.join(place, "kernel.log")
            client = NotebookClient(runnable, km=km, timeout=CELL_TIMEOUT, kernel_name="python3",
                                    allow_errors=True, startup_timeout=120, resources={"metadata": {"path": str(folder)}})
            try:
                with open(log_path, "w") as log:
                    client.execute(stdout=log, stderr=log)
                err = None
                break
            except Exception as caught:  # noqa: BLE001 - a kernel that dies or hangs is the lesson's failure
                err = caught
                if any(c.get("outputs") or c.get("execution_count") for c in runnable.cells):
                    break  # it started and ran some of the lesson: the failure is the lesson's
        if err is not None:
            with open(log_path, errors="replace") as log:
                said = " ".join(log.read().split()[-40:])
            for r in results:
                if r["error"] is None and r["ok"]:
                    r["ok"], r["error"] = False, (f"the lesson's kernel stopped: {type(err).__name__}: {err}"[:300]
                                                  + (f" (it said: {said[-300:]})" if said else ""))
        by_index = {c.metadata["lesson_index"]: c for c in runnable.cells}
        for r in results:
            cell = by_index.get(r["index"])
            if cell is None or not r["ok"]:
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                r["ok"], r["error"] = False, f"{errors[0].get('ename')}: {errors[0].get('evalue')}"[:300]
            r["output"] = any(o.get("output_type") in ("stream", "display_data", "execute_result")
                              for o in cell.get("outputs", []))
    return results


def review(path: str | Path, role: str, run: bool = True) -> Review:
    """Every requirement of a teach-back lesson the lesson at `path` misses, by name, with what to do:
    its structure (engage.teachback: title, sections, objectives, exercise, sources), and what only running
    and reading it shows: `example` (runs, shows a result, uses the role's data or the course model),
    `filled` (every section in the learner's own, varied words) and `length` (own prose, 150-1500 words)."""
    from ..engage import teachback

    path = Path(path)
    out = Review()
    lesson = teachback.read(path)  # raises TeachbackError with a clear message for a missing/broken file
    nb = nbformat.read(str(path), as_version=4)
    out.problems.update({k: v for k, v in teachback.problems(path).items() if k not in ("example", "filled", "length")})
    out.cells = execute(nb, path.parent) if run else []
    failed = [c for c in out.cells if not c["ok"]]
    example = [c.source for c in lesson.sections.get("Worked example", []) if c.cell_type == "code" and c.source.strip()]
    example_runs = [c for c in out.cells if c["source"] in example]
    datasets = role_datasets(role)
    uses = re.compile(r"load\(\s*['\"](" + "|".join(map(re.escape, datasets)) + r")['\"]|\bclient\(\)") if datasets \
        else re.compile(r"\bclient\(\)")
    if not example:
        out.problems["example"] = "add the worked example's code: a cell in 'Worked example' that shows the technique"
    elif not any(uses.search(src) for src in example):
        out.problems["example"] = (f"make the worked example use your role's real data (data.load of one of "
                                   f"{', '.join(datasets)}) or the course model (llm.client())")
    elif run and (not all(c["ok"] for c in example_runs) or not any(c["output"] for c in example_runs)):
        bad = next((c for c in example_runs if not c["ok"]), None)
        out.problems["example"] = ("the worked example must run and show its result: " +
                                   (bad["error"] if bad else "it printed or displayed nothing"))
    elif failed:
        first = failed[0]
        out.problems["example"] = (f"every code cell of the lesson should run for a colleague; cell {first['index'] + 1} "
                                   f"fails: {first['error']}")
    template_lines = {line.strip() for c in teachback.template("x").cells for line in c.source.splitlines()}

    def own_text(source: str) -> str:  # the learner's lines: the template's headings and hints left out
        return "\n".join(line for line in source.splitlines() if line.strip() not in template_lines
                         and not line.lstrip().startswith("#"))

    own = [w for c in nb.cells if c.cell_type == "markdown" for w in _words(own_text(c.source))]
    content = [w for w in own if len(w) >= 4 and w not in STOP]
    distinct = set(content)
    unfilled = [s for s, cells in lesson.sections.items()
                if teachback.PLACEHOLDER in "\n".join(c.source for c in cells)]
    thin = [s for s, cells in lesson.sections.items() if s in teachback.SECTIONS and s != "Sources" and len(
        [w for c in cells if c.cell_type == "markdown" for w in _words(own_text(c.source))]) < 8]
    if unfilled:
        out.problems["filled"] = f"replace every {teachback.PLACEHOLDER} (left in: {', '.join(unfilled)})"
    elif thin:
        out.problems["filled"] = f"write a few sentences of your own in: {', '.join(thin)}"
    elif len(distinct) < MIN_DISTINCT or len(distinct) < MIN_VARIETY * len(content):
        out.problems["filled"] = (f"the prose repeats itself ({len(distinct)} different words in {len(content)}): "
                                  "explain the technique, its steps and its pitfalls in your own words")
    if not MIN_WORDS <= len(own) <= MAX_WORDS:
        out.problems["length"] = (f"the lesson has {len(own)} words of your own prose (the template's words do "
                                  f"not count); aim for {MIN_WORDS}-{MAX_WORDS} of your own words (about 150 or more with "
                                  "the headings) that explain the technique")
    return out

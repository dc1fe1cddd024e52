"""What a learner and a grader open: feedback that teaches without handing out the answer key, and no
script from a submission running in anyone's browser.

`LearnerFeedback` (in nbgrader's generate_feedback) shows, for each test cell, the checks the learner
was given, a line where the hidden checks ran, and for a failed check its message only: never the
hidden checks' code (nbgrader prints it: #917, #1363) and never a traceback, whose context lines can
hold hidden code.

`Sanitize` (autograde, feedback) is nbconvert's SanitizeHTML with unsafe markup removed: scripts, event
handlers (`onerror`, `onload`...), `javascript:` URLs, SVG, iframes, in outputs and markdown cells.
"""

from __future__ import annotations

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .tamper import _ANSI, failing_line, hidden_lines

HIDDEN_PLACEHOLDER = "# (hidden checks run here when your work is graded; their code is not shown)"


class Sanitize(SanitizeHTML):
    """nbconvert's SanitizeHTML, stripping what is unsafe rather than escaping it."""

    def __init__(self, **kw):
        kw.setdefault("strip", True)
        kw.setdefault("enabled", True)  # nbconvert's preprocessors are off unless enabled
        super().__init__(**kw)


def _visible(source: str, begin: str, end: str) -> tuple[str, dict[int, int | None]]:
    """The test cell's source with each hidden region replaced by one placeholder line, and a map from
    the original line numbers to the shown ones (None for hidden lines)."""
    shown, where, inside = [], {}, False
    for n, line in enumerate(source.splitlines(), 1):
        if begin in line:
            inside = True
            shown.append(line[: len(line) - len(line.lstrip())] + HIDDEN_PLACEHOLDER)
            where[n] = None
        elif end in line:
            inside = False
            where[n] = None
        elif inside:
            where[n] = None
        else:
            shown.append(line)
            where[n] = len(shown)
    return "\n".join(shown), where


def _for_learner(output: NotebookNode) -> bool:
    """An explanation a hidden check wrote for the learner on purpose (adoptkit.widgets.grading's FEEDBACK mark:
    the why of each option, the faults found and missed); plain prints stay hidden."""
    meta = output.get("metadata") or {}
    return output.get("output_type") == "display_data" and (meta.get("adoptkit") or {}).get("feedback") is True


def _message(output: NotebookNode) -> str:
    text = _ANSI.sub("", str(output.get("evalue", ""))).strip()
    return text


class LearnerFeedback(NbGraderPreprocessor):
    """Feedback without the hidden tests' code; each failed check says what it expected."""

    begin_hidden = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end_hidden = Unicode("END HIDDEN TESTS").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        hidden = hidden_lines(cell.source, self.begin_hidden, self.end_hidden)
        original = cell.source
        cell.source, where = _visible(original, self.begin_hidden, self.end_hidden)
        if hidden:  # what hidden checks print (an expected value, say) is theirs too, unless written for the learner
            cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error" or _for_learner(o)]
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            line = failing_line(out)
            ename, message = out.get("ename", "Error"), _message(out)
            if ename == "NotRun":
                summary = message
            elif line is not None and line in hidden:
                summary = f"A hidden check failed: {message}" if message else (
                    f"A hidden check failed ({ename}); it gives no message")
            else:
                shown = where.get(line) if line else None
                at = f" (line {shown} of the checks above)" if shown else ""
                summary = f"A check failed{at}: {message}" if message else f"A check failed{at} ({ename})"
            out["traceback"] = [f"{ename}: {summary}"]
            out["evalue"] = summary
        return cell, resources

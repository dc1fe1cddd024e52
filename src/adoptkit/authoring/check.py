"""`adoptkit check`: the authoring lint over the whole course, one finding per line as `file:line: rule: message`.

What it reads: every page `_toc.yml` lists (chapters are the MyST notebooks among them; path pages are
`book/roles/<path>/index.md`), every exercise source (`exercises/<name>/*.ipynb` and the files beside them),
the no-code content files (`content/*.yml`) and the wrong answers declared in `autograders/<name>/`.
RULES says what each rule finds; prose.py states the rule for numbers. With `run=True` it also runs each
declared wrong answer (wrong.py) and reports any its test does not catch.

Justified exceptions go in an allow-list (`check-allow.yml` at the course root): each entry names the rule,
the file (a glob), optionally text the finding must contain, and the reason. An entry with no reason, or one
that matches nothing any more, is itself a finding, so the list stays honest and short.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import choices, prose, toc
from .names import AuthoringError
from .sources import Cell, Page, notebook_cells, notebook_metadata, read_page

ALLOW_FILE = "check-allow.yml"
RULES = {
    "objectives": "a chapter or path page without its learning objectives at the top",
    "time": "a chapter or path page without a time estimate",
    "glue": "a number in a chapter's prose that does not come from the data through glue (rule: prose.py)",
    "source": "a sentence with a statistic and no source, no glue and no label saying it has none",
    "attribution": "a dataset shown without its attribution",
    "placeholder": "a TODO left in a page of the book",
    "alt-text": "a figure without alt text",
    "colour": "a colour scale colour-blind readers cannot read (red with green, rainbow maps)",
    "hidden-test": "a graded part with no hidden test",
    "wrong-answer": "a graded part with no declared wrong answer for its test to catch, or (--run) one it does not catch",
    "lock": "a cell locked for nbgrader but not for Jupyter (or the reverse), or a test cell left unlocked",
    "points": "a graded cell without points, or whose prompt does not state them",
    "assert-message": "an assert without a message, in an exercise a learner reads",
    "choice-cue": "choice items whose length or position gives the answer away",
    "choice-key": "a choice item whose key is not an option, or an option without its explanation",
    "outputs": "outputs, execution counts or saved widget state in an exercise source",
    "secret": "what looks like an API key, a token or a private key",
    "answer-key": "an answer key where a learner can read it",
    "syntax": "a code cell that is not valid Python (the other rules cannot read it)",
    "allow-list": "an allow-list entry without a reason, or one that matches nothing any more",
}

SECRETS = re.compile(
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|"
    r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----|\bAIza[0-9A-Za-z_-]{35}\b|"
    r"(?i:\b(?:api[_-]?key|secret|token|password)\b\s*[=:]\s*[\"'][A-Za-z0-9_\-./+]{16,}[\"'])")
SECRET_PLACEHOLDER = re.compile(r"x{6,}|\.\.\.|your[_-]|example|replay|changeme|<[^>]+>", re.I)
RED_GREEN_MAPS = {"rdylgn", "rdgn", "jet", "rainbow", "hsv", "gist_rainbow", "nipy_spectral", "spectral", "turbo",
                  "prism", "gist_ncar", "brg"}
REDS = re.compile(r"[\"'](?:red|tab:red|darkred|crimson|firebrick|#f00|#ff0000|#d62728|#e41a1c|r)[\"']", re.I)
GREENS = re.compile(r"[\"'](?:green|tab:green|darkgreen|forestgreen|limegreen|lime|#0f0|#00ff00|#2ca02c|#4daf4a|g)[\"']",
                    re.I)
CSS_RED_GREEN = re.compile(r"(?:background|color)\s*:\s*(?:red|#f00\b|#ff0000)", re.I), \
    re.compile(r"(?:background|color)\s*:\s*(?:green|#0f0\b|#00ff00)", re.I)
DRAW_CALLS = {"show", "subplots", "figure", "plot", "bar", "barh", "hist", "scatter", "imshow", "pie", "boxplot",
              "heatmap", "lineplot", "barplot", "scatterplot", "histplot", "Chart", "savefig", "violinplot", "step",
              "fill_between", "errorbar", "matshow", "pcolormesh", "contourf"}
ATTRIBUTION_CALLS = {"cite", "attribution", "citation", "show_attribution"}
LOAD_CALLS = {"load"}
PLACEHOLDER = re.compile(r"\bTODO\s*:|^\s*(#\s*)?TODO\b")  # "TODO: ..." as the scaffolds write it
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
AUTOMATIC_WRONG = ("grading.choice", "grading.decide", "grading.check")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


class Course:
    """The course's files, read once."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.toc = toc.read(self.root)
        from .. import settings as settings_mod

        config = self.root / "_config.yml"
        try:
            self.settings = settings_mod.load(config) if config.is_file() else settings_mod.Settings(root=self.root)
        except settings_mod.SettingsError as err:
            raise AuthoringError(str(err)) from None

    def rel(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def pages(self) -> list[Path]:
        out = []
        for f in toc.files(self.toc):
            for ext in (".md", ".ipynb"):
                if (self.root / f"{f}{ext}").is_file():
                    out.append(self.root / f"{f}{ext}")
                    break
        return out

    def exercises(self) -> list[Path]:
        return sorted((self.root / "exercises").glob("*/*.ipynb"))

    def is_teachback(self, assignment: str) -> bool:
        names = self.settings.measure.teachbacks
        return assignment in names if isinstance(names, list) else fnmatch.fnmatchcase(assignment, names)


# -- pages of the book ----------------------------------------------------------------------------------

def _is_path_page(rel: str) -> bool:
    return bool(re.fullmatch(r"book/roles/[^/]+/index\.md", rel))


DURATION = re.compile(r"\b(\d+(?:[.,]\d+)?|an?|one|two|three|four|five|six|half an?)\s*(?:-|to\s+\d+\s*)?"
                      r"(minutes?|mins?|hours?|hrs?)\b", re.I)


def page_findings(course: Course, path: Path) -> list[Finding]:
    rel = course.rel(path)
    if path.suffix != ".md":
        return []
    page = read_page(path)
    out: list[Finding] = []

    def add(line, rule, message):
        out.append(Finding(rel, line, rule, message))

    lines = page.text.splitlines()
    title_line = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 1)
    if page.notebook:
        _chapter_structure(page, title_line, add)
    elif _is_path_page(rel):
        headings = {h.strip().lower(): i + 1 for i, h in enumerate(lines) if h.startswith("## ")}
        if not any(h.startswith("## what you will be able to do") for h in headings):
            add(title_line, "objectives", "a path page says what the learner will be able to do: add a section "
                                          "'## What you will be able to do' with one bullet per skill")
        time_at = headings.get("## time")
        if time_at is None or not DURATION.search(_section(lines, time_at)):
            add(time_at or title_line, "time", "a path page says how long it takes: add a section '## Time' with the "
                                              "time per chapter, exercise, quiz and teach-back (labelled as estimates)")
    sections = _sections(page)
    for cell in page.prose:
        _prose_findings(page, cell, add, sections)
    for d in page.directives:
        if d.name in ("figure", "image"):
            alt = d.options.get("alt")
            if not alt or not str(alt).strip() or re.search(r"\.(png|jpe?g|svg|gif)$", str(alt).strip(), re.I):
                add(d.line, "alt-text", f"the {d.name} {d.argument!r} has no alt text: add `:alt: what it shows` "
                                        f"(a sentence a reader who cannot see it can use)")
    for cell in page.code:
        if (err := _parse(cell)) is not None:
            add(cell.line_of(err.lineno or 1), "syntax", f"this code cell is not valid Python ({err.msg}); the "
                                                          f"build would fail on it")
            continue
        _figure_alt(cell, add)
        _colour(cell, add)
    _attribution_in_page(page, add)
    return out


def _section(lines: list[str], heading_line: int) -> str:
    body = []
    for line in lines[heading_line:]:
        if line.startswith("## "):
            break
        body.append(line)
    return "\n".join(body)


def _chapter_structure(page: Page, title_line: int, add) -> None:
    lines = page.text.splitlines()
    # The objectives are the first thing after the title (an admonition titled "Chapter learning objectives").
    after = [line for line in lines[title_line:] if line.strip() and not re.fullmatch(r"\(.*\)=", line.strip())]
    if not any("learning objectives" in line.lower() for line in after[:3]):
        add(title_line + 1, "objectives", "a chapter opens with its learning objectives: put an admonition titled "
                                          "'Chapter learning objectives' right after the title")
    # The time estimate is near the top: anywhere between the title and the first section.
    head = []
    for line in lines[title_line:]:
        if line.startswith("## "):
            break
        head.append(line)
    if not DURATION.search("\n".join(head)):
        add(title_line + 1, "time", "a chapter says how long it takes, near the top (in its objectives, e.g. "
                                    "'**Time:** about 45 minutes (the author's estimate)')")


def _sections(page: Page) -> list[str]:
    """The `## ` heading each line of the page falls under ("" before the first)."""
    out, current = [], ""
    for line in page.text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        out.append(current)
    return out


def _prose_findings(page: Page, cell: Cell, add, sections: list[str]) -> None:
    lines = cell.source.split("\n")
    for k, line in enumerate(lines):
        if PLACEHOLDER.search(prose.visible(line)):
            add(cell.line_of(k + 1), "placeholder", "a TODO is left in what learners read: write the text it asks for")
    regions, start = [], 0
    for k, line in enumerate(lines + [""]):
        if not line.strip():
            if k > start:
                regions.append((start, "\n".join(lines[start:k])))
            start = k + 1
    for region_start, region in regions:
        if prose.cites(region):
            continue  # a source for the paragraph, or for the list, covers its figures
        for start, block in prose.paragraphs(region):
            first = region_start + start
            section = sections[cell.line_of(first + 1) - 1] if cell.line_of(first + 1) - 1 < len(sections) else ""
            if prose.EXEMPT_SECTIONS.match(section):
                continue
            for offset, sentence in prose.sentences(block):
                if prose.labelled(sentence):
                    continue
                found = prose.numbers(sentence) if page.notebook else []
                if found:
                    token = found[0].text.split()[0]
                    at = next((first + k for k in range(offset, len(block)) if token in block[k]), first + offset)
                    shown = ", ".join(n.text for n in found[:4])
                    add(cell.line_of(at + 1), "glue", f"the number(s) {shown} in the prose are not glued from the "
                                                      f"data: compute them in a code cell and show them with "
                                                      f"{{glue:text}}`name`, or cite their source")
                elif prose.statistic(sentence) and not prose.glued(sentence):
                    add(cell.line_of(first + offset + 1), "source",
                        f"a claim with a statistic and no source: {_short(sentence)!r}; link or cite its source, "
                        f"compute it with glue, or label it (e.g. 'the authors' estimate')")


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 3] + "..."


def _parse(cell: Cell) -> SyntaxError | None:
    try:
        cell.tree = ast.parse(_python(cell.source))  # type: ignore[attr-defined]
        return None
    except SyntaxError as err:
        return err


def _python(source: str) -> str:
    """Cell source with IPython's magics and shell lines blanked (kept as blank lines: line numbers stay)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _draws(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in DRAW_CALLS:
            f = node.func
            base = f.value if isinstance(f, ast.Attribute) else None
            # plt.show(), ax.barh(...), df.plot(...), df.plot.barh(...), sns.barplot(...), alt.Chart(...)
            if _call_name(node) == "show" and not (isinstance(base, ast.Name) and base.id in {"plt", "fig"}):
                continue
            if _call_name(node) == "figure" and not (isinstance(base, ast.Name) and base.id == "plt"):
                continue
            return True
    return False


def _figure_alt(cell: Cell, add) -> None:
    if {"remove-cell", "remove-output"} & cell.tags or not _draws(cell.tree):  # type: ignore[attr-defined]
        return
    meta = cell.metadata.get("mystnb") or {}
    alt = (meta.get("image") or {}).get("alt") or (meta.get("figure") or {}).get("alt")
    if not alt or not str(alt).strip():
        add(cell.line, "alt-text", "this cell draws a figure with no alt text: describe what it shows in the cell's "
                                   "options (---\\nmystnb:\\n  image:\\n    alt: ...\\n---)")


def _colour(cell: Cell, add) -> None:
    src = cell.source
    for m in re.finditer(r"\b(?:cmap|colormap|palette)\s*=\s*[\"']([\w.]+)[\"']", src):
        if m.group(1).lower().removesuffix("_r") in RED_GREEN_MAPS:
            add(cell.line_of(src[:m.start()].count("\n") + 1), "colour",
                f"the colour map {m.group(1)!r} is unreadable for red-green colour-blind readers (or rainbow-ordered): "
                f"use 'viridis', 'cividis', or 'PuOr' for a diverging scale")
    if (REDS.search(src) and GREENS.search(src)) or all(p.search(src) for p in CSS_RED_GREEN):
        m = REDS.search(src) or CSS_RED_GREEN[0].search(src)
        add(cell.line_of(src[:m.start()].count("\n") + 1), "colour",
            "red and green together tell values apart only for readers who see both: use the Okabe-Ito colours "
            "(#0072B2 blue, #E69F00 orange) or a purple-orange scale, and a second cue (a label or a pattern)")


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _loads(node: ast.AST) -> str | None:
    """The dataset name if `node` is a call `load("name")` / `data.load("name")`."""
    if isinstance(node, ast.Call) and _call_name(node) in LOAD_CALLS and node.args and \
            isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _attributes(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _call_name(node) in ATTRIBUTION_CALLS:
            return True
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "citation":
            return True
    return False


def _statements(body: list[ast.stmt]):
    """Statements in the order they run at the cell's top level (function and class bodies do not run)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, name, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _statements(handler.body)


QUIET_CALLS = {"glue", "display", "print", "cite", "attribution"} | DRAW_CALLS


def _shown(stmt: ast.stmt, last: bool) -> list[ast.AST]:
    """What a statement shows: display/print arguments, a plot's data, and the cell's last bare expression
    (Jupyter shows the value of the last one only; a call such as glue(...) shows nothing itself)."""
    out = []
    if last and isinstance(stmt, ast.Expr) and not (isinstance(stmt.value, ast.Call)
                                                     and _call_name(stmt.value) in QUIET_CALLS):
        out.append(stmt.value)
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and (_call_name(node) in {"display", "print"} or _call_name(node) in DRAW_CALLS):
            target = node.func.value if isinstance(node.func, ast.Attribute) else None
            out += list(node.args) + [k.value for k in node.keywords] + ([target] if target is not None else [])
    return out


def _flow(tree: ast.Module, tainted: set[str]) -> bool:
    """Update `tainted` (names holding data from a loaded dataset) in run order; True if the cell shows some."""
    shows = False
    last = tree.body[-1] if tree.body else None
    for stmt in _statements(tree.body):
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)):
            value = stmt.iter if isinstance(stmt, ast.For) else stmt.value
            targets = [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For)) else stmt.targets
            if value is None:
                continue
            dirty = any(_loads(n) for n in ast.walk(value)) or bool(_names(value) & tainted)
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if dirty:
                tainted |= names
            elif not isinstance(stmt, ast.AugAssign):
                tainted -= {t.id for t in targets if isinstance(t, ast.Name)}  # rebound to something else
        if isinstance(stmt, (ast.Expr, ast.Assign)) and not _attributes(stmt):
            if any(_names(a) & tainted for a in _shown(stmt, stmt is last)):
                shows = True
    return shows


def _attribution_in_page(page: Page, add) -> None:
    tainted: set[str] = set()
    code = [c for c in page.code if getattr(c, "tree", None) is not None]
    for i, cell in enumerate(code):
        tree = cell.tree  # type: ignore[attr-defined]
        shows = _flow(tree, tainted)
        if {"remove-cell", "remove-output"} & cell.tags or not shows or _attributes(tree):
            continue
        nxt = code[i + 1] if i + 1 < len(code) else None
        if nxt is None or not _attributes(nxt.tree):  # type: ignore[attr-defined]
            add(cell.line, "attribution", "this cell shows data from a dataset without its attribution: show the "
                                          "dataset's citation under it (the chapter's attribution(df) helper, or "
                                          "df.attrs['citation'])")


# -- exercises ------------------------------------------------------------------------------------------

def exercise_findings(course: Course, path: Path, wrong: dict | None, content: dict | None) -> list[Finding]:
    rel = course.rel(path)
    assignment = path.parent.name
    out: list[Finding] = []

    def add(line, rule, message):
        out.append(Finding(rel, line, rule, message))

    cells = notebook_cells(path)
    meta = notebook_metadata(path)
    if "widgets" in meta:
        add(1, "outputs", "the notebook holds saved widget state (metadata.widgets), which can carry a learner's or "
                          "an author's answers: clear it (Edit → Clear Outputs of All Cells, then save)")
    graded_nb = any(c.nbgrader for c in cells)
    for cell in cells:
        if cell.kind == "code" and (cell.outputs or cell.execution_count is not None):
            add(cell.line, "outputs", f"cell {cell.name} holds outputs or an execution count: clear them before "
                                      f"committing (exercise sources are committed with outputs stripped)")
        _lock(cell, add)
        _secrets(cell.source, cell.line_of, add)
        if cell.kind == "code":
            if (err := _parse(cell)) is not None:
                add(cell.line_of(err.lineno or 1), "syntax", f"cell {cell.name} is not valid Python ({err.msg})")
                continue
            _asserts(cell, add)
            _colour(cell, add)
            if graded_nb:
                _exposed_key(cell, add)
        else:
            if graded_nb:
                for k, line in enumerate(cell.source.split("\n")):
                    if PLACEHOLDER.search(prose.visible(line)):
                        add(cell.line_of(k + 1), "placeholder", f"cell {cell.name}: a TODO is left in what learners "
                                                                f"read: write the text it asks for")
            for m in re.finditer(r"!\[([^\]]*)\]\(([^)]+)\)", cell.source):
                if not m.group(1).strip():
                    add(cell.line_of(cell.source[:m.start()].count("\n") + 1), "alt-text",
                        f"the image {m.group(2)!r} has no alt text: write ![what it shows]({m.group(2)})")
    if graded_nb:
        _parts(course, assignment, cells, wrong, content, add,
               lambda file, line, rule, message: out.append(Finding(file, line, rule, message)))
        _dataset_attribution(cells, add)
    return out


def _lock(cell: Cell, add) -> None:
    nbg = cell.nbgrader
    jupyter_locked = cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False
    if not nbg:
        if cell.metadata.get("editable") is False:
            add(cell.line, "lock", f"cell {cell.name} is read-only in Jupyter but nbgrader does not know it: mark it "
                                   f"locked in nbgrader (nbgrader.locked: true) so a changed copy is restored")
        return
    test_cell = nbg.get("grade") and not nbg.get("solution")
    if (nbg.get("locked") or test_cell) and not jupyter_locked:
        add(cell.line, "lock", f"cell {cell.name} is locked for nbgrader but a learner can still edit or delete it in "
                               f"Jupyter: set its metadata editable: false and deletable: false")
    if test_cell and not nbg.get("locked"):
        add(cell.line, "lock", f"test cell {cell.name} is not locked for nbgrader: set nbgrader.locked: true")
    if jupyter_locked and not nbg.get("locked") and not test_cell:
        add(cell.line, "lock", f"cell {cell.name} is read-only in Jupyter but not locked for nbgrader: set "
                               f"nbgrader.locked: true")


def _secrets(text: str, line_of, add) -> None:
    for m in SECRETS.finditer(text):
        if SECRET_PLACEHOLDER.search(m.group(0)):
            continue
        add(line_of(text[:m.start()].count("\n") + 1), "secret",
            "this looks like a real API key, token or private key: remove it, revoke it, and read keys from the "
            "environment (adoptkit.llm.client() does)")


def bare_checks(tree: ast.AST) -> list[ast.stmt]:
    """The asserts and `raise AssertionError` in `tree` that carry no message for the learner."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is None:
            found.append(node)
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc
            name = exc.func.id if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) else (
                exc.id if isinstance(exc, ast.Name) else None)
            if name == "AssertionError" and not (isinstance(exc, ast.Call) and exc.args):
                found.append(node)
    return found


def _asserts(cell: Cell, add) -> None:
    nbg = cell.nbgrader
    if not (nbg.get("grade") and not nbg.get("solution")):
        return  # the author's solution is replaced in the release; test cells are what learners see fail
    for node in bare_checks(cell.tree):  # type: ignore[attr-defined]
        add(cell.line_of(node.lineno), "assert-message",
            f"test cell {cell.name}: a check without a message shows a learner only 'AssertionError': say what was "
            f"expected and what to do (assert x == y, f\"expected {{y}}, got {{x}}\")")


def _visible(source: str) -> str:
    """The part of a cell a learner sees in the release (hidden tests removed)."""
    return re.sub(rf"^[ \t]*{HIDDEN_BEGIN}\n.*?^[ \t]*{HIDDEN_END}[ \t]*\n?", "", source, flags=re.S | re.M)


def _exposed_key(cell: Cell, add) -> None:
    src = cell.source
    if src.count(HIDDEN_BEGIN) != src.count(HIDDEN_END):
        add(cell.line, "answer-key", f"cell {cell.name} opens a hidden-test block without closing it (or the reverse): "
                                     f"nbgrader would release what follows")
        return
    if cell.nbgrader.get("solution"):
        return  # nbgrader replaces the solution in the release
    seen = _visible(src)
    for pattern, what in ((r"grading\.(choice|decide|check|prompt)\(", "the grading call with its key"),
                          (r"^\s*KEY\s*=", "an answer KEY")):
        if m := re.search(pattern, seen, re.M):
            add(cell.line_of(seen[:m.start()].count("\n") + 1), "answer-key",
                f"cell {cell.name} shows {what} outside its hidden tests: move it between {HIDDEN_BEGIN} and "
                f"{HIDDEN_END}")


def _parts(course: Course, assignment: str, cells: list[Cell], wrong: dict | None, content: dict | None,
           add, add_to) -> None:
    """Group graded cells into parts (a solution cell and the test cells after it; else one test cell each)."""
    parts: list[tuple[Cell | None, list[Cell]]] = []
    current: tuple[Cell | None, list[Cell]] | None = None
    prompt_for: dict[int, Cell] = {}
    last_md: Cell | None = None
    for cell in cells:
        nbg = cell.nbgrader
        if cell.kind == "markdown" and not nbg.get("solution"):
            last_md = cell
        if cell.kind == "code" and nbg.get("solution"):
            current = (cell, [])
            parts.append(current)
            if last_md is not None:
                prompt_for[cell.index] = last_md
        elif cell.kind == "code" and nbg.get("grade"):
            if current is not None:
                current[1].append(cell)
            else:
                parts.append((None, [cell]))
                if last_md is not None:
                    prompt_for[cell.index] = last_md
        elif cell.kind == "markdown" and nbg.get("grade") and nbg.get("solution"):
            current = None  # a manually graded answer ends the part before it
    teachback = course.is_teachback(assignment)
    declared = (wrong or {}).get("answers", {})
    # Test cells with no answer cell under one prompt (a quiz's questions) may state their points together.
    together: dict[int, float] = {}
    for solution, tests in parts:
        prompt = prompt_for.get((solution or tests[0]).index) if tests else None
        if solution is None and prompt is not None:
            together[prompt.index] = together.get(prompt.index, 0) + sum(
                t.nbgrader.get("points") or 0 for t in tests)
    prompt_parts_seen: set[str] = set()
    for solution, tests in parts:
        if not tests:
            if solution is not None:
                add(solution.line, "hidden-test", f"answer cell {solution.name} has no test cell after it: add a "
                                                  f"locked, graded test cell with hidden tests")
            continue
        anchor = solution or tests[0]
        label = f"the part answered in {solution.name}" if solution else f"graded cell {tests[0].name}"
        prompt = prompt_for.get(anchor.index)
        _points(anchor, tests, prompt, add, together.get(prompt.index) if prompt is not None and solution is None
                else None)
        if not teachback and not any(HIDDEN_BEGIN in t.source for t in tests):
            add(tests[0].line, "hidden-test", f"{label} has no hidden test: add checks between {HIDDEN_BEGIN} and "
                                              f"{HIDDEN_END}, which learners cannot see or game")
        if teachback:
            continue  # its wrong answer is the blank lesson template, which the teach-back tests run
        sources = "\n".join(t.source for t in tests)
        if any(call in sources for call in AUTOMATIC_WRONG):
            continue  # every other option, or flagging everything, is the wrong answer: graded the same way
        if "grading.prompt(" in sources:
            pid = re.search(r"grading\.prompt\(\s*['\"]([\w-]+)['\"]", sources)
            part = next((p for p in (content or {}).get("parts", []) if pid and p.get("id") == pid.group(1)), None)
            if pid and pid.group(1) in prompt_parts_seen:
                continue
            prompt_parts_seen.add(pid.group(1) if pid else "?")
            if not part or not part.get("wrong_answers"):
                add(tests[0].line, "wrong-answer",
                    f"prompt part {pid.group(1) if pid else '?'} declares no wrong answer: add `wrong_answers:` "
                    f"(prompts a learner could plausibly write, and the grades they lose) to content/{assignment}.yml")
            continue
        if solution is None:
            add(tests[0].line, "wrong-answer", f"{label} has no answer cell, so no wrong answer can be run against "
                                               f"it: put the learner's answer in a solution cell before it")
            continue
        if not declared.get(solution.name):
            add(solution.line, "wrong-answer",
                f"no wrong answer is declared for {solution.name}: add a plausible one to "
                f"autograders/{assignment}/wrong-answers.yml (`adoptkit check --run` checks its test fails)")
    if wrong:
        rel = f"autograders/{assignment}/wrong-answers.yml"
        for line, message in wrong.get("problems", []):
            add_to(rel, line, "wrong-answer", message)
        known = {s.name for s, _ in parts if s is not None}
        for name in declared:
            if name not in known:
                add_to(rel, wrong.get("lines", {}).get(name, 1), "wrong-answer",
                    f"autograders/{assignment}/wrong-answers.yml declares wrong answers for {name!r}, which is no "
                    f"answer cell of the exercise (answer cells: {', '.join(sorted(known)) or 'none'})")


WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20}


def _states(text: str, points: float) -> bool:
    for m in re.finditer(r"\b(\d+(?:\.\d+)?|[a-z]+)\s+(?:autograded\s+)?points?\b", text, re.I):
        word = m.group(1).lower()
        value = WORDS.get(word) if not word[0].isdigit() else float(word)
        if value is not None and abs(value - points) < 1e-9:
            return True
    return False


def _points(anchor: Cell, tests: list[Cell], prompt: Cell | None, add, group: float | None = None) -> None:
    for t in tests:
        pts = t.nbgrader.get("points")
        if not isinstance(pts, (int, float)) or pts <= 0:
            add(t.line, "points", f"graded cell {t.name} has no points (nbgrader.points): give it its value")
            return
    total = sum(t.nbgrader["points"] for t in tests)
    each_stated = all(_states(t.source.split("\n", 1)[0], t.nbgrader["points"]) for t in tests)
    if each_stated or (prompt is not None and (_states(prompt.source, total)
                                               or (group is not None and _states(prompt.source, group)))):
        return
    add(tests[0].line, "points", f"the learner is not told what {tests[0].name} is worth: say it in the first line of "
                                 f"each test cell (\"# Tests for Part 1 (2 points)\") or in the part's prompt "
                                 f"({total:g} points)")


def _dataset_attribution(cells: list[Cell], add) -> None:
    """An exercise shows each dataset it loads with its attribution somewhere after loading it."""
    loaded: dict[str, Cell] = {}
    attributed = False
    for cell in cells:
        tree = getattr(cell, "tree", None)
        if cell.kind != "code" or tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _loads(node.value):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        loaded.setdefault(t.id, cell)
        if _attributes(tree):
            attributed = True
    if loaded and not attributed:
        first = min(loaded.values(), key=lambda c: c.index)
        add(first.line, "attribution", f"the exercise loads {', '.join(sorted(loaded))} but never shows the "
                                       f"attribution: print(df.attrs['citation']) in the cell that loads it")


def learner_files(course: Course, folder: Path) -> list[Finding]:
    """Files released beside the notebooks: no key in them, no secret."""
    out: list[Finding] = []
    for f in sorted(folder.rglob("*")):
        if not f.is_file() or f.suffix == ".ipynb" or f.stat().st_size > 2_000_000:
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = course.rel(f)
        for k, line in enumerate(text.splitlines()):
            if re.match(r"^\s*-?\s*(answer|fault|why|rubric|wrong_answers|right_answer)\s*:", line):
                out.append(Finding(rel, k + 1, "answer-key", f"{f.name} is released to learners and holds an answer "
                                                             f"key ({line.strip()[:40]!r}): keep keys in content/ or "
                                                             f"the hidden tests"))
                break
        _secrets(text, lambda n: n, lambda line, rule, msg: out.append(Finding(rel, line, rule, msg)))
    return out


# -- content files and choice items -----------------------------------------------------------------------

def choice_findings(course: Course) -> list[Finding]:
    out: list[Finding] = []
    try:
        sets = choices.every_choice_set(course.root)
    except ValueError as err:
        where = str(err).split(":", 1)[0]
        return [Finding(course.rel(Path(where)), 1, "choice-key", str(err).split(": ", 1)[-1])]
    for assignment, items in sets.items():
        for problem in choices.cues(items):
            first = items[0]
            out.append(Finding(course.rel(Path(first.where)), first.line, "choice-cue", f"{assignment}: {problem}"))
        for item in items:
            rel = course.rel(Path(item.where))
            if item.answer not in item.options:
                out.append(Finding(rel, item.line, "choice-key", f"{assignment}: the key {item.answer!r} is not one "
                                                                 f"of the options"))
            missing = [o for o in item.options if not str(item.why.get(o) or "").strip()]
            if missing:
                out.append(Finding(rel, item.line, "choice-key", f"{assignment}: option(s) {missing[:2]} have no "
                                                                 f"one-line explanation for the feedback"))
            if len(set(item.options)) != len(item.options):
                out.append(Finding(rel, item.line, "choice-key", f"{assignment}: an option is repeated"))
    return out


def content_spec(course: Course, assignment: str) -> tuple[dict | None, Path | None]:
    for f in sorted((course.root / "content").glob("*.yml")):
        try:
            spec = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if isinstance(spec, dict) and spec.get("assignment") == assignment:
            return spec, f
    return None, None


def content_findings(course: Course) -> list[Finding]:
    out: list[Finding] = []
    for f in sorted((course.root / "content").glob("*.yml")):
        rel = course.rel(f)
        text = f.read_text(encoding="utf-8")
        _secrets(text, lambda n: n, lambda line, rule, msg: out.append(Finding(rel, line, rule, msg)))
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as err:
            out.append(Finding(rel, getattr(getattr(err, "problem_mark", None), "line", 0) + 1, "syntax",
                               f"not valid YAML: {err}"))
            continue
        lines = text.splitlines()
        for part in (spec or {}).get("parts", []) if isinstance(spec, dict) else []:
            if part.get("kind") != "prompt":
                continue
            line = next((i + 1 for i, raw in enumerate(lines) if re.search(rf"id:\s*{re.escape(str(part.get('id')))}\s*$",
                                                                          raw)), 1)
            grades = {g.get("id") for g in part.get("grades", [])}
            for w in part.get("wrong_answers") or []:
                unknown = [g for g in w.get("loses", []) if g not in grades]
                if unknown or not w.get("prompts") or not str(w.get("why") or "").strip():
                    out.append(Finding(rel, line, "wrong-answer",
                                       f"part {part.get('id')}: each wrong answer needs `prompts` (the versions run), a "
                                       f"`why`, and `loses` naming grade ids of the part"
                                       + (f" (unknown: {unknown})" if unknown else "")))
    return out


def read_wrong_answers(course: Course, assignment: str) -> dict | None:
    from .wrong import load_declared

    return load_declared(course.root, assignment)


# -- the allow-list ----------------------------------------------------------------------------------------

@dataclass
class Allowed:
    rule: str
    file: str
    match: str | None
    reason: str
    line: int
    used: int = 0

    def covers(self, f: Finding, line_text: str) -> bool:
        return (self.rule == f.rule and fnmatch.fnmatchcase(f.file, self.file)
                and (not self.match or self.match in f.message or self.match in line_text))


def read_allow(path: Path) -> tuple[list[Allowed], list[Finding]]:
    if not path.is_file():
        return [], []
    rel = path.name
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as err:
        raise AuthoringError(f"{path} is not valid YAML ({err}); fix it, or remove it") from None
    if not isinstance(data, list):
        raise AuthoringError(f"{path} must be a list of entries (- rule: ..., file: ..., reason: ...)")
    entries, problems = [], []
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if re.match(r"^- ", line)]
    for n, e in enumerate(data):
        line = starts[n] if n < len(starts) else 1
        if not isinstance(e, dict) or not isinstance(e.get("rule"), str) or not isinstance(e.get("file"), str):
            problems.append(Finding(rel, line, "allow-list", "an entry needs `rule` and `file` (a glob), and a `reason`"))
            continue
        if e["rule"] not in RULES:
            problems.append(Finding(rel, line, "allow-list", f"unknown rule {e['rule']!r} (rules: {', '.join(RULES)})"))
            continue
        reason = str(e.get("reason") or "").strip()
        if len(reason.split()) < 3:
            problems.append(Finding(rel, line, "allow-list", f"the exception for {e['rule']} in {e['file']} gives no "
                                                             f"reason: say in a sentence why it is justified"))
            continue
        entries.append(Allowed(e["rule"], e["file"], str(e["match"]) if e.get("match") else None, reason, line))
    return entries, problems


# -- running it all --------------------------------------------------------------------------------------

def check(root: Path, allow: Path | None = None, run: bool = False, echo=None) -> list[Finding]:
    """Every finding over the course at `root`, after the allow-list; sorted by file and line."""
    course = Course(root)
    found: list[Finding] = []
    for page in course.pages():
        found += page_findings(course, page)
    contents: dict[str, tuple[dict | None, Path | None]] = {}
    for nb in course.exercises():
        assignment = nb.parent.name
        if assignment not in contents:
            contents[assignment] = content_spec(course, assignment)
            found += learner_files(course, nb.parent)
        wrong = read_wrong_answers(course, assignment)
        found += exercise_findings(course, nb, wrong, contents[assignment][0])
    found += content_findings(course)
    found += choice_findings(course)
    if run:
        from .wrong import verify

        found += verify(course, echo=echo)
    allow_path = allow if allow is not None else course.root / ALLOW_FILE
    entries, problems = read_allow(allow_path)
    kept = []
    for f in found:
        line_text = _line_text(course.root / f.file, f.line)
        entry = next((e for e in entries if e.covers(f, line_text)), None)
        if entry is None:
            kept.append(f)
        else:
            entry.used += 1
    rel = allow_path.name
    for e in entries:
        if not e.used:
            problems.append(Finding(rel, e.line, "allow-list", f"the exception for {e.rule} in {e.file}"
                                                               + (f" ({e.match!r})" if e.match else "")
                                                               + " matches nothing any more: remove it"))
    return sorted(set(kept + problems), key=lambda f: (f.file, f.line, f.rule, f.message))


def _line_text(path: Path, line: int) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            for n, text in enumerate(fh, 1):
                if n == line:
                    return text
    except (OSError, UnicodeDecodeError):
        pass
    return ""

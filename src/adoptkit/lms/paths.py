"""Role paths as an LMS sees them: which pages, in which order, which quiz, which graded assignments.

Everything comes from the course's own files, so a package never drifts from the book:
- the pages: `_toc.yml`, each chapter `book/roles/<role>/index` with its sections (in reading order);
- the quiz: `exercises/<role>-quiz/`, its questions (the `QUESTIONS = [...]` literal the widget shows)
  and its key (the hidden tests' `assert quiz.answers[i] == "..."`);
- the graded work: every `exercises/<role>-*` assignment but the pre-assessment (a starting point, not
  part of the path's score).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROLE_INDEX = re.compile(r"^book/roles/([a-z0-9-]+)/index$")


class PathError(ValueError):
    """A role path cannot be read from the course's files; the message says which file and what to fix."""


@dataclass(frozen=True)
class Question:
    text: str
    options: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Page:
    docname: str  # e.g. book/roles/sales/crm-automation
    title: str

    @property
    def html(self) -> str:
        return f"{self.docname}.html"


@dataclass(frozen=True)
class RolePath:
    role: str
    title: str
    pages: tuple[Page, ...]
    quiz_name: str | None = None
    questions: tuple[Question, ...] = ()
    assignments: tuple[str, ...] = field(default=())


def _title(md: Path) -> str:
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return md.stem.replace("-", " ").capitalize()


def _walk(entries) -> list[str]:
    out = []
    for e in entries or []:
        if isinstance(e, dict) and "file" in e:
            out.append(str(e["file"]))
            out += _walk(e.get("sections"))
    return out


def _chapters(toc: dict) -> list[dict]:
    chapters = []
    for part in toc.get("parts") or [{"chapters": toc.get("chapters")}]:
        chapters += [c for c in part.get("chapters") or [] if isinstance(c, dict)]
    return chapters


def role_paths(root: Path) -> dict[str, RolePath]:
    """Every role path in the book, in the table of contents' order."""
    toc_file = Path(root) / "_toc.yml"
    try:
        toc = yaml.safe_load(toc_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise PathError(f"{toc_file}: cannot read the table of contents ({err})") from None
    paths = {}
    for chapter in _chapters(toc):
        m = ROLE_INDEX.match(str(chapter.get("file", "")))
        if not m:
            continue
        role = m.group(1)
        docs = [str(chapter["file"]), *_walk(chapter.get("sections"))]
        pages = []
        for doc in docs:
            md = next((Path(root) / f"{doc}{ext}" for ext in (".md", ".ipynb") if (Path(root) / f"{doc}{ext}").is_file()), None)
            if md is None:
                raise PathError(f"{toc_file} lists {doc}, but neither {doc}.md nor {doc}.ipynb exists")
            pages.append(Page(doc, _title(md) if md.suffix == ".md" else Path(doc).name))
        quiz_name, questions = read_quiz(Path(root), role)
        paths[role] = RolePath(role, pages[0].title, tuple(pages), quiz_name, questions, assignments(Path(root), role))
    return paths


def assignments(root: Path, role: str) -> tuple[str, ...]:
    src = root / "exercises"
    if not src.is_dir():
        return ()
    return tuple(sorted(p.name for p in src.iterdir() if p.is_dir() and p.name.startswith(f"{role}-")
                        and p.name != f"{role}-assessment-pre" and any(p.glob("*.ipynb"))))


def read_quiz(root: Path, role: str) -> tuple[str | None, tuple[Question, ...]]:
    """The path's quiz from its nbgrader source: questions and options as the widget shows them, and
    the key from the hidden tests. (None, ()) when the path has no quiz."""
    folder = root / "exercises" / f"{role}-quiz"
    notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not notebooks:
        return None, ()
    nb_file = notebooks[0]
    try:
        cells = json.loads(nb_file.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as err:
        raise PathError(f"{nb_file}: not a readable notebook ({err})") from None
    raw, key = None, {}
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "QUESTIONS" for t in node.targets):
                raw = ast.literal_eval(node.value)
            elif (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)
                  and isinstance(node.left, ast.Subscript) and ast.unparse(node.left.value) == "quiz.answers"
                  and isinstance(node.left.slice, ast.Constant) and isinstance(node.comparators[0], ast.Constant)):
                key[node.left.slice.value] = node.comparators[0].value
    if raw is None:
        raise PathError(f"{nb_file}: no `QUESTIONS = [...]` cell; the quiz cannot be packaged")
    questions = []
    for i, (text, options) in enumerate(raw):
        if key.get(i) not in options:
            raise PathError(f"{nb_file}: question {i + 1} has no key among its options in the hidden tests "
                            f"(`assert quiz.answers[{i}] == ...`)")
        questions.append(Question(text, tuple(options), key[i]))
    return nb_file.parent.name, tuple(questions)

"""`adoptkit new path|chapter|exercise`: new pages and assignments that follow the house conventions.

Everything is written from the templates in `templates/` (package data). A command first works out every
file it will write, refuses if any exists already (nothing is overwritten, nothing half-made), then writes
them and adds the page to `_toc.yml` (toc.py keeps the file's comments and checks the edit).

    adoptkit new path support                       # book/roles/support/index.md, its quiz and teach-back
    adoptkit new chapter support complaint-triage   # book/roles/support/complaint-triage.md, in _toc.yml
    adoptkit new exercise triage --path support     # exercises/support-triage/ + autograders/support-triage/
    adoptkit new exercise replies --path support --no-code   # content/support-replies.yml -> exercises/...
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import render, toc
from .names import AuthoringError, check_name, check_title, title_from

ROLES_DIR = "book/roles"
CHAPTER_MARK = "% adoptkit new chapter adds each chapter above this line."
EXERCISE_MARK = "% adoptkit new exercise adds each assignment above this line."
WRONG_ANSWERS = "wrong-answers.yml"


@dataclass
class Plan:
    """What a command will do: files to create, files to change, the toc entry to add."""

    create: dict[Path, str] = field(default_factory=dict)
    change: dict[Path, str] = field(default_factory=dict)
    toc: tuple[str, str, str] | None = None  # (kind: "part" | "section", under, file)
    notes: list[str] = field(default_factory=list)

    def paths(self) -> list[Path]:
        return sorted({*self.create, *self.change})


# -- where things are ------------------------------------------------------------------------------------

def path_dir(root: Path, path: str) -> Path:
    return root / ROLES_DIR / path


def path_index(path: str) -> str:
    return f"{ROLES_DIR}/{path}/index"


def require_path(root: Path, path: str) -> dict:
    """The toc, once sure the path exists (its index page on disk and in _toc.yml)."""
    check_name(path, "path")
    contents = toc.read(root)
    index = path_dir(root, path) / "index.md"
    if not index.is_file() or path_index(path) not in toc.files(contents):
        known = sorted(p.name for p in (root / ROLES_DIR).iterdir() if (p / "index.md").is_file()) \
            if (root / ROLES_DIR).is_dir() else []
        raise AuthoringError(f"there is no path {path!r} (no {index.relative_to(root)} listed in _toc.yml); "
                             f"create it with `adoptkit new path {path}`" + (f", or use one of: {', '.join(known)}"
                                                                             if known else ""))
    return contents


def choose_dataset(path: str, dataset: str | None) -> str:
    """The catalog dataset a new page starts from: the one asked for, else the first made for this role."""
    from ..data import DATASETS

    if dataset is not None:
        if dataset not in DATASETS:
            raise AuthoringError(f"no dataset {dataset!r} in the catalog; choose one of: {', '.join(DATASETS)} "
                                 f"(`adoptkit data list` says what each suits)")
        return dataset
    words = set(path.split("-"))
    for name, d in DATASETS.items():
        if words & set(d.roles) or any(w.startswith(r) or r.startswith(w) for w in words for r in d.roles if len(w) > 3):
            return name
    return "cfpb_complaints"


def dataset_values(dataset: str) -> dict:
    """The column a template counts and shows, chosen from the catalog's declared column kinds."""
    from ..data import DATASETS

    d = DATASETS[dataset]
    by_kind = {kind: [c for c, k in d.columns.items() if k == kind] for kind in set(d.columns.values())}
    for kind in ("category", "bool", "text", "integer", "number"):
        if by_kind.get(kind):
            column = by_kind[kind][0]
            return {"dataset": dataset, "column": column, "counted": f"data[{column!r}]",
                    "dataset_title": d.title}
    if by_kind.get("date"):
        column = by_kind["date"][0]
        return {"dataset": dataset, "column": f"{column} (year)", "counted": f"data[{column!r}].dt.year",
                "dataset_title": d.title}
    raise AuthoringError(f"the catalog declares no columns for {dataset!r}; pass another --dataset")


# -- plans -----------------------------------------------------------------------------------------------

def plan_path(root: Path, name: str, title: str | None = None, dataset: str | None = None) -> Plan:
    check_name(name, "path")
    contents = toc.read(root)
    folder = path_dir(root, name)
    if folder.exists() or path_index(name) in toc.files(contents):
        raise AuthoringError(f"the path {name!r} exists already ({folder.relative_to(root)}); pick another name, "
                             f"or add to it with `adoptkit new chapter {name} NAME`")
    title = check_title(title, f"The {title_from(name).lower()} path")
    values = dataset_values(choose_dataset(name, dataset))
    plan = Plan()
    plan.create[folder / "index.md"] = render.render("path-index.md", {
        "title": title, "path": name, "dataset_title": values["dataset_title"]})
    quiz = f"{name}-quiz"
    plan.create[root / "exercises" / quiz / f"{quiz}.ipynb"] = render.notebook_text(quiz_notebook(title, quiz))
    teach = root / "exercises" / f"{name}-teachback"
    plan.create[teach / "lesson.ipynb"] = render.notebook_text(render.notebook("teachback-lesson.yml", {"title": title}))
    reqs = yaml.safe_load(render.template("teachback-checks.yml"))["requirements"]
    items = [{**r, "done": f"✓ {r['label'][0].upper()}{r['label'][1:]}"} for r in reqs]
    plan.create[teach / "checks.ipynb"] = render.notebook_text(render.notebook(
        "teachback-checks.yml", {"title": title, "path": name}, {"requirements": items}))
    plan.toc = ("part", toc.PATHS_PART, path_index(name))
    plan.notes.append(f"next: `adoptkit new chapter {name} NAME` for each chapter, then "
                      f"`adoptkit new exercise NAME --path {name}` (add --no-code for the widget kind)")
    return plan


def quiz_notebook(title: str, assignment: str):
    questions = yaml.safe_load(render.template("quiz.yml"))["questions"]
    items = []
    for i, q in enumerate(questions):
        answer = q["options"][q["answer"]]
        items.append({"n": i + 1, "index": i, "answer_text": answer,
                      "key": {"answer": answer, "why": dict(zip(q["options"], q["why"]))}})
    listed = [(q["question"], q["options"]) for q in questions]
    return render.notebook("quiz.yml", {"title": title, "assignment": assignment, "n_questions": len(questions),
                                        "questions": listed}, {"questions": items})


def plan_chapter(root: Path, path: str, name: str, title: str | None = None, dataset: str | None = None) -> Plan:
    contents = require_path(root, path)
    check_name(name, "chapter")
    page = path_dir(root, path) / f"{name}.md"
    entry = f"{ROLES_DIR}/{path}/{name}"
    if page.exists() or entry in toc.files(contents):
        raise AuthoringError(f"the chapter {entry} exists already; pick another name")
    title = check_title(title, title_from(name))
    values = dataset_values(choose_dataset(path, dataset))
    values.pop("dataset_title")
    plan = Plan()
    plan.create[page] = render.render("chapter.md", {"title": title, **values})
    index = path_dir(root, path) / "index.md"
    line = f"1. {{doc}}`{name}`: TODO: what this chapter does, on which data, in one line."
    plan.change[index] = _insert_before(index, CHAPTER_MARK, line)
    plan.toc = ("section", path_index(path), entry)
    return plan


def plan_exercise(root: Path, name: str, path: str, no_code: bool = False, title: str | None = None,
                  dataset: str | None = None) -> Plan:
    require_path(root, path)
    check_name(name, "exercise")
    plan = Plan()
    if not name.startswith(f"{path}-"):
        plan.notes.append(f"exercise names start with their path: the assignment is {path}-{name}")
        name = f"{path}-{name}"
    check_name(name, "exercise")
    folder = root / "exercises" / name
    content_file = root / "content" / f"{name}.yml"
    wrong = root / "autograders" / name / WRONG_ANSWERS
    for taken in (folder, content_file, wrong.parent):
        if taken.exists():
            raise AuthoringError(f"{taken.relative_to(root)} exists already: the assignment {name!r} is taken; pick "
                                 f"another name")
    path_title = check_title(None, title_from(path))
    title = check_title(title, f"{path_title}: {title_from(name.removeprefix(path + '-')).lower()}")
    if no_code:
        text = render.render("nocode.yml", {"assignment": name, "title": title})
        plan.create[content_file] = text
        plan.create.update(_author_outputs(root, content_file, text))
        plan.notes.append(f"edit {content_file.relative_to(root)}, then rebuild the notebook with "
                          f"`python -m adoptkit.widgets.author {content_file.relative_to(root)}`")
    else:
        values = dataset_values(choose_dataset(path, dataset))
        nb = render.notebook("exercise.yml", {"title": title, "dataset": values["dataset"],
                                              "column": _exercise_column(values)})
        plan.create[folder / f"{name}.ipynb"] = render.notebook_text(nb)
        plan.create[wrong] = render.render(WRONG_ANSWERS, {"assignment": name})
    index = path_dir(root, path) / "index.md"
    kind = "no code: prompts, checks and decisions in widgets" if no_code else "code"
    line = f"- `{name}` ({kind}; source: `exercises/{name}/`): TODO: what the learner does, in one line."
    plan.change[index] = _insert_before(index, EXERCISE_MARK, line)
    return plan


def _exercise_column(values: dict) -> str:
    """Part 1 counts values of a column; a date column is not a good one, so fall back to the catalog's first."""
    from ..data import DATASETS

    if values["counted"].endswith(".dt.year"):
        return next(iter(DATASETS[values["dataset"]].columns))
    return values["column"]


def _author_outputs(root: Path, content_file: Path, text: str) -> dict[Path, str]:
    """What `python -m adoptkit.widgets.author` writes for this content (built from a scratch copy first)."""
    from ..widgets import author
    from ..widgets.content import ContentError

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "content" / content_file.name
        scratch.parent.mkdir()
        scratch.write_text(text, encoding="utf-8")
        try:
            built = author.build(scratch, root=Path(tmp))
        except ContentError as err:
            raise AuthoringError(f"the no-code template does not build ({err}); this is a bug in the kit") from None
        return {root / p.relative_to(tmp): t for p, t in built.items()}


def _insert_before(page: Path, mark: str, line: str) -> str:
    text = page.read_text(encoding="utf-8")
    if mark not in text:
        raise AuthoringError(f"{page} has no line `{mark}` (the scaffold puts it there); add the entry by hand: "
                             f"{line}")
    before, after = text.split(mark, 1)
    before = before.rstrip("\n")
    # A new item joins the list above the mark (one blank line before the list when it starts).
    sep = "\n" if before.splitlines()[-1].startswith(("1. ", "- ")) else "\n\n"
    return f"{before}{sep}{line}\n\n{mark}{after}"


# -- doing it --------------------------------------------------------------------------------------------

def apply(root: Path, plan: Plan) -> list[Path]:
    """Write the plan; on any failure, remove what was created and restore what was changed."""
    for p in plan.create:
        if p.exists():
            raise AuthoringError(f"{p.relative_to(root)} exists already; nothing was written")
    made: list[Path] = []
    saved = {p: p.read_text(encoding="utf-8") for p in plan.change}
    saved_toc = (root / toc.TOC).read_text(encoding="utf-8") if plan.toc else None
    try:
        for p, text in plan.create.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            _write_new(p, text)
            made.append(p)
        for p, text in plan.change.items():
            _replace(p, text)
        if plan.toc:
            kind, under, file = plan.toc
            (toc.add_to_part if kind == "part" else toc.add_section)(root, under, file)
    except BaseException:
        for p in made:
            p.unlink(missing_ok=True)
            for parent in p.parents:
                if parent == root or any(parent.iterdir()):
                    break
                parent.rmdir()
        for p, text in saved.items():
            _replace(p, text)
        if saved_toc is not None:
            _replace(root / toc.TOC, saved_toc)
        raise
    return plan.paths() + ([root / toc.TOC] if plan.toc else [])


def _write_new(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite, even in a race
        f.write(text)


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".adoptkit-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def describe(root: Path, plan: Plan) -> list[str]:
    lines = [f"created {p.relative_to(root)}" for p in sorted(plan.create)]
    lines += [f"updated {p.relative_to(root)}" for p in sorted(plan.change)]
    if plan.toc:
        lines.append(f"updated {toc.TOC} (+ {plan.toc[2]})")
    return lines + [f"note: {n}" for n in plan.notes]


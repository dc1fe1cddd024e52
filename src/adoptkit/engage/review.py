"""Learn-Do-Teach: peer review of teach-back lessons, rubric scores, and publishing the best into the book.

Lessons are the notebooks learners submit for the teach-back assignments (`adoptkit.measure.teachbacks`: a
name pattern such as `*-teachback`, or a list; under the submissions folder). In each submission the lesson is
the notebook that carries no nbgrader cells (the assignment's checks notebook does), or the one its source
folder declares so. `assign` gives each lesson `engage.review.reviewers` peer reviewers by rotation over a
seeded shuffle, so nobody reviews their own lesson and everyone reviews the same number; mentors can be
added on top. Scores per rubric criterion are stored in the kit's records (SQLite). `publish` copies the
best reviewed lessons (outputs stripped, structure checked) into book/teachbacks/ and adds them to _toc.yml
under the part "Lessons from colleagues" (TOC_PART).
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
import sqlite3
from pathlib import Path

import yaml

import nbformat
import pandas as pd

from ..measure import records
from ..settings import Settings, current
from . import teachback


class ReviewError(ValueError):
    pass


TOC_PART = "Lessons from colleagues"
TOC_INDEX = "book/teachbacks/index"  # the part's first page; published lessons are its sections


def _graded(path: Path) -> bool | None:
    """Whether a notebook has nbgrader cells (None: unreadable)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return None
    return any(isinstance(c, dict) and isinstance(c.get("metadata"), dict) and "nbgrader" in c["metadata"]
               for c in cells)


def lesson_name(assignment: str, settings: Settings | None = None) -> str | None:
    """The lesson's file name in an assignment: its source's one notebook without nbgrader cells."""
    s = settings or current()
    plain = [p.name for p in sorted(s.path("exercises").joinpath(assignment).glob("*.ipynb"))
             if _graded(p) is False]
    return plain[0] if len(plain) == 1 else None


def is_teachback(assignment: str, settings: Settings | None = None) -> bool:
    s = settings or current()
    names = s.measure.teachbacks
    return assignment in names if isinstance(names, list) else fnmatch.fnmatchcase(assignment, names)


def lessons(settings: Settings | None = None) -> dict[str, Path]:
    """author -> their submitted lesson notebook (the latest, if they wrote lessons for several assignments)."""
    s = settings or current()
    root = s.path(s.measure.submitted)
    found: dict[str, Path] = {}
    for folder in sorted(root.glob("*/*")) if root.is_dir() else []:
        if not folder.is_dir() or not is_teachback(folder.name, s):
            continue
        declared = lesson_name(folder.name, s)
        notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
        lesson = (folder / declared if declared and (folder / declared).is_file()
                  else next(iter([p for p in notebooks if _graded(p) is False]), None))
        if lesson is not None:
            author = folder.parent.name
            if author not in found or lesson.stat().st_mtime > found[author].stat().st_mtime:
                found[author] = lesson
    return found


def plan(authors: list[str], reviewers: int, seed: int = 0, mentors: list[str] = ()) -> list[tuple[str, str]]:
    """(author, reviewer) pairs: peers by rotation (never oneself, equal load), then mentors round-robin."""
    if not authors:
        raise ReviewError("no teach-back lessons submitted yet: nothing to assign")
    if len(authors) <= reviewers and not mentors:
        raise ReviewError(f"{len(authors)} lesson(s) cannot get {reviewers} peer reviewer(s) each without "
                          f"self-review: lower engage.review.reviewers or add mentors (--mentor NAME)")
    order = sorted(authors)
    random.Random(seed).shuffle(order)
    n, k = len(order), min(reviewers, len(order) - 1)
    pairs = [(order[i], order[(i + j) % n]) for i in range(n) for j in range(1, k + 1)]
    for i, author in enumerate(order):
        if mentors:
            mentor = mentors[i % len(mentors)]
            if mentor != author and (author, mentor) not in pairs:
                pairs.append((author, mentor))
    return pairs


def assign(settings: Settings | None = None, seed: int = 0, mentors: list[str] = (),
           db: str | Path | None = None) -> pd.DataFrame:
    """Assign reviewers to lessons that have none yet (earlier assignments are kept as they are)."""
    s = settings or current()
    found = lessons(s)
    with records.connect(db, s) as conn:
        have = {a for (a,) in conn.execute("SELECT DISTINCT author FROM review_assignment")}
        new = [a for a in found if a not in have]
        if not new:
            return _assignments(conn)
        # Reviewers come from every author, so new lessons are spread over all learners who wrote one.
        pairs = [(a, r) for a, r in plan(sorted(found), s.engage.review.reviewers, seed, list(mentors)) if a in new]
        conn.executemany("INSERT OR IGNORE INTO review_assignment VALUES (?, ?, ?, ?)",
                         [(a, r, str(found[a]), records.now()) for a, r in pairs])
        return _assignments(conn)


def _assignments(conn: sqlite3.Connection) -> pd.DataFrame:
    return pd.read_sql_query("SELECT author, reviewer, lesson FROM review_assignment ORDER BY author, reviewer", conn)


def score(author: str, reviewer: str, scores: dict[str, float], comment: str = "",
          settings: Settings | None = None, db: str | Path | None = None) -> None:
    """Store a reviewer's rubric scores for a lesson (all criteria, each 0..max); a re-score replaces."""
    s = settings or current()
    rubric = s.engage.review.rubric
    unknown = sorted(set(scores) - set(rubric))
    missing = sorted(set(rubric) - set(scores))
    if unknown or missing:
        raise ReviewError(f"rubric criteria: {'unknown ' + str(unknown) + '; ' if unknown else ''}"
                          f"{'missing ' + str(missing) + '; ' if missing else ''}the rubric is "
                          + ", ".join(f"{k} (0-{v})" for k, v in rubric.items()))
    for k, v in scores.items():
        if not 0 <= v <= rubric[k]:
            raise ReviewError(f"{k} = {v}: must be between 0 and {rubric[k]}")
    with records.connect(db, s) as conn:
        if not conn.execute("SELECT 1 FROM review_assignment WHERE author = ? AND reviewer = ?",
                            (author, reviewer)).fetchone():
            raise ReviewError(f"{reviewer} is not assigned to review {author}'s lesson (adoptkit review assign; "
                              f"mentors are added with --mentor)")
        now = records.now()
        conn.executemany("INSERT OR REPLACE INTO review_score VALUES (?, ?, ?, ?, ?, ?)",
                         [(author, reviewer, k, float(v), comment, now) for k, v in scores.items()])


def results(settings: Settings | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """Per lesson: reviews completed, mean total score, share of the rubric's maximum."""
    s = settings or current()
    rubric = s.engage.review.rubric
    with records.connect(db, s) as conn:
        sc = pd.read_sql_query("SELECT author, reviewer, criterion, score FROM review_score", conn)
        assigned = pd.read_sql_query("SELECT author, COUNT(*) AS assigned FROM review_assignment GROUP BY author",
                                     conn)
    totals = sc[sc["criterion"].isin(rubric)].groupby(["author", "reviewer"])["score"].sum()
    per = totals.groupby("author").agg(reviews="size", mean_total="mean")
    per["share"] = per["mean_total"] / sum(rubric.values())
    out = assigned.set_index("author").join(per, how="left").fillna({"reviews": 0})
    out["reviews"] = out["reviews"].astype(int)
    return out.sort_values(["share", "reviews"], ascending=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "lesson"


def publish(author: str | None = None, best: int | None = None, settings: Settings | None = None,
            db: str | Path | None = None, book_dir: str | Path | None = None, names: dict[str, str] | None = None
            ) -> list[tuple[Path, str]]:
    """Copy reviewed lessons into book/teachbacks/; returns (path, _toc.yml line) per lesson published."""
    s = settings or current()
    if (author is None) == (best is None):
        raise ReviewError("name one author to publish, or --best N")
    res = results(s, db)
    eligible = res[res["reviews"] >= s.engage.review.min_reviews]
    if author is not None:
        if author not in res.index:
            raise ReviewError(f"{author} has no teach-back lesson under review")
        if author not in eligible.index:
            raise ReviewError(f"{author}'s lesson has {int(res.loc[author, 'reviews'])} review(s); publishing "
                              f"needs {s.engage.review.min_reviews} (engage.review.min_reviews)")
        chosen = [author]
    else:
        chosen = list(eligible.head(best).index)
        if not chosen:
            raise ReviewError(f"no lesson has {s.engage.review.min_reviews} completed reviews yet")
    found = lessons(s)
    book = Path(book_dir) if book_dir else s.path("book") / "teachbacks"
    book.mkdir(parents=True, exist_ok=True)
    out = []
    with records.connect(db, s) as conn:
        for a in chosen:
            path = found.get(a)
            if path is None:
                raise ReviewError(f"{a}'s lesson notebook is no longer in the submissions folder")
            problems = teachback.problems(path)
            if problems:
                raise ReviewError(f"{a}'s lesson is not ready to publish: " + "; ".join(problems.values()))
            nb = nbformat.read(str(path), as_version=4)
            for cell in nb.cells:
                cell.metadata.pop("nbgrader", None)
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            title = teachback.read(path).title or "lesson"
            who = (names or {}).get(a, a)
            share = res.loc[a, "share"]
            nb.cells.insert(1, nbformat.v4.new_markdown_cell(
                f"*A teach-back lesson by {who}, reviewed by {int(res.loc[a, 'reviews'])} colleagues "
                f"(rubric score {share:.0%}).*"))
            dest = book / f"{_slug(a)}-{_slug(title)}.ipynb"
            nbformat.write(nb, str(dest))
            conn.execute("INSERT OR REPLACE INTO published VALUES (?, ?, ?, ?)",
                         (a, str(dest), float(share), records.now()))
            rel = dest.relative_to(s.root.resolve()) if dest.is_relative_to(s.root.resolve()) else dest
            out.append((dest, f"- file: {rel.with_suffix('').as_posix()}"))
    return out


def add_to_toc(toc: Path, entries: list[str]) -> list[str]:
    """Add `- file: ...` entries as sections of the teach-back part's index page in _toc.yml (once each).

    The edit is textual, so the file's comments stay; the result is parsed again to check it. Returns the
    entries added."""
    try:
        text = toc.read_text(encoding="utf-8")
    except OSError as err:
        raise ReviewError(f"cannot read {toc}: {err.strerror}") from None
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip() == f"- file: {TOC_INDEX}"), None)
    if at is None:
        raise ReviewError(f"{toc} has no `- file: {TOC_INDEX}` entry (the part '{TOC_PART}'): add the part as "
                          f"the kit's _toc.yml has it, then publish again")
    indent = len(lines[at]) - len(lines[at].lstrip()) + 2  # the entry's keys sit under its dash
    present = {line.strip() for line in lines}
    todo = [e for e in entries if e not in present]
    if not todo:
        return []
    end = at + 1
    if end < len(lines) and lines[end].strip() == "sections:":
        end += 1
        while end < len(lines) and lines[end].strip() and (len(lines[end]) - len(lines[end].lstrip())) > indent:
            end += 1
        new = [" " * (indent + 2) + e for e in todo]
    else:
        new = [" " * indent + "sections:"] + [" " * (indent + 2) + e for e in todo]
    lines[end:end] = new
    out = "\n".join(lines) + "\n"
    try:
        yaml.safe_load(out)
    except yaml.YAMLError as err:  # never leave a broken toc behind
        raise ReviewError(f"adding the lessons would break {toc} ({err}); add them by hand:\n  "
                          + "\n  ".join(todo)) from None
    toc.write_text(out, encoding="utf-8")
    return todo


def published_counts(settings: Settings | None = None, db: str | Path | None = None) -> pd.Series:
    with records.connect(db, settings) as conn:
        rows = conn.execute("SELECT author, COUNT(*) FROM published GROUP BY author").fetchall()
    return pd.Series(dict(rows), dtype="int64")

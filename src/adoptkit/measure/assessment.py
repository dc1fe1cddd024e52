"""Assessment results: nbgrader's gradebook scores, labelled with the competency each graded cell measures.

The mapping lives in the source notebooks (`exercises/<assignment>/*.ipynb`): each autograded cell carries
`metadata.adoptkit.competency`. Assignments named `<role>-assessment-pre` / `-post` are the assessments;
other graded work still counts for points (leaderboards, badges) but not for competency levels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from . import sqlread

ASSESSMENT = re.compile(r"^(?P<role>[a-z]+)-assessment-(?P<phase>pre|post)$")
SCORE_COLUMNS = ["learner", "assignment", "notebook", "item", "score", "max_score", "submitted"]


class GradebookError(RuntimeError):
    """The gradebook cannot be read; the message says where it was looked for and what to do."""


def competency_map(source_dir: str | Path) -> pd.DataFrame:
    """(assignment, notebook, item, competency) for every autograded cell of every source notebook."""
    rows = []
    for path in sorted(Path(source_dir).glob("*/*.ipynb")):
        # Only cell metadata is needed: plain JSON (nbformat's schema checks cost a report most of a second).
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (ValueError, UnicodeDecodeError, AttributeError) as err:
            raise GradebookError(f"source notebook {path} is not a readable notebook ({err}); the competency "
                                 f"report maps graded cells to competencies from it. Fix or remove it.") from None
        for cell in cells:
            meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
            nbg = meta.get("nbgrader", {})
            if nbg.get("grade"):
                rows.append({"assignment": path.parent.name, "notebook": path.stem, "item": nbg.get("grade_id"),
                             "competency": meta.get("adoptkit", {}).get("competency")})
    return pd.DataFrame(rows, columns=["assignment", "notebook", "item", "competency"])


def _engine(db_url: str):
    """An engine on an existing nbgrader gradebook (reading never creates one, nor adds a row to it)."""
    import sqlalchemy

    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise GradebookError(
                f"no gradebook at {path}. nbgrader creates it when assignments are generated and graded "
                f"(adoptkit.measure.gradebook or ADOPTKIT_GRADEBOOK_URL names another). To try the report "
                f"without one, add --simulate.")
    return sqlalchemy.create_engine(db_url)


# nbgrader's schema (nbgrader.api), read with plain SQL: importing nbgrader costs a report almost a second.
# A grade's score is nbgrader's `Grade.score`: the manual score over the automatic one, plus any extra
# credit, and 0 when neither is set. tests/test_assessments.py checks this against nbgrader's own API.
SCORES_SQL = """
SELECT student.id, assignment.name, notebook.name, base_cell.name,
       CASE WHEN grade.manual_score IS NOT NULL THEN grade.manual_score + COALESCE(grade.extra_credit, 0.0)
            WHEN grade.auto_score IS NOT NULL THEN grade.auto_score + COALESCE(grade.extra_credit, 0.0)
            ELSE 0.0 END,
       grade_cells.max_score, submitted_assignment.timestamp
FROM grade
JOIN grade_cells ON grade.cell_id = grade_cells.id
JOIN base_cell ON base_cell.id = grade_cells.id
JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id
JOIN student ON submitted_assignment.student_id = student.id
JOIN notebook ON submitted_notebook.notebook_id = notebook.id
JOIN assignment ON notebook.assignment_id = assignment.id
"""
STUDENTS_SQL = "SELECT id, first_name, last_name, email FROM student"


def shown_url(text: str) -> str:
    """A text with any password in a database URL in it hidden: reports and errors are read by people
    who must not learn the gradebook's credentials."""
    return re.sub(r"(://[^/:@\s]*):[^@\s]*@", r"\1:***@", str(text))


def gradebook_scores(db_url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, students) from nbgrader's gradebook: one row per learner and autograded cell."""
    import sqlalchemy

    engine = _engine(db_url)
    try:
        scores = sqlread.query(engine, SCORES_SQL)
        people = sqlread.query(engine, STUDENTS_SQL)
    except (sqlalchemy.exc.SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as err:
        raise GradebookError(f"cannot read the gradebook {shown_url(db_url)}: {err.__class__.__name__}: "
                             f"{shown_url(err)}. "
                             f"Is it nbgrader's gradebook?") from None
    finally:
        engine.dispose()
    scores.columns = SCORE_COLUMNS
    scores["score"] = pd.to_numeric(scores["score"]).astype(float).fillna(0.0)  # no grade yet counts 0
    scores["max_score"] = pd.to_numeric(scores["max_score"]).astype(float)
    scores["submitted"] = pd.to_datetime(scores["submitted"], utc=True, format="ISO8601")
    for col in ("learner", "assignment", "notebook", "item"):
        scores[col] = scores[col].astype(str)
    people.columns = ["learner", "first_name", "last_name", "email"]
    named = (people["first_name"].fillna("").astype(str) + " " + people["last_name"].fillna("").astype(str)).str.strip()
    students = pd.DataFrame({"learner": people["learner"].astype(str),
                             "name": named.where(named != "", people["learner"].astype(str)),
                             "email": people["email"]})
    return scores, students


def label(scores: pd.DataFrame, cmap: pd.DataFrame, known: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Add role, phase and competency to assessment rows; notes for cells that map to nothing known."""
    names = pd.Series(scores["assignment"].unique())  # a few assignments, many rows: match each name once
    parts = names.str.extract(ASSESSMENT).set_index(names)
    out = scores.assign(role=scores["assignment"].map(parts["role"]), phase=scores["assignment"].map(parts["phase"]))
    out = out.merge(cmap, on=["assignment", "notebook", "item"], how="left")
    notes = []
    assessed = out["phase"].notna()
    unmapped = out[assessed & ~out["competency"].isin(known)][["assignment", "item"]].drop_duplicates()
    if len(unmapped):
        examples = ", ".join(f"{a}/{i}" for a, i in unmapped.head(5).itertuples(index=False))
        notes.append(f"{len(unmapped)} graded cell(s) of the assessments map to no known competency and are left "
                     f"out of the levels (e.g. {examples}): set metadata.adoptkit.competency in the source notebook")
    return out, notes

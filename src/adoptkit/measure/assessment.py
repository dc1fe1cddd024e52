"""Assessment results: nbgrader's gradebook scores, labelled with the competency each graded cell measures.

The mapping lives in the source notebooks (`exercises/<assignment>/*.ipynb`): each autograded cell carries
`metadata.adoptkit.competency`. Assignments named `<role>-assessment-pre` / `-post` are the assessments;
other graded work still counts for points (leaderboards, badges) but not for competency levels.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd

ASSESSMENT = re.compile(r"^(?P<role>[a-z]+)-assessment-(?P<phase>pre|post)$")
SCORE_COLUMNS = ["learner", "assignment", "notebook", "item", "score", "max_score", "submitted"]


class GradebookError(RuntimeError):
    """The gradebook cannot be read; the message says where it was looked for and what to do."""


def competency_map(source_dir: str | Path) -> pd.DataFrame:
    """(assignment, notebook, item, competency) for every autograded cell of every source notebook."""
    rows = []
    for path in sorted(Path(source_dir).glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            nbg = cell.metadata.get("nbgrader", {})
            if nbg.get("grade"):
                rows.append({"assignment": path.parent.name, "notebook": path.stem, "item": nbg.get("grade_id"),
                             "competency": cell.metadata.get("adoptkit", {}).get("competency")})
    return pd.DataFrame(rows, columns=["assignment", "notebook", "item", "competency"])


def _open(db_url: str):
    from nbgrader.api import Gradebook
    import sqlalchemy

    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise GradebookError(
                f"no gradebook at {path}. nbgrader creates it when assignments are generated and graded "
                f"(adoptkit.measure.gradebook or ADOPTKIT_GRADEBOOK_URL names another). To try the report "
                f"without one, add --simulate.")
    try:
        engine = sqlalchemy.create_engine(db_url)
        with engine.connect() as conn:
            course = conn.execute(sqlalchemy.text("SELECT id FROM course")).scalars().first()
        engine.dispose()
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise GradebookError(f"cannot read the gradebook {db_url}: {err.__class__.__name__}: {err}. "
                             f"Is it nbgrader's gradebook?") from None
    # Open with the gradebook's own course id, so reading never adds a course row.
    return Gradebook(db_url, course or "default_course")


def gradebook_scores(db_url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, students) from nbgrader's gradebook: one row per learner and autograded cell."""
    from nbgrader.api import (Assignment, GradeCell, Grade, Notebook, Student, SubmittedAssignment,
                              SubmittedNotebook)

    with _open(db_url) as gb:
        q = (gb.db.query(Student.id, Assignment.name, Notebook.name, GradeCell.name, Grade.score,
                         GradeCell.max_score, SubmittedAssignment.timestamp)
             .select_from(Grade)
             .join(GradeCell, Grade.cell_id == GradeCell.id)
             .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
             .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
             .join(Student, SubmittedAssignment.student_id == Student.id)
             .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
             .join(Assignment, Notebook.assignment_id == Assignment.id))
        scores = pd.DataFrame(q.all(), columns=SCORE_COLUMNS)
        students = pd.DataFrame([(s.id, " ".join(x for x in (s.first_name, s.last_name) if x) or s.id, s.email)
                                 for s in gb.students], columns=["learner", "name", "email"])
    scores["score"] = scores["score"].astype(float).fillna(0.0)  # ungraded (needs manual grade) counts 0
    scores["max_score"] = scores["max_score"].astype(float)
    scores["submitted"] = pd.to_datetime(scores["submitted"], utc=True)
    return scores, students


def label(scores: pd.DataFrame, cmap: pd.DataFrame, known: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Add role, phase and competency to assessment rows; notes for cells that map to nothing known."""
    parts = scores["assignment"].str.extract(ASSESSMENT)
    out = scores.assign(role=parts["role"], phase=parts["phase"])
    out = out.merge(cmap, on=["assignment", "notebook", "item"], how="left")
    notes = []
    assessed = out["phase"].notna()
    unmapped = out[assessed & ~out["competency"].isin(known)][["assignment", "item"]].drop_duplicates()
    if len(unmapped):
        examples = ", ".join(f"{a}/{i}" for a, i in unmapped.head(5).itertuples(index=False))
        notes.append(f"{len(unmapped)} graded cell(s) of the assessments map to no known competency and are left "
                     f"out of the levels (e.g. {examples}): set metadata.adoptkit.competency in the source notebook")
    return out, notes

"""A seeded cohort written as real records (nbgrader's gradebook, the gateway's usage table, the learners'
timing and survey files, a roster) and read back through the kit's own readers gives the same cohort, the
same levels and the same ROI: the readers lose nothing, and the benchmark's records are what nbgrader and
the gateway would have written."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from adoptkit import settings
from adoptkit.measure import cohort as cohort_mod
from adoptkit.measure import competency, roi, simulate, usage

from _adoption import ROI


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    c = simulate.cohort(80, 4000, seed=3, settings=settings.parse(ROI, root=root))
    section = simulate.write_records(c, root)
    (root / "_config.yml").write_text(yaml.safe_dump({"title": "t", "adoptkit": {**ROI, **section}}))
    return c, settings.load(root / "_config.yml"), root


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by).reset_index(drop=True)


def _same_levels_and_use(back, c, s) -> None:
    keys = ["learner", "phase", "competency"]
    before = _sorted(competency.levels(c.assessed, s.competency), keys)
    after = _sorted(competency.levels(back.assessed, s.competency), keys)
    pd.testing.assert_frame_equal(after[before.columns], before, check_dtype=False, check_categorical=False)
    pd.testing.assert_frame_equal(usage.per_learner(back.usage.frame), usage.per_learner(c.usage.frame),
                                  check_dtype=False)


def test_the_records_read_back_as_the_same_cohort(written):
    c, s, _ = written
    back = cohort_mod.load(s)
    assert back.notes == [] and not back.simulated
    pd.testing.assert_frame_equal(_sorted(back.roster, ["learner"]), _sorted(c.roster, ["learner"]), check_dtype=False)
    _same_levels_and_use(back, c, s)
    assert back.usage.frame["feature"].value_counts().to_dict() == c.usage.frame["feature"].value_counts().to_dict()
    cols = ["learner", "assignment", "task", "mode", "seconds"]
    pd.testing.assert_frame_equal(_sorted(back.timings[cols], cols), _sorted(c.timings[cols], cols), check_dtype=False)
    q = ["learner", "question"]
    pd.testing.assert_frame_equal(_sorted(back.reactions[q + ["rating"]], q), _sorted(c.reactions[q + ["rating"]], q),
                                  check_dtype=False)
    a, b = roi.compute(c, s), roi.compute(back, s)
    assert a.roi == pytest.approx(b.roi) and a.adoption == b.adoption and a.costs == b.costs


def test_the_gradebook_is_one_nbgrader_reads(written, monkeypatch):
    from nbgrader.api import Gradebook

    c, s, _ = written
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    totals = c.scores.groupby(["learner", "assignment"])["score"].sum()
    with Gradebook(s.measure.gradebook, "adoptkit") as gb:
        assert {st.id for st in gb.students} == set(c.roster["learner"])
        for (learner, assignment), total in totals.sample(10, random_state=0).items():
            assert gb.find_submission(assignment, learner).score == total
        assert gb.db.execute(__import__("sqlalchemy").text("SELECT version_num FROM alembic_version")).scalar()


def test_the_usage_table_is_the_gateways(written):
    import sqlalchemy as sa

    from adoptkit.gateway import db

    c, s, _ = written
    engine = sa.create_engine(s.measure.usage_log)
    assert {col["name"] for col in sa.inspect(engine).get_columns("usage")} == set(db.usage.columns.keys())
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.usage).where(db.usage.c.status == 429).limit(3)).all()
    engine.dispose()
    assert rows and all(r.outcome == "rate_limited" and isinstance(r.stream, bool) for r in rows)


def test_write_records_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "_config.yml").write_text("title: mine\n")
    c = simulate.cohort(5, 50, seed=1, settings=settings.parse(ROI, root=tmp_path))
    with pytest.raises(FileExistsError, match="not empty"):
        simulate.write_records(c, tmp_path)
    assert (tmp_path / "_config.yml").read_text() == "title: mine\n"


@pytest.mark.slow
def test_the_same_records_on_postgresql(postgres, tmp_path):
    """Gradebook and usage log in PostgreSQL (a deployment past one machine) read back as on SQLite."""
    c = simulate.cohort(30, 1500, seed=4, settings=settings.parse(ROI, root=tmp_path))
    section = simulate.write_records(c, tmp_path / "course", gradebook=postgres, usage_log=postgres)
    s = settings.parse({**ROI, **section}, root=tmp_path / "course")
    back = cohort_mod.load(s)
    assert back.notes == [] and "postgres@" not in back.usage.source  # the log's name never shows the login
    _same_levels_and_use(back, c, s)

"""The same runner on a Dask cluster (a LocalCluster here; a real one is the same address away)."""

from __future__ import annotations

import json

import nbformat
import pytest
from corpus import CASES
from gradinglib import ASSIGNMENT, OTHER, kernel_processes, needs_root, release, submit

from adoptkit.grading import runner

pytestmark = [pytest.mark.slow, needs_root]
PICK = ["correct", "wrong", "deleted-test", "other-assignment"]


def test_grading_on_a_dask_cluster(course):
    distributed = pytest.importorskip("distributed")
    ctx = {"other_release": nbformat.writes(release(course, OTHER)).encode()}
    cases = {c.name: c for c in CASES if c.name in PICK}
    for case in cases.values():
        submit(course, case.name, case.build(release(course), ctx))
    before = set(kernel_processes())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = runner.run(ASSIGNMENT, str(course / "nbgrader_config.py"), scheduler=cluster.scheduler_address)
    outcomes = {o.student: o for o in result.outcomes}
    assert set(outcomes) == set(PICK)
    for name, case in cases.items():
        assert outcomes[name].status == case.status, outcomes[name]
        if case.status != "failed":
            assert outcomes[name].score == case.score
            assert (course / "_nbgrader" / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
            rep = json.loads((course / "_nbgrader" / "reports" / name / ASSIGNMENT / f"{ASSIGNMENT}.json").read_text())
            assert rep["sandbox"]["kernel_start"] == "zygote"
    assert result.needs_attention and not result.feedback_errors
    assert not set(kernel_processes()) - before

"""Every sandbox notebook runs offline, as a learner runs it, under nbval (through the kit's gateway app)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "sandbox").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_sandbox_notebook_runs_under_nbval(notebook, tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keep the repo's pytest options out of the run
    env = {**os.environ, "ADOPTKIT_CONFIG": str(ROOT / "_config.yml")}
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-cell-timeout=300", "-p", "no:cacheprovider",
           "-q", "--rootdir", str(tmp_path), str(notebook)]
    proc = subprocess.run(cmd, cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbval failed on {notebook.name}:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    assert " passed" in proc.stdout and " failed" not in proc.stdout

"""The shipped course passes its own authoring lint: `adoptkit check` on this repository, as an author runs it.

A new chapter or exercise that breaks a convention (no objectives, an unglued number, a figure without alt
text, a graded part with no hidden test...) fails here with the lint's own `file:line: rule: message` lines.
Justified exceptions are in check-allow.yml, each with its reason; an entry that matches nothing fails too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_adoptkit_check_passes_on_the_course():
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "ADOPTKIT_CONFIG": str(ROOT / "_config.yml")})
    assert proc.returncode == 0, (
        f"adoptkit check found problems in the course (fix them, or add a justified entry to check-allow.yml):\n"
        f"{proc.stdout}{proc.stderr}")
    assert proc.stdout == "" and "0 finding(s)" in proc.stderr, proc.stdout + proc.stderr

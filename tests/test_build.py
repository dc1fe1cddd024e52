"""`adoptkit build` redoes a step only when what it reads changed or what it wrote is gone or edited.

Run as a process (`adoptkit build`, as a course admin runs it) on a small course in a temporary folder: the
kit's _config.yml and nbgrader config with two tiny exercises of our own (so the test does not move with the
course's content), real nbgrader, and, for the book, a one-page book built by the real jupyter-book.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from adoptkit import stamps

ROOT = Path(__file__).resolve().parents[1]
ADOPTKIT = str(Path(sys.executable).with_name("adoptkit"))
MIRROR = os.environ.get("ADOPTKIT_DATA_MIRROR")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not MIRROR, reason="ADOPTKIT_DATA_MIRROR is not set (CI sets it to ../shared/data)")]


def exercise(folder: Path, answer: str = "x = 1") -> None:
    """A one-question nbgrader source: a solution cell and a test cell with a hidden test."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("Set `x` to one. (1 point; hidden tests too.)"),
        nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{answer}\n### END SOLUTION", metadata={"nbgrader": {
            "grade": False, "solution": True, "locked": False, "task": False, "grade_id": "answer",
            "schema_version": 3}}),
        nbformat.v4.new_code_cell("assert x == 1\n### BEGIN HIDDEN TESTS\nassert x > 0\n### END HIDDEN TESTS",
                                  metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                         "task": False, "points": 1, "grade_id": "check",
                                                         "schema_version": 3}}),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{folder.name}.ipynb")


@pytest.fixture
def course(tmp_path) -> Path:
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "autograders").mkdir()
    shutil.copy(ROOT / "autograders" / "nbgrader_config.py", tmp_path / "autograders" / "nbgrader_config.py")
    for name in ("alpha", "beta", "gamma"):
        exercise(tmp_path / "exercises" / name)
    return tmp_path


def build(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ADOPTKIT_CONFIG", "ADOPTKIT_GRADEBOOK_URL",
                                                           "ADOPTKIT_COURSE_ROOT")}
    env["ADOPTKIT_DATA_CACHE"] = str(ROOT / ".cache" / "data")  # the kit's own cache: fetched once
    return subprocess.run([ADOPTKIT, "build", *args], cwd=course, env=env, capture_output=True, text=True,
                          timeout=900)


def released(proc: subprocess.CompletedProcess) -> list[str]:
    m = re.search(r"^    (\d+) released(?:: (.*?))?; \d+ up to date", proc.stdout, re.M)
    assert m, proc.stdout + proc.stderr
    return [n.strip() for n in (m.group(2) or "").split(",") if n.strip()]


def test_release_is_redone_for_what_changed_only(course):
    release, stamp_dir = course / "_nbgrader" / "release", course / ".cache" / "build" / "release"
    first = build(course, "--skip-book")
    assert first.returncode == 0, first.stdout + first.stderr
    assert released(first) == ["alpha", "beta", "gamma"]
    student = (release / "alpha" / "alpha.ipynb").read_text()
    assert "x = 1" not in student and "HIDDEN" not in student  # a real release: solution and hidden test gone

    again = build(course, "--skip-book")
    assert again.returncode == 0 and released(again) == [], again.stdout

    # An edited source is released again; so is a deleted release (another exercise).
    nb = nbformat.read(course / "exercises" / "alpha" / "alpha.ipynb", 4)
    nb.cells[0].source += " Edited."
    nbformat.write(nb, course / "exercises" / "alpha" / "alpha.ipynb")
    shutil.rmtree(release / "beta")
    third = build(course, "--skip-book")
    assert third.returncode == 0 and released(third) == ["alpha", "beta"], third.stdout
    assert "alpha: exercises/alpha/alpha.ipynb" in third.stdout and f"beta: {stamps.OUTPUT_CHANGED}" in third.stdout
    assert "Edited." in (release / "alpha" / "alpha.ipynb").read_text()

    # A hand-edited release is redone; a broken source fails, says which, and leaves no stamp behind,
    # while the other exercise is released and stamped.
    (release / "alpha" / "alpha.ipynb").write_text(student.replace("Set `x`", "Set `y`"))
    (course / "exercises" / "beta" / "beta.ipynb").write_text("{not a notebook")
    broken = build(course, "--skip-book")
    assert broken.returncode == 1, broken.stdout
    assert "could not release beta" in broken.stderr and "alpha" not in broken.stderr.split("could not release")[1]
    assert (stamp_dir / "alpha.json").is_file() and not (stamp_dir / "beta.json").exists()
    assert "Set `x`" in (release / "alpha" / "alpha.ipynb").read_text()

    # The gradebook holds what autograde needs (the hidden tests): deleting it releases everything again;
    # the fixed exercise is released; an exercise whose source is gone loses the release the build made.
    exercise(course / "exercises" / "beta")
    (course / "_nbgrader" / "gradebook.db").unlink()
    shutil.rmtree(course / "exercises" / "gamma")
    last = build(course, "--skip-book")
    assert last.returncode == 0 and released(last) == ["alpha", "beta"], last.stdout + last.stderr
    assert "removed the release of gamma" in last.stdout and not (release / "gamma").exists()


PAGE = """# A page

Some text.

```{code-cell} ipython3
---
mystnb:
  image:
    alt: A bar chart of three made-up values, for the build test.
---
import matplotlib.pyplot as plt
plt.bar([1, 2, 3], [3, 1, 2])
plt.show()
```
"""


def test_book_is_rebuilt_only_when_a_page_changes_and_a_figure_without_alt_text_fails_every_time(course):
    from adoptkit.site import install_vendor

    install_vendor(ROOT, ROOT / ".cache")  # the pinned browser scripts, fetched once for every test
    shutil.copytree(ROOT / ".cache" / "npm", course / ".cache" / "npm")
    shutil.rmtree(course / "exercises")
    (course / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (course / "book").mkdir()
    header = ("---\njupytext: {text_representation: {extension: .md, format_name: myst}}\n"
              "kernelspec: {name: python3, display_name: Python 3, language: python}\n---\n")
    page = course / "book" / "intro.md"
    page.write_text(header + PAGE + "\n```{adoptkit-commands}\n```\n")

    first = build(course)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    html = (course / "_build" / "html" / "book" / "intro.html").read_text()
    assert 'alt="A bar chart of three made-up values' in html
    text = re.sub(r"<[^>]+>", "", html)  # the table of commands, options as typed (not "–watch")
    assert "adoptkit config check" in text and "every --watch seconds" in text
    assert html.count("const THEBE_JS_URL") == 1  # each inline script once
    assert "without encryption" not in first.stdout + first.stderr  # the kit's kernel on loopback

    again = build(course)
    assert again.returncode == 0 and "up to date" in again.stdout and "Running Jupyter-Book" not in again.stdout

    page.write_text(header + PAGE.replace("    alt: A bar chart of three made-up values, for the build test.\n",
                                          "    alt: ''\n"))
    for attempt in range(2):  # the page is not re-read the second time unless the build insists
        failed = build(course)
        assert failed.returncode == 1, (attempt, failed.stdout[-3000:])
        assert "a figure has no alt text" in failed.stdout + failed.stderr, attempt
        assert not (course / ".cache" / "build" / "book.json").exists()

    page.write_text(header + PAGE)
    fixed = build(course)
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr[-3000:]
    (course / "_build" / "html" / "book" / "intro.html").write_text("edited by hand")
    redone = build(course)
    assert redone.returncode == 0 and "its output was deleted or edited" in redone.stdout
    assert 'alt="A bar chart' in (course / "_build" / "html" / "book" / "intro.html").read_text()
    stamp = json.loads((course / ".cache" / "build" / "book.json").read_text())
    assert "book/intro.md" in stamp["inputs"] and "the kit's code" in stamp["inputs"]

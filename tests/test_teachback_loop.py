"""Learn-Do-Teach on the shipped course: every `<role>-teachback` assignment, graded by real nbgrader (the
course's hardened config), its lessons assigned to peers, scored, the best published into the book, and the
book built with -W. The book built here is small: a root page and the part the lessons go into, as the
course's _toc.yml has it (the whole book is built by tests/test_book.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from adoptkit import settings
from adoptkit.engage import review, teachback

from _adoption import ADOPTKIT
from adoptkit import tools
from nbgrader_harness import course_copy, grades, nbgrader, submit
from lessons import NO_CODE_ROLES, good_lesson, run_prompt_box

ROOT = Path(__file__).resolve().parents[1]
TEACHBACKS = sorted(p.name for p in (ROOT / "exercises").glob("*-teachback"))
# The untouched template goes in for a role without code: its ready-made prompt boxes alone earn nothing.
WEAK = next(t for t in TEACHBACKS if t.split("-")[0] in NO_CODE_ROLES)
RUBRIC = {"clarity": 4, "correctness": 4, "real data": 4, "exercise": 4}


def adoptkit(course: Path, *args: str) -> subprocess.CompletedProcess:
    """`adoptkit ARGS` in the course, with the course's own _config.yml (the book's settings and the kit's)."""
    return subprocess.run([ADOPTKIT, *args], cwd=course, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")})


def test_the_default_setting_matches_every_shipped_teachback():
    s = settings.load(ROOT / "_config.yml")
    assert len(TEACHBACKS) >= 4 and all(review.is_teachback(t, s) for t in TEACHBACKS)
    assert not review.is_teachback("hackathon-complaints-sprint", s)
    for t in TEACHBACKS:  # each declares its lesson by having no nbgrader cells; the checks have them
        assert review.lesson_name(t, s) == "lesson.ipynb"


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """A course with every shipped teach-back released, one good lesson per teach-back (every role's but
    engineering's written without code: the template's prompt boxes and the learner's words) and the untouched
    template from one more learner, autograded by real nbgrader."""
    course = course_copy(tmp_path_factory.mktemp("course"))
    generate = nbgrader(course, "generate_assignment", "*-teachback", "--force")
    assert generate.returncode == 0, generate.stderr[-3000:]
    authors = {}
    for t in TEACHBACKS:
        release = course / "_nbgrader" / "release" / t
        author = t.replace("-teachback", "-author")
        lesson = course.parent / f"{course.name}-lessons" / author / "lesson.ipynb"  # outside the book's folder
        lesson.parent.mkdir(parents=True)
        nbformat.write(good_lesson(t.split("-")[0]), lesson)
        files = {p.name: nbformat.read(p, as_version=4) for p in release.glob("*.ipynb")}
        files["lesson.ipynb"] = nbformat.read(lesson, as_version=4)
        folder = submit(course, t, author, files)
        role = t.split("-")[0]
        if role in NO_CODE_ROLES:  # a non-coder's worked example: their prompt, run in the box
            run_prompt_box(role, folder)
        authors[author] = t
    weak = WEAK  # the template as released: a lesson not written yet
    submit(course, weak, "weak-author", {p.name: nbformat.read(p, as_version=4)
                                          for p in (course / "_nbgrader" / "release" / weak).glob("*.ipynb")})
    autograde = nbgrader(course, "autograde", "*-teachback")
    assert autograde.returncode == 0, autograde.stderr[-3000:]
    shutil.copy(ROOT / "_config.yml", course / "_config.yml")  # the course's own settings, paths relative to it
    return course, authors


def test_every_good_lesson_scores_full_marks(loop):
    course, authors = loop
    for author, t in authors.items():
        g = grades(course, t, [author])[author]
        assert g is not None and g.code_score == g.max_code_score > 0, (t, g)
    weak = grades(course, WEAK, ["weak-author"])["weak-author"]
    assert weak.code_score < weak.max_code_score
    assert {k for k, v in weak.auto.items() if v} == {"check_sections"}, weak.auto  # the headings, nothing more


def test_assign_score_publish_and_build(loop, tmp_path):
    course, authors = loop
    r = adoptkit(course, "review", "assign", "--seed", "3")
    assert r.returncode == 0, r.stderr
    s = settings.load(course / "_config.yml")
    table = review.assign(s)  # what the command stored (assigning again keeps it)
    assert set(table["author"]) == set(authors) | {"weak-author"} and not (table["author"] == table["reviewer"]).any()
    assert all(Path(p).name == "lesson.ipynb" for p in table["lesson"]), set(table["lesson"])
    for i, row in enumerate(table.itertuples()):
        marks = {k: 1 if row.author == "weak-author" else v for k, v in RUBRIC.items()}
        if i == 0:  # one review through the command a reviewer's mentor runs, the rest through the API
            r = adoptkit(course, "review", "score", row.author, "--reviewer", row.reviewer,
                         *[f"--score={k}={v}" for k, v in marks.items()])
            assert r.returncode == 0, r.stderr
        else:
            review.score(row.author, row.reviewer, marks, settings=s)
    assert (review.results(s)["reviews"] == 2).all()

    # The repository's toc has the part the lessons go into; this small book has it verbatim.
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p["caption"] == review.TOC_PART)
    assert part["chapters"][0]["file"] == review.TOC_INDEX
    lines = (ROOT / "_toc.yml").read_text().splitlines()
    start = lines.index(f"  - caption: {review.TOC_PART}")
    (course / "_toc.yml").write_text("format: jb-book\nroot: index\nparts:\n" + "\n".join(lines[start:]) + "\n")
    (course / "index.md").write_text("# A course\n\nThe teach-back lessons of this course.\n")
    (course / "book" / "teachbacks").mkdir(parents=True)
    shutil.copy(ROOT / "book" / "teachbacks" / "index.md", course / "book" / "teachbacks" / "index.md")

    r = adoptkit(course, "review", "publish", "--best", "1")
    assert r.returncode == 0, r.stderr
    assert "added 1 page(s) to _toc.yml under 'Lessons from colleagues'" in r.stdout
    r = adoptkit(course, "review", "publish", "--best", str(len(authors)))
    assert r.returncode == 0 and f"added {len(authors) - 1} page(s)" in r.stdout, r.stdout + r.stderr
    published = sorted((course / "book" / "teachbacks").glob("*.ipynb"))
    assert len(published) == len(authors) and not any(p.name.startswith("weak-author") for p in published)
    sections = yaml.safe_load((course / "_toc.yml").read_text())["parts"][0]["chapters"][0]["sections"]
    assert sorted(x["file"] for x in sections) == sorted(f"book/teachbacks/{p.stem}" for p in published)
    for p in published:
        assert teachback.problems(p) == {} and "A teach-back lesson by" in nbformat.read(p, as_version=4).cells[1].source

    from adoptkit.site import install_vendor

    install_vendor(course, ROOT / ".cache")  # the offline site's scripts, as the course's _config.yml expects
    out = tmp_path / "site"
    env = {**os.environ, "ADOPTKIT_CONFIG": str(course / "_config.yml")}
    build = subprocess.run([tools.find("jupyter-book"), "build", str(course), "-W", "--keep-going", "--path-output",
                            str(out)], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
    html = out / "_build" / "html" / "book" / "teachbacks"
    for p in published:
        page = (html / f"{p.stem}.html").read_text()
        assert "A teach-back lesson by" in page and "Lessons from colleagues" in page

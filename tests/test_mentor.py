"""`adoptkit mentor view`: a mentor's view of their own mentees, on real records (`simulate.write_records`:
nbgrader's gradebook, the gateway's usage table, a roster; teach-back lessons in the submissions folder and peer
reviews in the kit's records through `adoptkit.engage.review`). Every expected figure is computed here from the
cohort as written, not read back from the command. Hostile names (mentor, learner, config) and thin records
(no gradebook, no usage log, a mentee nobody has heard of, a mentor with no mentees) get a clear message."""

from __future__ import annotations

import copy
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from adoptkit import settings
from adoptkit.authoring import mentor as mt
from adoptkit.cli import main
from adoptkit.engage import review
from adoptkit.measure import competency, simulate

from _adoption import run_adoptkit

NOW = datetime.now(timezone.utc)
HOSTILE_NAME = "<script>alert('x')</script> \x1b[31mRed"


def _lesson(folder: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Checking a summary against its source\n\nA short lesson.")]
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "lesson.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(folder, cohort as written, adoptkit: section, who): 14 learners over the last 12 weeks; mentor-a has
    five of them and one id no record knows; mentor-b has two others."""
    root = tmp_path_factory.mktemp("course")
    start = (NOW - timedelta(weeks=12)).strftime("%Y-%m-%d")
    c = simulate.cohort(14, 1500, seed=4, start=start, weeks=12, settings=settings.parse({}, root=root))
    both = c.scores.groupby("learner")["phase"].nunique()
    ids = list(both[both == 2].index)  # assessed before and after
    who = {"practise": ids[0], "no-post": ids[1], "inactive": ids[2], "owes": ids[3], "author": ids[4],
           "other": ids[5:7]}
    # the "no-post" learner took no post-assessment; the "inactive" one stopped three weeks ago; the others
    # used the sandbox yesterday (so the rules below the inactivity one are reached)
    c.scores = c.scores[~((c.scores["learner"] == who["no-post"]) & (c.scores["phase"] == "post"))]
    f = c.usage.frame
    f = f[~((f["learner"].astype(str) == who["inactive"]) & (f["ts"] > pd.Timestamp(NOW) - pd.Timedelta(days=21)))]
    active = [x for x in ids[:7] if x != who["inactive"]]
    recent = pd.DataFrame({"ts": pd.Timestamp(NOW) - pd.Timedelta(days=1), "learner": active,
                           "cohort": c.roster.set_index("learner").loc[active, "cohort"].to_numpy(),
                           "tokens_in": 100, "tokens_out": 50, "status": 200, "feature": "chat"})
    f = pd.concat([f.astype({"learner": str, "cohort": str, "feature": str}),
                   recent.astype({"learner": str, "cohort": str, "feature": str})], ignore_index=True)
    c.usage.frame = f.sort_values("ts", kind="stable").astype({"learner": "category", "cohort": "category",
                                                               "feature": "category"}).reset_index(drop=True)
    c.roster.loc[c.roster["learner"] == who["practise"], "name"] = HOSTILE_NAME
    section = simulate.write_records(c, root)
    section["engage"] = {"mentors": {"mentor-a": [who[k] for k in ("practise", "no-post", "inactive", "owes",
                                                                    "author")] + ["ghost"],
                                     "mentor-b": who["other"], "mentor-c": []}}
    (root / "_config.yml").write_text(yaml.safe_dump({"title": "course", "adoptkit": section}), encoding="utf-8")
    s = settings.load(root / "_config.yml")
    # Teach-back lessons by three learners, peer-reviewed; mentor-a reviews too. The "owes" learner scores none
    # of theirs; everyone else scores all of theirs.
    authors = [who["owes"], who["author"], who["other"][0]]
    for a in authors:
        role = c.roster.set_index("learner").loc[a, "role"]
        _lesson(root / "_nbgrader" / "submitted" / a / f"{role}-teachback")
    table = review.assign(s, seed=1, mentors=["mentor-a"])
    assert set(table["author"]) == set(authors)
    marks = {k: 3 for k in s.engage.review.rubric}
    for a, r in table[["author", "reviewer"]].itertuples(index=False):
        if r not in (who["owes"], "mentor-a"):
            review.score(a, r, marks, settings=s)
    return root, c, section, who, table


def view(root: Path, *args: str):
    return CliRunner().invoke(main, ["mentor", "view", *args], env={"ADOPTKIT_CONFIG": str(root / "_config.yml")})


def block(out: str, learner: str) -> dict[str, str]:
    """The lines of one mentee's block in the text view: label -> value."""
    part = re.split(r"\n(?=\S)", out.split(f"({learner})" if f"({learner})" in out else f"\n{learner}", 1)[1])[0]
    return {m[0]: m[1] for m in re.findall(r"^  (\S.*?\S)\s{2,}(.*)$", part, re.M)}


def test_a_mentor_sees_each_mentee_from_the_records(course, tmp_path):
    root, c, section, who, table = course
    r = run_adoptkit(root, section, "mentor", "view", "mentor-a", "--html", str(tmp_path / "a.html"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out = r.stdout
    s = settings.parse(section, root=root)
    lv = competency.levels(c.assessed, s.competency)
    last = c.usage.frame.groupby(c.usage.frame["learner"].astype(str), observed=True)["ts"].max()
    mine = [who[k] for k in ("practise", "no-post", "inactive", "owes", "author")]
    for x in mine:
        b = block(out, x)
        assert b["completed"].split(", ") == [
            f"{a} {p:g}/{m:g}" for a, p, m in c.scores[c.scores["learner"] == x].groupby("assignment")
            .agg(p=("score", "sum"), m=("max_score", "sum"), t=("submitted", "max")).sort_values("t")
            [["p", "m"]].reset_index().itertuples(index=False)]
        levels = lv[lv["learner"] == x].pivot_table(index="competency", columns="phase", values="level")
        for comp in s.competency.ids():
            pre = int(levels.loc[comp, "pre"])
            post = "–" if "post" not in levels or pd.isna(levels.loc[comp, "post"]) else int(levels.loc[comp, "post"])
            assert f"{comp} {pre} → {post}" in b["levels before → after"]
        assert b["last sandbox request"].startswith(f"{last[x]:%Y-%m-%d}")
    # the next step, by the stated rules
    post = lv[(lv["learner"] == who["practise"]) & (lv["phase"] == "post")].set_index("competency")["level"]
    assert block(out, who["no-post"])["next step"].endswith("[rule: post-assessment]")
    assert block(out, who["inactive"])["next step"].startswith(f"no sandbox request since {last[who['inactive']]:%Y-%m-%d}")
    owed = sorted(table.loc[table["reviewer"] == who["owes"], "author"])
    named = [a for a in owed if a in mine]  # another mentor's mentee is counted, never named
    others = len(owed) - len(named)
    expected = f"{len(owed)}: the lesson{'s' if len(owed) > 1 else ''} of " + ", ".join(
        named + ([f"{others} colleague{'s' if others > 1 else ''} outside your mentees"] if others else []))
    assert others, "the fixture has a mentee reviewing another mentor's mentee"
    assert block(out, who["owes"])["reviews owed"] == expected
    assert block(out, who["owes"])["next step"].endswith(f"{expected} [rule: reviews-owed]")
    got = table[table["author"] == who["author"]]
    done = int((~got["reviewer"].isin([who["owes"], "mentor-a"])).sum())
    assert block(out, who["author"])["teach-back"].startswith(f"submitted; {done} review(s) received")
    practise = block(out, who["practise"])["next step"]
    if post.min() < mt.PROFICIENT:
        weakest = next(k.name for k in s.competency.competencies if post.get(k.id) == post.min())  # map order
        assert practise.startswith(f"practise {weakest} (level {int(post.min())} after") and "[rule: practise]" in practise
    else:
        assert "[rule: teach-back]" in practise
    assert block(out, "ghost")["next step"].endswith("[rule: no-records]") and "not in the roster or the gradebook yet: ghost" in out
    mentor_owes = sorted(table.loc[(table["reviewer"] == "mentor-a") & table["author"].isin(mine), "author"])
    assert mentor_owes and f"You owe a review of the lesson(s) of: {', '.join(mentor_owes)}" in out
    # only their own mentees: nobody else's id or name appears, in the terminal or the page
    page = (tmp_path / "a.html").read_text()
    for other in set(c.roster["learner"]) - set(mine):
        assert other not in out and other not in page
    # a hostile name from the roster is shown as text, never as markup or a terminal escape
    assert "<script>" not in page and "&lt;script&gt;alert" in page and "\x1b" not in page + out
    assert "?[31mRed" in out
    assert "[rule: practise]" in page or "[rule: teach-back]" in page


def test_one_mentee_and_never_someone_elses(course):
    root, c, section, who, _ = course
    r = view(root, "mentor-a", "--learner", who["no-post"])
    assert r.exit_code == 0, r.output
    assert who["no-post"] in r.stdout and who["inactive"] not in r.stdout and "(1)" in r.stdout
    theirs = who["other"][0]
    r = view(root, "mentor-a", "--learner", theirs)
    assert r.exit_code == 1 and f"is not one of mentor-a's mentees" in r.stderr
    assert "completed" not in r.output and "Traceback" not in r.output
    r = view(root, "mentor-b")
    assert r.exit_code == 0 and all(x in r.stdout for x in who["other"]) and who["owes"] not in r.stdout


@pytest.mark.parametrize("name", ["mentor-z", "../../etc/passwd", "\x1b[2Jwiped", "a" * 5000, "", "mentor-a\n",
                                  "<b>x</b>", "mentor-a' OR '1'='1"])
def test_a_hostile_or_unknown_mentor_gets_a_clear_error(course, name):
    root, c, *_ = course
    r = view(root, name)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception
    assert "not a mentor" in r.stderr and "\x1b" not in r.stderr and len(r.stderr) < 400, r.stderr
    assert r.stdout == "" and not any(x in r.output for x in c.roster["learner"])


@pytest.mark.parametrize("mentors, message", [
    ({"mentor-a": ["ok", "<script>"]}, "is not a user id"),
    ({"../x": ["ok"]}, "is not a user id"),
    ({"m": ["m"]}, "cannot mentor themselves"),
    ({"m": ["a", "a"]}, "lists each mentee once"),
    ({"m": "a"}, "valid list"),
])
def test_a_bad_mentors_setting_is_refused_naming_the_key(tmp_path, mentors, message):
    with pytest.raises(settings.SettingsError, match=re.escape(message)) as err:
        settings.parse({"engage": {"mentors": mentors}}, root=tmp_path)
    assert "adoptkit.engage.mentors" in str(err.value)


def test_thin_records_give_a_clear_message(course, tmp_path):
    root, c, section, who, _ = course
    r = view(root, "mentor-c")
    assert r.exit_code == 1 and "mentor-c has no mentees yet" in r.stderr
    # no gradebook yet: said so, before anything else is read
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "_config.yml").write_text(yaml.safe_dump({"title": "c", "adoptkit": {"engage": {"mentors": {
        "m": ["x"]}}}}), encoding="utf-8")
    r = view(bare, "m")
    assert r.exit_code == 1 and "nothing is graded yet" in r.stderr and "Traceback" not in r.output
    # no usage log: last activity is unknown, never "inactive"
    copy_root = tmp_path / "nolog"
    shutil.copytree(root, copy_root)
    s2 = copy.deepcopy(section)
    s2["measure"] = {k: (v.replace(str(root), str(copy_root)) if isinstance(v, str) else v)
                     for k, v in section["measure"].items()}
    s2["measure"]["usage_log"] = str(copy_root / "missing.jsonl")
    # and a learner of mentor-b graded but left off the roster: the records' note names them, so it is withheld
    gone = who["other"][1]
    roster = pd.read_csv(copy_root / "roster.csv", dtype=str, keep_default_na=False)
    roster[roster["learner"] != gone].to_csv(copy_root / "roster.csv", index=False)
    (copy_root / "_config.yml").write_text(yaml.safe_dump({"title": "c", "adoptkit": s2}), encoding="utf-8")
    r = view(copy_root, "mentor-a", "--learner", who["inactive"])
    assert r.exit_code == 0, r.output
    b = block(r.stdout, who["inactive"])
    assert b["last sandbox request"] == "unknown (no usage log)" and "back-to-the-sandbox" not in b["next step"]
    assert "no usage data" in r.stdout
    assert gone not in r.output and "1 more note(s) about the course's records are left out here" in r.stdout


def test_every_rule_is_stated_once_and_the_last_always_holds():
    ids = [r for r, _, _ in mt.RULES]
    assert len(ids) == len(set(ids)) and ids[-1] == "on-track"
    import inspect

    src = inspect.getsource(mt.next_step)
    assert all(f'"{r}"' in src for r in ids), "every stated rule is one the code applies"


def test_a_database_password_never_reaches_the_view():
    label = "records: gradebook postgresql+psycopg2://grader:s3cr%40t@db:5432/gb, usage log sqlite:////x/gateway.db"
    assert mt.where(label) == ("records: gradebook postgresql+psycopg2://grader:***@db:5432/gb, usage log "
                               "sqlite:////x/gateway.db")
    v = mt.View("m", label, False, NOW, None, [])
    s = settings.parse({}, root=Path("."))
    assert "s3cr" not in mt.text(v, s) and "s3cr" not in mt.page(v, s)

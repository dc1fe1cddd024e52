"""The L&D lead's commands, run as `adoptkit` processes on real records: nbgrader's gradebook, the gateway's
usage table, the learners' timing and survey files and a roster (a seeded cohort written by
`simulate.write_records`), with a timed hackathon in the same gradebook, a local LRS and a local webhook.
Each expected figure is computed here from the cohort, not read back from the command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from adoptkit import settings
from adoptkit.measure import competency, simulate

from _adoption import ROI

ADOPTKIT = str(Path(sys.executable).with_name("adoptkit"))
HACKATHON = "sprint"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(folder, cohort, the adoptkit: section): 40 learners, 3,000 requests, 6 hackathon entries."""
    root = tmp_path_factory.mktemp("course")
    c = simulate.cohort(40, 3000, seed=8, settings=settings.parse(ROI, root=root))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    entrants = c.roster["learner"].head(6).tolist()
    entries = pd.DataFrame({  # three checks each; the last entrant submitted before the start (not counted)
        "learner": np.repeat(entrants, 3), "assignment": f"hackathon-{HACKATHON}",
        "notebook": f"hackathon-{HACKATHON}", "item": ["task1", "task2", "task3"] * 6,
        "score": [3, 3, 2, 3, 3, 2, 1, 1, 1, 2, 0, 0, 0, 0, 0, 3, 3, 3], "max_score": 3.0,
        "submitted": pd.to_datetime(np.repeat([now - timedelta(minutes=m) for m in (50, 40, 30, 20, 10, 180)], 3),
                                    utc=True),
        "role": None, "phase": None, "competency": None})
    c.scores = pd.concat([c.scores, entries], ignore_index=True)
    section = {**ROI, **simulate.write_records(c, root), "engage": {"hackathons": {HACKATHON: {
        "assignment": f"hackathon-{HACKATHON}", "title": "Complaints sprint",
        "start": (now - timedelta(hours=2)).isoformat(), "end": now.isoformat()}}}}
    return root, c, section


def adoptkit(root: Path, section: dict, *args: str, env: dict | None = None, timeout: int = 120):
    (root / "_config.yml").write_text(yaml.safe_dump({"title": "course", "adoptkit": section}))
    return subprocess.run([ADOPTKIT, *args], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "ADOPTKIT_CONFIG": str(root / "_config.yml"), **(env or {})})


def post_levels(c, s) -> pd.DataFrame:
    lv = competency.levels(c.assessed, s.competency)
    return lv[lv["phase"] == "post"].pivot_table(index="learner", columns="competency", values="level")


def test_reports_read_the_records(course):
    root, c, section = course
    r = adoptkit(root, section, "report", "competency", "--out", "reports")
    assert r.returncode == 0, r.stderr
    page = (root / "reports" / "competency.html").read_text()
    after = c.assessed.loc[c.assessed["phase"] == "post", "learner"].nunique()
    assert f"<b>{after:,}</b><span>learners assessed after" in page and "Simulated data." not in page
    table = pd.read_csv(root / "reports" / "competency-learners.csv", index_col=0)
    assert set(table.index) == set(c.roster["learner"])
    r = adoptkit(root, section, "report", "roi", "--out", "reports")
    assert r.returncode == 0 and (root / "reports" / "roi.html").exists(), r.stderr
    r = adoptkit(root, section, "report", "usage")
    learners = c.usage.frame["learner"].nunique()
    assert r.returncode == 0 and f"3,000 requests from {learners:,} learners" in r.stdout, r.stdout + r.stderr


def test_badges_are_issued_to_the_earners_once_and_verify(course, tmp_path):
    root, c, section = course
    key = tmp_path / "badge-key.pem"
    assert adoptkit(root, section, "badges", "keygen", str(key)).returncode == 0
    env = {"ADOPTKIT_BADGE_KEY": str(key), "ADOPTKIT_DATA_MIRROR": os.environ.get("ADOPTKIT_DATA_MIRROR", "")}
    if not env["ADOPTKIT_DATA_MIRROR"]:
        pytest.skip("badges are checked against 1EdTech's schema, read from the mirror: set ADOPTKIT_DATA_MIRROR")
    r = adoptkit(root, section, "badges", "issue", "--out", "badges", "--no-pdf", env=env)
    assert r.returncode == 0, r.stderr
    post = post_levels(c, settings.parse(section, root=root))
    earners = {("ai-practitioner", x) for x in post.index[(post[["prompting", "grounding", "evaluating"]] >= 3)
                                                          .all(axis=1)]}
    earners |= {("safe-ai-user", x) for x in post.index[post["privacy"] >= 3]}
    issued = {(line.split()[1], line.split()[3].rstrip(":")) for line in r.stdout.splitlines()
              if line.startswith("issued ")}
    assert earners and issued == earners, r.stdout
    again = adoptkit(root, section, "badges", "issue", "--out", "badges", "--no-pdf", env=env)
    assert again.returncode == 0 and f"0 new badge(s); {len(earners)} already issued" in again.stdout
    badge, learner = sorted(earners)[0]
    jwt = root / "badges" / learner / f"{badge}.jwt"
    assert adoptkit(root, section, "badges", "verify", str(jwt), env=env).returncode == 0
    head, body, sig = jwt.read_text().strip().split(".")
    forged = tmp_path / "forged.jwt"
    forged.write_text(".".join([head, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), sig]))
    bad = adoptkit(root, section, "badges", "verify", str(forged), env=env)
    assert bad.returncode == 1 and "valid:" not in bad.stdout


def test_xapi_send_delivers_every_record_once(course, lrs):
    root, c, section = course
    url, handler = lrs
    section = {**section, "xapi": {"endpoint": url}}
    env = {"ADOPTKIT_LRS_USER": handler.user, "ADOPTKIT_LRS_PASSWORD": handler.password}
    r = adoptkit(root, section, "xapi", "send", env=env)
    submissions = c.scores.groupby(["learner", "assignment"]).ngroups
    assert r.returncode == 0, r.stderr
    assert len(handler.store) >= submissions and f"sent {len(handler.store)} statement(s)" in r.stdout
    completed = [st for st in handler.store.values() if st["verb"]["id"].endswith("/completed")]
    assert len(completed) == submissions
    again = adoptkit(root, section, "xapi", "send", env=env)
    assert again.returncode == 0 and f"sent 0 statement(s) in 0 batch(es); {len(handler.store)} already sent" in again.stdout
    r = adoptkit(root, section, "xapi", "send", env={"ADOPTKIT_LRS_USER": "", "ADOPTKIT_LRS_PASSWORD": ""})
    assert r.returncode == 1 and "ADOPTKIT_LRS_USER" in r.stderr


def test_nudge_posts_the_digest_to_the_webhook(course, receiver):
    root, c, section = course
    url, rec = receiver
    r = adoptkit(root, section, "nudge", "--post", env={"ADOPTKIT_NUDGE_WEBHOOK": url})
    assert r.returncode == 0 and r.stdout.strip().endswith("posted"), r.stderr
    assert len(rec.received) == 1 and rec.received[0][0] == "application/json"
    text = rec.received[0][1]["text"]
    # The simulated programme ended months ago: nobody has used the sandbox in the last 7 days.
    assert f"{len(c.roster)} learner(s) have not used the sandbox in 7 days" in text
    assert not any(name in text for name in c.roster["name"])  # the inactive are counted, never named
    rec.status = 500
    r = adoptkit(root, section, "nudge", "--post", env={"ADOPTKIT_NUDGE_WEBHOOK": url})
    assert r.returncode == 1 and "500" in r.stderr


def test_hackathon_scoreboard_watches_until_the_end_then_ranks(course):
    root, c, section = course
    hackathons = section["engage"]["hackathons"]

    def ending(at: datetime) -> None:  # the test, not the machine's speed, says when the challenge ends
        live = {**section, "engage": {"hackathons": {HACKATHON: {**hackathons[HACKATHON], "end": at.isoformat()}}}}
        (root / "new.yml").write_text(yaml.safe_dump({"title": "course", "adoptkit": live}))
        os.replace(root / "new.yml", root / "_config.yml")  # whole, as the running board reads it

    ending(datetime.now(timezone.utc) + timedelta(hours=1))
    board = subprocess.Popen([ADOPTKIT, "hackathon", "scoreboard", HACKATHON, "--watch", "1", "--privacy", "names",
                              "--out", "board.html"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "ADOPTKIT_CONFIG": str(root / "_config.yml")})
    try:
        first = board.stdout.readline()  # a live board
        ending(datetime.now(timezone.utc))  # the board reads it on its next round, then ranks
        rest, err = board.communicate(timeout=60)
    finally:
        board.kill()
    assert board.returncode == 0, err
    lines = [first.strip(), *rest.strip().splitlines()]
    assert len(lines) >= 2 and "(final)" in lines[-1] and "(final)" not in lines[0]
    assert all("5 entries" in line for line in lines)  # the sixth submitted before the start
    ranking = pd.read_csv(root / "board.csv")
    names = c.roster.set_index("learner")["name"]
    entrants = c.roster["learner"].head(5).tolist()
    assert ranking["shown as"].tolist() == [names[x] for x in entrants[:4]]  # 8, 8 (later), 3, 2
    assert ranking["points"].tolist() == [8, 8, 3, 2]  # the entrant with 0 points is not listed
    page = (root / "board.html").read_text()
    assert "Final ranking" in page and "http-equiv='refresh'" not in page
    r = adoptkit(root, section, "hackathon", "final", HACKATHON, "--privacy", "team", "--out", "final.html")
    assert r.returncode == 0 and (root / "final.csv").exists(), r.stderr
    teams = pd.read_csv(root / "final.csv")
    sizes = c.roster.set_index("learner").loc[entrants, "team"].value_counts()
    named = sizes[sizes >= 3]  # engage.leaderboard.min_team_size: smaller teams are pooled, a small pool hidden
    pooled = int(sizes[sizes < 3].sum())
    expected = dict(named) | ({"other teams (pooled)": pooled} if pooled >= 3 else {})
    assert dict(zip(teams["shown as"], teams["entrants"])) == expected
    assert not set(teams["shown as"]) & set(sizes[sizes < 3].index)  # no small team is named


def test_leaderboard_shows_team_averages_from_the_roster(course):
    root, c, section = course
    r = adoptkit(root, section, "leaderboard")
    assert r.returncode == 0, r.stderr
    big_teams = c.roster["team"].value_counts()
    shown = [t for t in big_teams.index[big_teams >= 3] if t in r.stdout]
    assert shown and not any(x in r.stdout for x in c.roster["learner"])


def test_a_broken_usage_log_row_is_reported_and_the_rest_counted(course, tmp_path):
    import shutil
    import sqlite3

    root, c, section = course
    log = tmp_path / "gateway.db"
    shutil.copy(section["measure"]["usage_log"].removeprefix("sqlite:///"), log)
    with sqlite3.connect(log) as conn:
        conn.execute("UPDATE usage SET ts = 'not a time' WHERE id = 7")
        conn.execute("UPDATE usage SET prompt_tokens = -3 WHERE id = 9")
    broken = {**section, "measure": {**section["measure"], "usage_log": f"sqlite:///{log}"}}
    r = adoptkit(root, broken, "report", "usage")
    assert r.returncode == 0 and "2,998 requests" in r.stdout
    assert "time missing or unreadable, e.g. data row(s) [7]" in r.stdout
    assert "tokens_in negative, e.g. data row(s) [9]" in r.stdout

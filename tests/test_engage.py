"""Leaderboards, hackathon ranking, teach-back review, review cards and nudges."""

from datetime import date, datetime, timedelta, timezone

import nbformat
import pandas as pd
import pytest

from adoptkit.engage import cards, hackathon, leaderboard, nudge, review, teachback
from adoptkit.measure.cohort import Cohort
from adoptkit.measure.usage import UsageLog, normalise
from adoptkit.settings import SettingsError
from adoptkit.widgets import ReviewDeck

from _adoption import config


# --- leaderboards -------------------------------------------------------------------------------------

def test_streaks_count_working_days_and_weekends_never_break_them():
    days = pd.DataFrame({"learner": ["a"] * 4 + ["b", "c"],
                         "day": pd.to_datetime(["2026-03-12", "2026-03-13", "2026-03-16", "2026-03-17",
                                                "2026-03-05", "2026-03-15"])})
    got = leaderboard.streaks(days, date(2026, 3, 18))  # a Wednesday
    assert got.to_dict() == {"a": 4, "b": 0, "c": 0}  # Thu Fri (weekend) Mon Tue; b lapsed; c's Sunday is Friday's
    assert leaderboard.streaks(days, date(2026, 3, 21))["a"] == 0  # Saturday: Tue is too long ago


def _standings():
    rows = [("ana", "Ana Lopez", "t1", 40), ("ben", "Ben Berg", "t1", 30), ("cy", "Cy Costa", "t1", 20),
            ("dee", "Dee Diaz", "t2", 50), ("eve", "Eve Evans", "t2", 10), ("fox", "Fox Gill", "t2", 0),
            ("gil", "Gil Hart", "t3", 45)]
    t = pd.DataFrame(rows, columns=["learner", "name", "team", "points"]).set_index("learner")
    return t.assign(cohort="c1", streak=0, active_days=0, score=t["points"])


def test_team_privacy_shows_averages_only_and_pools_small_teams(tmp_path):
    s = config(tmp_path, {"engage": {"leaderboard": {"min_team_size": 3}}})
    rows = leaderboard.board(_standings(), s)
    assert set(rows["shown as"]) == {"t1", "t2"}  # t3 has one member: pooled, and too few to show
    assert rows.set_index("shown as").loc["t1", "score"] == 30 and "name" not in rows.columns
    assert not any(name in rows.to_string() for name in ("Ana", "Gil", "ana"))


def test_individual_boards_show_the_top_only_never_zero_scores_or_opt_outs(tmp_path):
    s = config(tmp_path, {"engage": {"leaderboard": {"top": 3, "opt_out": ["dee"]}}})
    rows = leaderboard.board(_standings(), s, privacy="initials")
    assert list(rows["shown as"]) == ["G. H.", "A. L.", "B. B."]
    names = leaderboard.board(_standings(), s, privacy="names", team="t2")
    assert list(names["shown as"]) == ["Eve Evans"]  # dee opted out, fox has no score
    assert leaderboard.board(_standings(), s, cohort="nobody").empty
    page = leaderboard.render(rows, "Board", "initials", simulated=False, refresh=30)
    assert "http-equiv='refresh' content='30'" in page and "nobody is listed below them" in page


def test_streak_bonus_is_capped(tmp_path):
    s = config(tmp_path, {"engage": {"leaderboard": {"streak_points": 2, "streak_cap": 5}}})
    roster = pd.DataFrame([("a", "A", "r", "t", "c")], columns=["learner", "name", "role", "team", "cohort"])
    days = pd.bdate_range("2026-02-02", "2026-03-17")
    log = normalise(pd.DataFrame({"ts": [f"{d:%Y-%m-%d}T10:00:00Z" for d in days], "learner": "a"}))[0]
    c = Cohort(roster, pd.DataFrame(columns=["learner", "score"]), UsageLog(log, "t"), pd.DataFrame(),
               pd.DataFrame(), label="t")
    st = leaderboard.standings(c, s, today=date(2026, 3, 17))
    assert st.loc["a", "streak"] == len(days) and st.loc["a", "score"] == 2 * 5 + st.loc["a", "active_days"]


# --- hackathon ------------------------------------------------------------------------------------------

START, END = datetime(2026, 3, 2, 9, tzinfo=timezone.utc), datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


def _hack_settings(tmp_path, privacy="names", min_team=2):
    return config(tmp_path, {"engage": {"leaderboard": {"privacy": privacy, "min_team_size": min_team},
                                        "hackathons": {"sprint": {
        "assignment": "hackathon-complaints-sprint", "title": "Sprint", "start": START.isoformat(),
        "end": END.isoformat()}}}})


def _hack_scores():
    def row(learner, points, minutes):
        return {"learner": learner, "assignment": "hackathon-complaints-sprint", "score": points,
                "submitted": START + timedelta(minutes=minutes)}
    return pd.DataFrame([row("ana", 12, 100), row("ben", 12, 90), row("cy", 15, 200), row("dee", 9, 30),
                         row("eve", 14, 181), row("fay", 0, 20)] + [{**row("ana", 0, 0), "assignment": "other"}])


def test_hackathon_ranks_points_then_earlier_submission_and_ignores_late_work(tmp_path):
    s = _hack_settings(tmp_path)
    roster = pd.DataFrame([("ana", "Ana", "t1"), ("ben", "Ben", "t1"), ("cy", "Cy", "t2"), ("dee", "Dee", "t2"),
                           ("eve", "Eve", "t3"), ("fay", "Fay", "t3")], columns=["learner", "name", "team"])
    h = hackathon.get("sprint", s)
    st = hackathon.ranking(_hack_scores(), roster, h, s)
    # cy (200 min) and eve (181) came after the 180-minute end; fay has no points, so is not listed
    assert list(st.table["shown as"]) == ["Ben", "Ana", "Dee"] and st.late == 2 and st.entrants == 4
    teams = hackathon.ranking(_hack_scores(), roster, h, s, privacy="team")
    # on time: t1 has ana and ben, t2 only dee, t3 only fay: teams below min_team_size (2 here) are pooled
    assert list(teams.table["shown as"]) == ["t1", leaderboard.POOLED] and teams.table["points"].tolist() == [12, 9]
    assert "Dee" not in teams.table.to_string() and teams.table["entrants"].tolist() == [2, 2]
    live = hackathon.page(h, st, final=False, refresh=30, now=START + timedelta(hours=1))
    assert "Live" in live and "Time left" in live and "content='30'" in live
    path = hackathon.write(h, st, tmp_path / "out" / "final.html", final=True)
    assert "Final ranking" in path.read_text() and pd.read_csv(path.with_suffix(".csv"))["rank"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("min_team", [2, 3])
def test_a_hackathon_team_below_the_minimum_size_never_identifies_its_member(tmp_path, min_team):
    s = _hack_settings(tmp_path, privacy="team", min_team=min_team)
    roster = pd.DataFrame([("ana", "Ana", "t1"), ("ben", "Ben", "t1"), ("fay", "Fay", "t1"), ("dee", "Dee", "solo")],
                          columns=["learner", "name", "team"])
    st = hackathon.ranking(_hack_scores(), roster, hackathon.get("sprint", s), s)
    shown = st.table["shown as"].tolist()
    assert "solo" not in shown and "Dee" not in st.table.to_string() and "9" not in st.table["points"].astype(str).tolist()
    # dee's team of one is pooled, and a pool of one is as identifying as a team of one: not shown at all
    assert shown == ["t1"] and st.entrants == 4


def test_hackathon_config_errors(tmp_path):
    with pytest.raises(hackathon.HackathonError, match="no hackathon 'nope'"):
        hackathon.get("nope", _hack_settings(tmp_path))
    with pytest.raises(SettingsError, match="end.*after"):
        config(tmp_path, {"engage": {"hackathons": {"x": {"assignment": "a", "start": END.isoformat(),
                                                          "end": START.isoformat()}}}})


# --- Learn-Do-Teach review --------------------------------------------------------------------------------

@pytest.mark.parametrize("n, k, seed", [(2, 1, 0), (5, 2, 1), (9, 3, 4), (30, 2, 7)])
def test_review_plan_never_self_and_equal_load(n, k, seed):
    authors = [f"l{i:02d}" for i in range(n)]
    pairs = review.plan(authors, k, seed)
    assert all(a != r for a, r in pairs) and len(set(pairs)) == len(pairs)
    load = pd.Series([r for _, r in pairs]).value_counts()
    assert set(load.index) == set(authors) and set(load) == {k}
    got = pd.Series([a for a, _ in pairs]).value_counts()
    assert set(got) == {k}


def test_review_plan_needs_enough_peers_or_mentors():
    with pytest.raises(review.ReviewError, match="without self-review"):
        review.plan(["solo"], 1)
    assert review.plan(["solo"], 1, mentors=["mentor"]) == [("solo", "mentor")]


def _lesson(path, title="Prompt patterns for triage", good=True):
    nb = teachback.template("triage")
    text = {"Who this is for": "Support colleagues who triage complaints every day and know spreadsheets.",
            "What you will be able to do": "- write a triage prompt that lists the labels\n- check answers",
            "Worked example": "We load real complaints and ask the course model to route one of them. " * 5,
            "Try it yourself": "Exercise: route three more complaints. Which labels did the model pick?",
            "Common mistakes": "Forgetting to list the labels, and trusting answers without checking them. " * 4,
            "Sources": "Data: the CFPB complaint sample via adoptkit.data citation; https://www.consumerfinance.gov/"}
    cells = [nbformat.v4.new_markdown_cell(f"# {title}")]
    for section in teachback.SECTIONS:
        cells.append(nbformat.v4.new_markdown_cell(f"## {section}\n\n{text[section]}"))
        if section == "Worked example":
            cells.append(nbformat.v4.new_code_cell("from adoptkit import data\ndf = data.load('cfpb_complaints')"))
        if section == "Try it yourself":
            cells.append(nbformat.v4.new_code_cell("# your code here" if good else "TODO"))
    if not good:
        cells = cells[:3]
    nb.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def test_review_assign_score_and_publish_the_best(tmp_path):
    s = config(tmp_path, {"engage": {"review": {"reviewers": 2, "min_reviews": 2,
                                                 "rubric": {"clarity": 4, "correctness": 4}}}})
    sub = tmp_path / "_nbgrader" / "submitted"
    for learner in ("ana", "ben", "cy"):
        _lesson(sub / learner / "sales-teachback" / "lesson.ipynb", good=learner != "cy")
    db = tmp_path / "records.db"
    table = review.assign(s, seed=1, db=db)
    assert len(table) == 6 and not (table["author"] == table["reviewer"]).any()
    assert review.assign(s, seed=99, db=db).equals(table)  # re-running keeps the assignments
    for author in ("ana", "ben", "cy"):
        for reviewer in table.loc[table["author"] == author, "reviewer"]:
            marks = {"ana": 4, "ben": 2, "cy": 4}[author]
            review.score(author, reviewer, {"clarity": marks, "correctness": marks - 1}, settings=s, db=db)
    with pytest.raises(review.ReviewError, match="not assigned"):
        review.score("ana", "ana", {"clarity": 1, "correctness": 1}, settings=s, db=db)
    with pytest.raises(review.ReviewError, match="unknown.*wow.*missing.*correctness"):
        review.score("ana", table.loc[0, "reviewer"], {"clarity": 1, "wow": 2}, settings=s, db=db)
    with pytest.raises(review.ReviewError, match="between 0 and 4"):
        review.score("ana", table.loc[0, "reviewer"], {"clarity": 5, "correctness": 1}, settings=s, db=db)
    res = review.results(s, db)
    assert list(res.index[:2]) == ["ana", "cy"] and res.loc["ana", "share"] == pytest.approx(7 / 8)
    book = tmp_path / "book" / "teachbacks"
    with pytest.raises(review.ReviewError, match="cy's lesson is not ready"):
        review.publish("cy", settings=s, db=db, book_dir=book)
    done = review.publish(best=1, settings=s, db=db, book_dir=book, names={"ana": "Ana Lopez"})
    (path, toc), = done
    assert path.parent == book and toc == f"- file: book/teachbacks/{path.stem}"
    nb = nbformat.read(str(path), as_version=4)
    assert "Ana Lopez" in nb.cells[1].source and all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert review.published_counts(s, db).to_dict() == {"ana": 1}


# --- review cards ------------------------------------------------------------------------------------------

def test_deck_is_drawn_from_the_exercises(tmp_path):
    s = config(tmp_path)
    from pathlib import Path

    deck = cards.deck(Path(__file__).resolve().parents[1] / "exercises", s)
    # a card per competency on each form of the competency check (the engineering quiz bank that gave a
    # second card per competency went with it: a deck from content files is open work)
    forms = 2
    assert len(deck) >= forms * len(s.competency.ids()) and len({c.id for c in deck}) == len(deck)
    assert {c.competency for c in deck} == set(s.competency.ids())
    again = cards.load_deck(cards.export(deck, tmp_path / "deck.json"))
    assert again == deck


def _deck():
    return [cards.ReviewCard(f"c{i}", comp, f"Q{i}?", f"A{i}") for i, comp in
            enumerate(["prompting", "privacy", "coding", "privacy", "grounding", "automation", "evaluating"])]


def test_schedule_limits_new_cards_weakest_first_and_persists(tmp_path):
    s = config(tmp_path, {"engage": {"microlearning": {"new_cards_per_day": 3, "max_cards": 10}}})
    db = tmp_path / "records.db"
    now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    sched = cards.Schedule("ana", s, db, fuzz=False)
    first = sched.due(_deck(), now, levels={"privacy": 0, "prompting": 3, "coding": 1})
    assert [c.id for c in first] == ["c1", "c3", "c4"]  # privacy (0), then unknown levels count as 0, in order
    again_at = sched.review(first[0], "again", now)
    good_at = sched.review(first[1], "good", now)
    easy_at = sched.review(first[2], "easy", now)
    assert now < again_at <= good_at < easy_at
    # the same day: no more new cards (3 introduced), nothing due yet
    assert cards.Schedule("ana", s, db).due(_deck(), now + timedelta(seconds=1)) == []
    # the next day: the cards reviewed are due, plus three new ones
    later = cards.Schedule("ana", s, db).due(_deck(), now + timedelta(days=1))
    assert {"c1", "c3"} <= {c.id for c in later} and len([c for c in later if c.id not in ("c1", "c3", "c4")]) == 3
    counts = cards.due_counts(["ana", "zed"], _deck(), now + timedelta(days=1), s, db)
    assert counts.loc["ana", "due"] >= 2 and counts.loc["zed", "new"] == 7 and pd.isna(counts.loc["zed", "days_since"])
    with pytest.raises(cards.CardError, match="rating"):
        sched.review("c0", "meh", now)


def test_review_deck_widget_session_and_time_limit(tmp_path):
    s = config(tmp_path, {"engage": {"microlearning": {"minutes": 5, "new_cards_per_day": 4}}})
    t = [0.0]
    deck = ReviewDeck("ana", _deck(), s, db=tmp_path / "r.db", clock=lambda: t[0])
    box = deck.widget()
    assert deck.total == 4 and "Card 1 of 4" in deck._status.value and deck._back.value == ""
    with pytest.raises(cards.CardError, match="show the answer"):
        deck.rate("good")
    deck._show.click()
    assert "A" in deck._back.value and len(box.children[3].children) == 4  # the four rating buttons
    deck._rate[2].click()  # Good
    assert deck.done == 1 and "Card 2 of 4" in deck._status.value
    t[0] = 301.0  # five minutes later
    deck.flip()
    deck.rate("good")
    assert deck.finished and "time is up" in deck._front.value and deck.done == 1
    assert cards.reviews(s, tmp_path / "r.db")["learner"].tolist() == ["ana"]


# --- nudges -----------------------------------------------------------------------------------------------

def test_nudge_digest_names_who_is_due_and_only_counts_the_inactive(tmp_path, receiver, monkeypatch):
    url, rec = receiver
    s = config(tmp_path, {"engage": {"nudge": {"inactive_days": 7}}})
    now = datetime(2026, 3, 20, 8, tzinfo=timezone.utc)
    roster = pd.DataFrame([("ana", "Ana Lopez"), ("ben", "Ben Berg"), ("cy", "Cy Costa")], columns=["learner", "name"])
    due = pd.DataFrame({"due": [3, 0, 0], "new": [2, 7, 0], "days_since": [1.0, None, 4.0]},
                       index=pd.Index(["ana", "ben", "cy"], name="learner"))
    log = normalise(pd.DataFrame({"ts": ["2026-03-19T10:00:00Z", "2026-03-01T10:00:00Z"], "learner": ["ana", "cy"]}))[0]
    d = nudge.build(due, roster, log, s, now)
    assert "Ana Lopez: 3 due" in d.text and "Ben Berg: new cards" in d.text and "Cy Costa" not in d.text
    assert d.inactive == 2 and "2 learner(s) have not used the sandbox in 7 days" in d.text
    monkeypatch.setenv("ADOPTKIT_NUDGE_WEBHOOK", url)
    nudge.post(d.text, settings=s)
    assert rec.received == [("application/json", {"text": d.text})]
    rec.status = 400
    with pytest.raises(nudge.NudgeError, match="answered 400"):
        nudge.post("x", settings=s)
    monkeypatch.delenv("ADOPTKIT_NUDGE_WEBHOOK")
    with pytest.raises(nudge.NudgeError, match="ADOPTKIT_NUDGE_WEBHOOK"):
        nudge.post("x", settings=s)


def test_daily_review_notebook_shows_the_deck(tmp_path, monkeypatch):
    from pathlib import Path

    from nbclient import NotebookClient

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "exercises").symlink_to(root / "exercises")
    (tmp_path / "_config.yml").write_text("title: t\nadoptkit:\n  measure:\n    records: records.db\n")
    monkeypatch.setenv("ADOPTKIT_CONFIG", str(tmp_path / "_config.yml"))
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")
    nb = nbformat.read(str(root / "sandbox" / "daily-review.ipynb"), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = nb.cells[1].outputs
    assert out and "application/vnd.jupyter.widget-view+json" in out[0]["data"]
    assert "Card 1 of 5" in out[0]["data"]["text/plain"]  # new cards for a first session (new_cards_per_day)

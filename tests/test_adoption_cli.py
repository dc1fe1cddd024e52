"""The adoption commands as an L&D lead runs them (on simulated cohorts, and on missing records)."""

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner

from adoptkit import settings as settings_mod
from adoptkit.cli import main

from _adoption import ROI, config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(tmp_path, monkeypatch):
    def invoke(section, *args):
        config(tmp_path, section)
        monkeypatch.setenv("ADOPTKIT_CONFIG", str(tmp_path / "_config.yml"))
        settings_mod.current.cache_clear()
        try:
            return CliRunner().invoke(main, list(args), catch_exceptions=False)
        finally:
            settings_mod.current.cache_clear()
    return invoke


def test_reports_on_a_simulated_cohort(run, tmp_path):
    out = tmp_path / "reports"
    r = run(ROI, "report", "competency", "--simulate", "40", "--events", "2000", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert (out / "competency.html").exists() and (out / "competency-learners.csv").exists()
    r = run(ROI, "report", "roi", "--simulate", "40", "--events", "2000", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "Simulated data." in (out / "roi.html").read_text()
    r = run(ROI, "report", "usage", "--simulate", "40", "--events", "2000")
    assert r.exit_code == 0 and "2,000 requests" in r.output


def test_roi_with_missing_costs_names_the_keys(run, tmp_path):
    section = copy.deepcopy(ROI)
    del section["organisation"]["hourly_cost"]
    r = run(section, "report", "roi", "--simulate", "30", "--out", str(tmp_path / "r"))
    assert r.exit_code == 1 and "adoptkit.organisation.hourly_cost is not set" in r.output
    assert not (tmp_path / "r" / "roi.html").exists()


def test_reports_without_records_say_what_to_do(run, tmp_path):
    r = run({}, "report", "competency", "--out", str(tmp_path / "r"))
    assert r.exit_code == 1 and "no gradebook at" in r.output and "--simulate" in r.output
    r = run({}, "nudge")
    assert r.exit_code == 1 and "no gradebook" in r.output


def test_leaderboard_defaults_to_team_averages(run, tmp_path):
    r = run({}, "leaderboard", "--simulate", "60", "--events", "3000", "--html", str(tmp_path / "b.html"))
    assert r.exit_code == 0 and "members" in r.output and "learner0" not in r.output
    assert "Team averages only" in (tmp_path / "b.html").read_text()
    r = run({}, "leaderboard", "--simulate", "60", "--events", "3000", "--privacy", "initials")
    lines = r.output.strip().splitlines()
    assert r.exit_code == 0 and len(lines) == 12  # the SIMULATED line, header, top 10
    assert lines[0].startswith("SIMULATED cohort: 60 synthetic learners") and "no real learner" in lines[0]


def test_microlearning_deck_lists_the_cards_from_the_exercises(run, tmp_path):
    (tmp_path / "exercises").symlink_to(ROOT / "exercises")
    r = run({}, "microlearning", "deck", "--export", str(tmp_path / "deck.json"))
    assert r.exit_code == 0 and "privacy" in r.output and (tmp_path / "deck.json").exists()


def test_hackathon_and_review_errors_are_clear(run):
    r = run({}, "hackathon", "final", "nope")
    assert r.exit_code == 1 and "no hackathon 'nope'" in r.output
    r = run({}, "review", "score", "ana", "--reviewer", "ben", "--score", "clarity")
    assert r.exit_code == 1 and "CRITERION=NUMBER" in r.output


def test_simulated_output_says_so_on_stdout(run, tmp_path):
    for args in (["leaderboard"], ["career", "teams"], ["report", "usage"]):
        out = run({}, *args, "--simulate", "30", "--events", "1500")
        assert out.exit_code == 0 and out.output.startswith("SIMULATED cohort"), (args, out.output)


def test_roi_names_every_cost_it_does_not_have(run, tmp_path):
    r = run(ROI, "report", "roi", "--simulate", "40", "--events", "2000", "--out", str(tmp_path / "r"))
    assert r.exit_code == 0
    for setting in ("course_hours_per_learner", "mentor_hours", "content_and_facilitation", "platform_and_it",
                    "model_usage"):
        assert f"not costed: adoptkit.roi.{setting}" in r.output or f"programme_costs.{setting} is not set" in r.output
    page = (tmp_path / "r" / "roi.html").read_text()
    assert "not costed, so the ROI is overstated" in page

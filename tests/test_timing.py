import json
from datetime import datetime, timedelta, timezone

import pytest

from adoptkit.measure import reaction, timing


def _shift_start(path, mode, seconds):
    data = json.loads(path.read_text())
    started = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    data["runs"][mode]["started"] = started.isoformat()
    path.write_text(json.dumps(data))


def test_a_run_is_recorded_once_and_a_rerun_does_not_overwrite_it(tmp_path, capsys):
    t = timing.TaskTimer("summary", "without_ai", folder=tmp_path)
    path = tmp_path / "timings" / "summary.json"
    _shift_start(path, "without_ai", 300)  # the learner took five minutes
    first = t.stop()
    assert 299 <= first <= 310
    # nbgrader re-runs the notebook: start and stop again change nothing
    again = timing.TaskTimer("summary", "without_ai", folder=tmp_path)
    assert again.stop() == first
    assert "already timed" in capsys.readouterr().out
    # on purpose: restart
    timing.TaskTimer("summary", "without_ai", folder=tmp_path, restart=True)
    assert "seconds" not in json.loads(path.read_text())["runs"]["without_ai"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        timing.TaskTimer("summary", "with_magic", folder=tmp_path)
    with pytest.raises(ValueError, match="names a file"):
        timing.TaskTimer("../x", "with_ai", folder=tmp_path)


def test_collect_keeps_plausible_finished_runs_and_says_what_it_left_out(tmp_path):
    sub = tmp_path / "submitted"

    def write(learner, runs, name="summary"):
        d = sub / learner / "sales-assessment-post" / "timings"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.json").write_text(json.dumps({"task": name, "runs": runs}))

    write("ana", {"without_ai": {"seconds": 600}, "with_ai": {"seconds": 240}})
    write("ben", {"without_ai": {"seconds": 3}, "with_ai": {"started": "2026-01-01T00:00:00+00:00"}})
    (sub / "cy" / "sales-assessment-post" / "timings").mkdir(parents=True)
    (sub / "cy" / "sales-assessment-post" / "timings" / "summary.json").write_text("{oops")
    df, notes = timing.collect(sub)
    assert df.to_dict("records") == [
        {"learner": "ana", "assignment": "sales-assessment-post", "task": "summary", "mode": "without_ai", "seconds": 600.0},
        {"learner": "ana", "assignment": "sales-assessment-post", "task": "summary", "mode": "with_ai", "seconds": 240.0}]
    assert len(notes) == 3 and any("unreadable" in n for n in notes) and any("not finished" in n for n in notes)
    pairs = timing.paired(df)
    assert pairs.loc[0, "minutes_saved"] == 6.0
    assert timing.paired(df[df["mode"] == "with_ai"]).empty


def test_reaction_survey_answers_are_read_back_as_ratings(tmp_path):
    folder = tmp_path / "submitted" / "ana" / "hr-assessment-post"
    q = reaction.survey(folder=folder)
    q.answer(0, reaction.SCALE[4])
    q.answer(2, reaction.SCALE[1])
    df = reaction.collect(tmp_path / "submitted")
    assert df[["question", "rating"]].values.tolist() == [[reaction.QUESTIONS[0][0], 5], [reaction.QUESTIONS[2][0], 2]]


def test_a_folder_that_cannot_be_written_does_not_break_the_notebook(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the timings folder would go")
    t = timing.TaskTimer("summary", "with_ai", folder=blocker)
    assert "could not be saved" in capsys.readouterr().out
    assert t.stop() is None  # nothing was recorded, and nothing raised

import json

import pytest

from adoptkit.widgets import Quiz

QS = [("Which call sends a prompt?", ["client.chat.completions.create", "client.send"]),
      ("Where do keys live?", ["in the notebook", "in the environment"])]


def test_answers_persist_and_are_read_back_by_a_fresh_quiz(tmp_path):
    q = Quiz("q1", QS, folder=tmp_path)
    assert q.answers == [None, None]
    box = q.widget()
    q._radios[1].value = "in the environment"  # a click
    q.answer(0, "client.send")
    assert Quiz("q1", QS, folder=tmp_path).answers == ["client.send", "in the environment"]
    assert len(box.children) == 3


def test_bad_option_and_bad_definitions_are_refused(tmp_path):
    q = Quiz("q1", QS, folder=tmp_path)
    with pytest.raises(ValueError, match="not an option"):
        q.answer(0, "client.yell")
    with pytest.raises(ValueError, match="distinct options"):
        Quiz("q2", [("?", ["a", "a"])], folder=tmp_path)
    with pytest.raises(ValueError, match="names a file"):
        Quiz("../evil", QS, folder=tmp_path)


def test_damaged_or_stale_answer_file_counts_as_unanswered(tmp_path, capsys):
    path = tmp_path / "quiz-answers" / "q1.json"
    path.parent.mkdir()
    path.write_text("{broken")
    assert Quiz("q1", QS, folder=tmp_path).answers == [None, None]
    assert "could not be read" in capsys.readouterr().out
    path.write_text(json.dumps({"answers": ["client.send", "an option that no longer exists"]}))
    assert Quiz("q1", QS, folder=tmp_path).answers == ["client.send", None]

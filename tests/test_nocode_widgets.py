"""The no-code widgets and their grading library, in process: saving, running through a client, the endpoint
being down, hostile answer files, precision/recall scoring, stable keys under a per-learner order, and the
author's generator keeping keys out of the learner's copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from adoptkit.llm.replay import replay_client
from adoptkit.widgets import CheckWork, Decide, PromptTask, author, content, grading, store

DEMO = Path(__file__).parent / "fixtures" / "nocode" / "demo.yml"
SPEC = yaml.safe_load(DEMO.read_text())
PARTS = {p["id"]: p for p in SPEC["parts"]}
GOOD = ("Label each customer message with exactly one of these labels: order problem, pricing question, new lead. "
        "Answer with only the label, nothing else. If you are not sure, answer needs review.")


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the grading library reads quiz-answers/ from the notebook's folder
    return tmp_path


def units(part_id):
    return {u["id"]: u for u in author.grade_units(PARTS[part_id])}


def test_prompt_task_runs_through_a_client_keeps_every_attempt_and_shows_failed_checks(here):
    task = PromptTask(PARTS["demo-label"], folder=here, client=replay_client(["Order problem.", "maybe pricing?"]))
    task.write("Label this.")
    results = task.run()
    assert [content.usable(r["checks"]) for r in results] == [True, False]
    failed = [c for c in results[1]["checks"] if not c.ok]
    assert failed[0].name == "is one of the allowed answers" and "maybe pricing?" in failed[0].detail
    assert "record" in task._table() and "1 of 2 replies are usable" in task._table()
    saved = json.loads(store.path_for("demo-label", here).read_text())
    assert saved["prompt"] == "Label this." and saved["attempts"][0]["usable"] == 1
    # the system message is the prompt, the record is fenced in the user message
    sent = task._client.requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Label this."} and "```" in sent[1]["content"]
    assert PromptTask(PARTS["demo-label"], folder=here).attempts == saved["attempts"]  # read back


def test_an_unreachable_endpoint_says_so_and_keeps_the_text(here, monkeypatch):
    monkeypatch.setenv("ADOPTKIT_LLM_URL", "http://127.0.0.1:9/v1")  # nothing listens on the discard port
    import openai

    task = PromptTask(PARTS["demo-label"], folder=here,
                      client=openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", max_retries=0, timeout=2))
    task.write(GOOD)
    with pytest.raises(ConnectionError, match="Could not reach the course's model.*Your prompt is kept and saved"):
        task.run()
    assert json.loads(store.path_for("demo-label", here).read_text())["prompt"] == GOOD
    ui = task.widget()  # the button shows the same sentence, and the box still holds the text
    ui.children[3].children[0].click()
    assert "Could not reach" in task._ui["status"].value and task._ui["box"].value == GOOD


def _grade(fn, *args, **kw):
    """(points, printed feedback or the assertion's message)."""
    try:
        return fn(*args, **kw), None
    except AssertionError as err:
        return 0, str(err)


def test_prompt_grading_rubric_output_and_iteration(here, capsys):
    task = PromptTask(PARTS["demo-label"], folder=here, client=replay_client(["x"] * 4))
    task.write("Label these messages for me please, thanks.")
    task.run()
    task.write(GOOD)
    task.run()
    u = units("demo-label")
    assert grading.prompt("demo-label", u["demo-label-prompt"]["key"], ["labels", "format"], 2) == 2
    assert grading.prompt("demo-label", u["demo-label-output"]["key"], ["output"], 1) == 1  # offline model
    assert grading.prompt("demo-label", u["demo-label-iterate"]["key"], ["iterate"], 1) == 1
    assert "✓ Lists every label" in capsys.readouterr().out
    # the plausible wrong answers: no label set; a customer's email pasted in as an example
    task.write("Label each customer message. Answer with only the label, nothing else.")
    points, why = _grade(grading.prompt, "demo-label", u["demo-label-prompt"]["key"], ["labels", "format"], 2)
    assert points == 1  # the format point stays, the label point goes
    assert "missing: order problem" in capsys.readouterr().out
    points, why = _grade(grading.prompt, "demo-label", u["demo-label-output"]["key"], ["output"], 1)
    assert points == 0 and "usable replies for 0%" in why
    task.write(GOOD + " Example: 'From jo.bloggs@example.com: my order is broken' -> order problem")
    points, why = _grade(grading.prompt, "demo-label", u["demo-label-privacy"]["key"], ["privacy"], 1)
    assert points == 0 and "Leave personal data out of the prompt" in why
    task.write("Label it.")  # too short to grade on its properties
    points, why = _grade(grading.prompt, "demo-label", u["demo-label-privacy"]["key"], ["privacy"], 1)
    assert points == 0 and "too short" in why


def test_one_version_run_loses_the_iteration_point(here):
    task = PromptTask(PARTS["demo-label"], folder=here, client=replay_client(["x"] * 4))
    task.write(GOOD)
    task.run()
    task.run()  # the same prompt twice is one version
    points, why = _grade(grading.prompt, "demo-label", units("demo-label")["demo-label-iterate"]["key"], ["iterate"], 1)
    assert points == 0 and "run at least 2" in why


def test_check_work_scores_precision_and_recall_and_flag_everything_earns_nothing(here, capsys):
    u = units("demo-check")
    facts, privacy = u["demo-check-facts"], u["demo-check-privacy"]
    work = CheckWork(PARTS["demo-check"], folder=here)
    for sid, reason in (("s2", "number differs from the record"), ("s3", "claim not supported by the record"),
                        ("s4", "personal data that should not be there")):
        work.flag(sid, reason)
    assert grading.check("demo-check", facts["key"], ["s2", "s3"], 2) == 2
    assert grading.check("demo-check", privacy["key"], ["s4"], 1) == 1
    work.flag("s3", "number differs from the record")  # right sentence, wrong reason: half
    assert grading.check("demo-check", facts["key"], ["s2", "s3"], 2) == 1.5
    work.flag("s1", "claim not supported by the record")  # one sound sentence flagged: a third of each part
    assert grading.check("demo-check", privacy["key"], ["s4"], 1) == pytest.approx(0.67)
    assert "precision 75%" in capsys.readouterr().out
    for sid in work.ids:
        work.flag(sid, work.reasons[0])
    for unit, faults in ((facts, ["s2", "s3"]), (privacy, ["s4"])):
        points, why = _grade(grading.check, "demo-check", unit["key"], faults, unit["points"])
        assert points == 0 and "flagging sentences that are sound" in why
        assert "recall 100%" in why and "precision" in why, "a zero says what the flags were worth"


def test_decide_order_varies_per_learner_but_keys_stay(here):
    a = Decide(PARTS["demo-decide"], folder=here, learner="ana")
    orders = {tuple(Decide(PARTS["demo-decide"], folder=here, learner=name).order("paste"))
              for name in ("ana", "ben", "cy", "dee", "eve", "fox")}
    assert len(orders) > 1 and a.order("paste") == Decide(PARTS["demo-decide"], folder=here, learner="ana").order("paste")
    a.choose("paste", "b")
    a.choose("review", "c")
    u = units("demo-decide")
    assert grading.decide("demo-decide", "paste", u["demo-decide-paste"]["key"]) == 1
    points, why = _grade(grading.decide, "demo-decide", "review", u["demo-decide-review"]["key"])
    assert points == 0 and "By then the promise has been made" in why and "Only someone with the authority" in why
    with pytest.raises(ValueError, match="not an option"):
        a.choose("paste", "z")


@pytest.mark.parametrize("payload,expected", [
    (None, "No saved answer"),
    (b"{not json", "not a readable answer file"),
    (b"[1, 2, 3]", "does not hold an answer record"),
    (b'{"kind": "prompt", "prompt": 42}', "holds no prompt text"),
    (b'{"kind": "check", "marks": "everything"}', "holds no marks"),
    (b'{"kind": "decide", "answers": []}', "Item 1: not answered"),
    (b'{"kind": "prompt", "prompt": "' + b"x " * 300_000 + b'"}', "larger than"),
    (b'{"kind": "prompt", "prompt": "' + b"y" * 9_000 + b'"}', "more than the 8,000"),
    (b"\xff\xfe\x00garbage", "not a readable answer file"),
    (b"[" * 100_000 + b"]" * 100_000, "not a readable answer file"),
])
def test_hostile_answer_files_give_a_note_and_zero_for_that_part_only(here, payload, expected):
    head = (payload or b"")[:24]
    kind = "check" if b'"check"' in head else "decide" if b'"decide"' in head else "prompt"
    name = {"prompt": "demo-label", "check": "demo-check", "decide": "demo-decide"}[kind]
    if payload is not None:
        path = store.path_for(name, here)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(payload)
    calls = {"prompt": lambda: grading.prompt(name, units(name)["demo-label-prompt"]["key"], ["labels", "format"], 2),
             "check": lambda: grading.check(name, units(name)["demo-check-facts"]["key"], ["s2", "s3"], 2),
             "decide": lambda: grading.decide(name, "paste", units(name)["demo-decide-paste"]["key"])}
    points, why = _grade(calls[kind])
    assert points == 0 and expected in why
    # the other parts are untouched: a decide answer saved beside it still scores
    Decide(PARTS["demo-decide"], folder=here / "other", learner="x").choose("paste", "b")
    os.chdir(here / "other")
    assert grading.decide("demo-decide", "paste", units("demo-decide")["demo-decide-paste"]["key"]) == 1


def test_widgets_read_back_damaged_files_as_blank_with_a_note(here):
    path = store.path_for("demo-check", here)
    path.parent.mkdir()
    path.write_text('{"marks": {"s2": "no such reason", "zz": "x"}}')
    assert CheckWork(PARTS["demo-check"], folder=here).marks == {"s2": None}
    path.write_text("{oops")
    work = CheckWork(PARTS["demo-check"], folder=here)
    assert work.marks == {} and "not a readable answer file" in work.note
    assert "you start unmarked" in work.widget().children[0].value


def test_author_keeps_every_key_out_of_the_learner_copy_and_in_hidden_tests(tmp_path):
    outputs = author.build(DEMO, root=tmp_path)
    nb_path = tmp_path / "exercises" / "demo-nocode" / "demo-nocode.ipynb"
    learner = yaml.safe_load(outputs[tmp_path / "exercises" / "demo-nocode" / "tasks.yml"])
    text = json.dumps(learner)
    for secret in ("answer", "why", "fault", "rubric", "grades", "Only someone with the authority", "The record says 350"):
        assert secret not in text, secret
    nb = json.loads(outputs[nb_path])
    graded = [c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade"]]
    assert sum(c["metadata"]["nbgrader"]["points"] for c in graded) == 5 + 3 + 2
    for cell in graded:
        src = "".join(cell["source"])
        visible, hidden = src.split("### BEGIN HIDDEN TESTS")
        assert "KEY" not in visible and "KEY = " in hidden and "grading.answered(" in visible
        assert cell["metadata"]["adoptkit"]["competency"] in {"prompting", "privacy", "automation", "grounding", "evaluating"}
    # the learner file is what the widgets read
    (tmp_path / "t.yml").write_text(outputs[tmp_path / "exercises" / "demo-nocode" / "tasks.yml"])
    assert Decide.from_content(tmp_path / "t.yml", "demo-decide", folder=tmp_path).option_ids("paste") == ["a", "b", "c"]


def test_author_refuses_a_key_that_points_nowhere(tmp_path):
    bad = yaml.safe_load(DEMO.read_text())
    bad["parts"][2]["items"][0]["answer"] = "z"
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    with pytest.raises(content.ContentError, match="answer 'z' is not an option id"):
        author.build(tmp_path / "bad.yml", root=tmp_path)
    bad = yaml.safe_load(DEMO.read_text())
    bad["parts"][1]["grades"][1]["faults"] = []
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    with pytest.raises(content.ContentError, match="cover each planted fault exactly once"):
        author.build(tmp_path / "bad.yml", root=tmp_path)


def test_a_quoted_field_must_be_word_for_word_or_null():
    output = {"kind": "json", "keys": ["evidence", "shown"], "quotes": ["evidence"]}
    record = "Experience: 5 years.\nFixed login, printer and e-mail faults by phone and at people's desks."

    def quoted(reply):
        return next(c for c in content.check_output(output, json.dumps(reply), None, record) if "quoted" in c.name)

    assert quoted({"evidence": "Fixed login, printer and e-mail faults by phone and at people's desks.",
                   "shown": "yes"}).ok
    assert quoted({"evidence": "  Fixed login,\nprinter  and e-mail faults ", "shown": "yes"}).ok  # spacing aside
    assert quoted({"evidence": None, "shown": "no"}).ok and quoted({"evidence": "NONE", "shown": "no"}).ok
    made_up = quoted({"evidence": "Fixed every printer in the building.", "shown": "yes"})
    assert not made_up.ok and "not in the record as written" in made_up.detail, "an invented quote must fail"
    assert not quoted({"evidence": "fixed login, printer", "shown": "yes"}).ok, "a quote keeps the record's case"


def test_an_unanswered_part_fails_its_check_in_one_line_and_run_all_goes_on(here):
    with pytest.raises(grading.NotAnswered) as err:
        grading.answered("demo-check", "check")
    assert isinstance(err.value, AssertionError), "nbgrader and Validate must still see a failed check"
    assert err.value._render_traceback_() == [f"\x1b[0;31mNot answered yet:\x1b[0m {err.value}"]
    CheckWork(PARTS["demo-check"], folder=here).flag("s2", None)
    grading.answered("demo-check", "check")  # answered now: no error
    nb = json.loads(author.build(DEMO, root=here)[here / "exercises" / "demo-nocode" / "demo-nocode.ipynb"])
    tags = [c["metadata"].get("tags", []) for c in nb["cells"] if c["metadata"]["nbgrader"]["grade"]]
    assert tags and all("raises-exception" in t for t in tags), "Run All must go on past an unanswered part"

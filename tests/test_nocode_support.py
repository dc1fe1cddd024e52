"""The customer-support and leaders' tracks without code (issue 18's two paths), graded by real nbgrader with
the course's hardened config, in one module-scoped grading run (one release, one autograde over every learner of
both assignments; tests/test_nocode_leaders.py only lends the leaders' answers to the course-solutions check).

A knowledgeable non-coder's answers (written through the widgets' own API, as their clicks would be) get full
marks on `support-nocode` and `leaders-nocode`; plausible wrong answers lose exactly their parts: a triage prompt
without the queue list, flagging every sentence of a draft, a customer's name and email pasted into the prompt, a
drafting prompt that allows promises, prompts that do not ask for the source's words word for word, and always
clicking the first option shown.
"""

from __future__ import annotations

import pytest
from nbgrader_harness import nbgrader
from nocode_harness import grade_plan, lost_points, spec

pytestmark = pytest.mark.slow
NOCODE, LEADERS = "support-nocode", "leaders-nocode"
QUEUES = ", ".join(spec(NOCODE)["parts"][0]["output"]["labels"])
GOOD = {
    "triage": f"You triage customer complaints for a support desk. Classify the complaint into exactly one of these "
              f"queues: {QUEUES}. Answer with only the label, nothing else. If no queue fits or you are not sure, "
              f"answer needs review.",
    "reply-fields": "Return only a JSON object with the keys customer_quote and issue_summary. customer_quote is the "
                    "sentence of the complaint that states the problem, copied word for word. issue_summary is one "
                    "sentence. Use only what the complaint says: do not add facts or amounts, and make no promises.",
    "briefing": "Return only a JSON object with the keys decision_quote and summary. decision_quote is the sentence of "
                "the statement that says what the Committee decided, copied word for word. summary is one sentence. "
                "Use only what the statement says: do not add forecasts or facts of your own.",
}
VAGUE = "Please help me answer these customers."
NO_PROMISE_RULE = GOOD["reply-fields"].replace(", and make no promises", "")
PARAPHRASE = GOOD["reply-fields"].replace(", copied word for word", ", in your own words")
PARAPHRASE_BRIEFING = GOOD["briefing"].replace(", copied word for word", ", in plain words")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    plan = {NOCODE: {
        "expert": {},
        "nolabels": {"prompts": {"triage": [VAGUE, "Send the complaint to the right queue. Answer with only the label, "
                                                   "nothing else. If you are not sure, answer needs review."]}},
        "flagall": {"flags": "all"},
        "email": {"prompts": {"triage": [VAGUE, GOOD["triage"] + " Example: 'From Sam Rivera (sam.rivera@example.com): "
                                                                 "someone opened a card in my name' -> identity theft and fraud"]}},
        "promiser": {"prompts": {"reply-fields": [VAGUE, NO_PROMISE_RULE]}},
        "paraphraser": {"prompts": {"reply-fields": [VAGUE, PARAPHRASE]}},
        "first": {"choose": "first"},
    }, LEADERS: {
        "expert": {},
        "flagall": {"flags": "all"},
        "paraphraser": {"prompts": {"briefing": [VAGUE, PARAPHRASE_BRIEFING]}},
        "first": {"choose": "first"},
    }}
    # one release and one autograde for both assignments (the glob matches support-nocode and leaders-nocode only)
    return grade_plan(tmp_path_factory.mktemp("paths-nocode-course"), "[sl][ue][pa]*-nocode", plan, good=GOOD,
                      vague=VAGUE)


@pytest.mark.parametrize("name", [NOCODE, LEADERS])
def test_release_has_no_key_and_the_learner_copy_of_the_tasks(graded, name):
    assert sorted(graded.scores) == sorted([NOCODE, LEADERS])
    folder = graded.course / "_nbgrader" / "release" / name
    text = (folder / f"{name}.ipynb").read_text() + (folder / "tasks.yml").read_text()
    for secret in ("KEY =", "BEGIN HIDDEN", '"faults"', "why:", "answer:", "rubric", "fault:"):
        assert secret not in text, (name, secret)
    assert not (folder / "quiz-answers").exists()
    assert not (graded.course / "_nbgrader" / "release" / "sales-nocode").exists(), "the glob released another track"


def test_a_no_code_learner_gets_full_marks_and_wrong_answers_lose_their_parts(graded):
    assert graded.auto.returncode == 0, graded.auto.stderr[-3000:]
    s = graded.scores[NOCODE]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 23 and not full.needs_manual_grade, full.auto
    assert lost_points(s, "nolabels") == {"triage-labels": 0, "triage-output": 0}
    assert lost_points(s, "flagall") == {"check-reply-facts": 0, "check-reply-commitments": 0, "check-reply-privacy": 0}
    assert lost_points(s, "email") == {"triage-privacy": 0}
    assert lost_points(s, "promiser") == {"reply-fields-promises": 0}
    assert lost_points(s, "paraphraser") == {"reply-fields-grounded": 1}
    first = lost_points(s, "first")
    assert first and set(first) <= {f"handoffs-{i['id']}" for i in spec(NOCODE)["parts"][3]["items"]}, first
    assert s["first"].code_score <= 23 - 4, "always clicking the first option must lose most of the hand-off items"


def test_the_leaders_assignment_full_marks_and_wrong_answers_lose_their_parts(graded):
    s = graded.scores[LEADERS]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 15 and not full.needs_manual_grade, full.auto
    assert lost_points(s, "flagall") == {"check-briefing-facts": 0, "check-briefing-sources": 0}
    assert lost_points(s, "paraphraser") == {"briefing-grounded": 1}
    first = lost_points(s, "first")
    assert first and set(first) <= {f"sponsor-decisions-{i['id']}" for i in spec(LEADERS)["parts"][2]["items"]}, first


def test_feedback_explains_in_the_learners_words(graded):
    nbgrader(graded.course, "generate_feedback", NOCODE)
    page = (graded.course / "_nbgrader" / "feedback" / "promiser" / NOCODE / f"{NOCODE}.html").read_text()
    assert "Say that the fields make no promises" in page

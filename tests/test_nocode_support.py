"""The customer-support and leaders' tracks without code (issue 18's two paths), graded by real nbgrader with
the course's hardened config, in one module-scoped grading run (one release, one autograde over every learner of
both assignments; the knowledgeable learner's prompts are the content files' examples, which the
course-solutions check submits too).

A knowledgeable non-coder's answers (written through the widgets' own API, as their clicks would be) get full
marks on `support-nocode` and `leaders-nocode`; plausible wrong answers lose exactly their parts: a triage prompt
without the queue list, flagging every sentence of a draft, a customer's name and email pasted into the prompt, a
drafting prompt that allows promises, prompts that do not ask for the source's words word for word, and always
clicking the first option shown.
"""

from __future__ import annotations

import pytest
from nbgrader_harness import nbgrader
from nocode_harness import SECRETS, VAGUE, example, explanations, grade_cohort, lost, released_text, spec

pytestmark = pytest.mark.slow
NOCODE, LEADERS = "support-nocode", "leaders-nocode"
# The prompt a knowledgeable learner writes for each prompt part: its `example` in the content file; the wrong
# answers below are that prompt with one thing missing.
GOOD = {p["id"]: example(name, p["id"]) for name in (NOCODE, LEADERS) for p in spec(name)["parts"]
        if p["kind"] == "prompt"}
NO_PROMISE_RULE = GOOD["reply-fields"].replace(", and make no promises", "")
PARAPHRASE = GOOD["reply-fields"].replace(", copied word for word", ", in your own words")
PARAPHRASE_BRIEFING = GOOD["briefing"].replace(", copied word for word", ", in plain words")
assert GOOD["reply-fields"] not in (NO_PROMISE_RULE, PARAPHRASE) and PARAPHRASE_BRIEFING != GOOD["briefing"], \
    "the content files' examples changed wording: rewrite the wrong answers built from them"


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
    return grade_cohort(tmp_path_factory.mktemp("paths-nocode-course"), "[sl][ue][pa]*-nocode", plan)


@pytest.mark.parametrize("name", [NOCODE, LEADERS])
def test_release_has_no_key_and_the_learner_copy_of_the_tasks(graded, name):
    assert sorted(graded.scores) == sorted([NOCODE, LEADERS])
    folder = graded.course / "_nbgrader" / "release" / name
    text = released_text(graded.course, name)
    for secret in (*SECRETS, "fault:"):
        assert secret not in text, (name, secret)
    shown = [why for why in explanations(name) if why in text]
    assert not shown, f"the released {name} gives away explanations of its answers: {shown[:3]}"
    assert not (folder / "quiz-answers").exists()
    assert not (graded.course / "_nbgrader" / "release" / "sales-nocode").exists(), "the glob released another track"


def test_a_no_code_learner_gets_full_marks_and_wrong_answers_lose_their_parts(graded):
    assert graded.auto.returncode == 0, graded.auto.stderr[-3000:]
    s = graded.scores[NOCODE]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 23 and not full.needs_manual_grade, full.auto
    assert lost(s, "nolabels") == {"triage-labels": 0, "triage-output": 0}
    assert lost(s, "flagall") == {"check-reply-facts": 0, "check-reply-commitments": 0, "check-reply-privacy": 0}
    assert lost(s, "email") == {"triage-privacy": 0}
    assert lost(s, "promiser") == {"reply-fields-promises": 0}
    assert lost(s, "paraphraser") == {"reply-fields-grounded": 1}
    first = lost(s, "first")
    assert first and set(first) <= {f"handoffs-{i['id']}" for i in spec(NOCODE)["parts"][3]["items"]}, first
    assert s["first"].code_score <= 23 - 4, "always clicking the first option must lose most of the hand-off items"


def test_the_leaders_assignment_full_marks_and_wrong_answers_lose_their_parts(graded):
    s = graded.scores[LEADERS]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 15 and not full.needs_manual_grade, full.auto
    assert lost(s, "flagall") == {"check-briefing-facts": 0, "check-briefing-sources": 0}
    assert lost(s, "paraphraser") == {"briefing-grounded": 1}
    first = lost(s, "first")
    assert first and set(first) <= {f"sponsor-decisions-{i['id']}" for i in spec(LEADERS)["parts"][2]["items"]}, first


def test_feedback_explains_in_the_learners_words(graded):
    nbgrader(graded.course, "generate_feedback", NOCODE)
    page = (graded.course / "_nbgrader" / "feedback" / "promiser" / NOCODE / f"{NOCODE}.html").read_text()
    assert "Say that the fields make no promises" in page

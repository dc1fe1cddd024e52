"""The sales track without code, graded by real nbgrader with the course's hardened config.

A knowledgeable non-coder's answers (written through the widgets' own API, as their clicks would be) get full
marks on the no-code assignment; three plausible wrong answers lose exactly their parts (a prompt without the
label set, flagging every sentence, a customer's email pasted into the prompt). On the rebuilt assessments the
same learner reaches level 3+ in every competency in the competency report, and two guessers (always the first
option shown, always the longest) stay at level 1 or below.
"""

from __future__ import annotations

import pytest
from nbgrader_harness import nbgrader
from nocode_harness import SECRETS, VAGUE, assert_levels, example, explanations, grade_cohort, lost, released_text

pytestmark = pytest.mark.slow
NOCODE, PRE, POST = "sales-nocode", "sales-assessment-pre", "sales-assessment-post"
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    plan = {
        NOCODE: {"expert": {}, "nolabels": {"prompts": {"label-complaints": [
                     VAGUE, "File the complaint under one product. Answer with only the label, nothing else. If you are "
                            "not sure, answer needs review."]}},
                 "flagall": {"flags": "all"},
                 "email": {"prompts": {"label-complaints": [VAGUE, example(NOCODE, "label-complaints") + " Example: "
                           "'From Jordan Avery (jordan.avery@example.com): the collector rang me four times' -> Debt "
                           "collection"]}}},
        PRE: {"expert": {}, "first": {"prompts": {"pre-label": [VAGUE]}, "flags": "all", "choose": "first"},
              "longest": {"prompts": {"pre-label": [VAGUE]}, "flags": "half", "choose": "longest"}},
        POST: {"expert": {}, "first": {"prompts": {"post-fields": [VAGUE]}, "flags": "all", "choose": "first"},
               "longest": {"prompts": {"post-fields": [VAGUE]}, "flags": "half", "choose": "longest"}},
    }
    return grade_cohort(tmp_path_factory.mktemp("sales-nocode-course"), "sales-[an]*", plan)


def test_release_has_no_key_and_the_learner_copy_of_the_tasks(graded):
    for name in (NOCODE, PRE, POST):
        text = released_text(graded.course, name)
        for secret in SECRETS:
            assert secret not in text, f"the released {name} shows part of its answer key ({secret!r})"
        shown = [why for why in explanations(name) if why in text]
        assert not shown, f"the released {name} gives away explanations of its answers: {shown[:3]}"
        assert not (graded.course / "_nbgrader" / "release" / name / "quiz-answers").exists(), \
            f"the released {name} comes with answers already saved"


def test_a_no_code_learner_gets_full_marks_and_wrong_answers_lose_their_parts(graded):
    assert graded.auto.returncode == 0, f"grading stopped: {graded.auto.stderr[-3000:]}"
    s = graded.scores[NOCODE]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 23 and not full.needs_manual_grade, \
        f"a learner who answered everything right, without code, got {full.code_score} of {full.max_code_score}: " \
        f"{full.auto}"
    assert lost(s, "nolabels") == {"label-complaints-labels": 0, "label-complaints-output": 0}, \
        "a prompt without the picklist should lose the labels point and the output point, and nothing else"
    assert lost(s, "flagall") == {"check-note-facts": 0, "check-note-sources": 0, "check-note-privacy": 0}, \
        "flagging every sentence of the note should earn nothing on the note, and cost nothing else"
    assert lost(s, "email") == {"label-complaints-privacy": 0}, \
        "pasting a customer's name and email address into the prompt should lose the privacy point, and only that"


def test_feedback_explains_in_the_learners_words(graded):
    nbgrader(graded.course, "generate_feedback", NOCODE)
    page = (graded.course / "_nbgrader" / "feedback" / "flagall" / NOCODE / f"{NOCODE}.html").read_text()
    assert "flagging sentences that are sound costs as much as finding faults earns" in page, \
        "the feedback should say why flagging everything earns nothing"
    assert "precision 50%" in page, "the feedback should give the precision of the flags (5 faults among 10)"


def test_competency_levels_knowledgeable_non_coder_and_guessers(graded):
    for name in (PRE, POST):
        expert = graded.scores[name]["expert"]
        assert expert.code_score == 24, f"a learner who answered everything right got {expert.code_score} of 24 " \
                                        f"on {name}: {expert.auto}"
    assert_levels(graded.course)

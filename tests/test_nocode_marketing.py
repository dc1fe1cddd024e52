"""The marketing track without code, graded by real nbgrader with the course's hardened config.

A knowledgeable non-coder's answers (written through the widgets' own API, as their clicks would be) get full
marks on `marketing-nocode`; three plausible wrong answers lose exactly their parts (product copy without the
fact-sheet constraint, flagging every sentence of the campaign email, a customer's email pasted into the
prompt). On the rebuilt assessments the same learner reaches level 3+ in every competency of the competency
report, and two guessers (always the first option shown, always the longest) stay at level 1 or below.

The fact sheets, product descriptions and campaign figures the content files quote are recomputed here from
the real data (the chapters' rules), so a content file can never drift from the data it cites.
"""

from __future__ import annotations

import json
import re

import pytest
from nbgrader_harness import ROOT, nbgrader, run_cell, source
from nocode_harness import SECRETS, VAGUE, assert_levels, example, explanations, grade_cohort, lost, released_text, spec

NOCODE, PRE, POST = "marketing-nocode", "marketing-assessment-pre", "marketing-assessment-post"
# Plausible wrong answers on the no-code assignment, each a real attempt at the task:
NO_FACT_SHEET = ("You write product copy for our online gift shop. Make it warm and appealing. If a detail such as "
                 "the material or the size is missing, leave it out. Return only a JSON object with the keys headline "
                 "and description.")
CUSTOMER_EMAIL = (example(NOCODE, "product-copy") + " For the tone, a customer wrote: 'From Alex Morgan "
                  "(alex.morgan@example.com): I bought six of these hearts for my sister's wedding and every guest "
                  "asked where they came from.'")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    guessers = {"first": {"flags": "all", "choose": "first"}, "longest": {"flags": "half", "choose": "longest"}}
    plan = {
        NOCODE: {"expert": {}, "nofacts": {"prompts": {"product-copy": [VAGUE, NO_FACT_SHEET]}},
                 "flagall": {"flags": "all"}, "email": {"prompts": {"product-copy": [VAGUE, CUSTOMER_EMAIL]}}},
        PRE: {"expert": {}, **{g: {"prompts": {"pre-pages": [VAGUE]}, **how} for g, how in guessers.items()}},
        POST: {"expert": {}, **{g: {"prompts": {"post-copy": [VAGUE]}, **how} for g, how in guessers.items()}},
    }
    return grade_cohort(tmp_path_factory.mktemp("marketing-nocode-course"), "marketing-[an]*", plan)


@pytest.mark.slow
def test_what_a_learner_receives_holds_no_answer_key(graded):
    for name in (NOCODE, PRE, POST):
        text = released_text(graded.course, name)
        for secret in SECRETS:
            assert secret not in text, f"the released {name} shows part of its answer key ({secret!r})"
        shown = [why for why in explanations(name) if why in text]
        assert not shown, f"the released {name} gives away explanations of its answers: {shown[:3]}"
        assert not (graded.course / "_nbgrader" / "release" / name / "quiz-answers").exists(), \
            f"the released {name} comes with answers already saved"


@pytest.mark.slow
def test_a_no_code_learner_gets_full_marks_and_wrong_answers_lose_their_parts(graded):
    assert graded.auto.returncode == 0, f"grading stopped: {graded.auto.stderr[-3000:]}"
    s = graded.scores[NOCODE]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 22 and not full.needs_manual_grade, \
        f"a learner who answered everything right, without code, got {full.code_score} of {full.max_code_score}: " \
        f"{full.auto}"
    assert lost(s, "nofacts") == {"product-copy-facts": 0}, \
        "copy asked for without 'only the facts on the fact sheet' should lose that point, and only that point"
    assert lost(s, "flagall") == {"check-email-facts": 0, "check-email-sources": 0, "check-email-privacy": 0}, \
        "flagging every sentence of the campaign email should earn nothing on the email, and cost nothing else"
    assert lost(s, "email") == {"product-copy-privacy": 0}, \
        "pasting a customer's name and email address into the prompt should lose the privacy point, and only that"


@pytest.mark.slow
def test_feedback_tells_the_learner_what_was_missing(graded):
    nbgrader(graded.course, "generate_feedback", NOCODE)
    feedback = graded.course / "_nbgrader" / "feedback"
    facts = (feedback / "nofacts" / NOCODE / f"{NOCODE}.html").read_text()
    assert "Say that the copy may use only the facts on the fact sheet" in facts, \
        "the feedback should say what the prompt lacked, in the learner's words"
    email = (feedback / "email" / NOCODE / f"{NOCODE}.html").read_text()
    assert "Leave the customer&#39;s name and email address out of your prompt" in email or \
        "Leave the customer's name and email address out of your prompt" in email, \
        "the feedback should say to leave the customer's details out"
    assert email.count("alex.morgan@example.com") == 1, \
        "the feedback should not repeat the customer's email address (it appears once, in the task's made-up example)"
    flagged = (feedback / "flagall" / NOCODE / f"{NOCODE}.html").read_text()
    assert "precision 50%" in flagged, "the feedback should give the precision of the flags (5 faults among 10)"


@pytest.mark.slow
def test_competency_levels_knowledgeable_non_coder_and_guessers(graded):
    for name in (PRE, POST):
        expert = graded.scores[name]["expert"]
        assert expert.code_score == expert.max_code_score == 24, \
            f"a learner who answered everything right got {expert.code_score} of 24 on {name}: {expert.auto}"
    assert_levels(graded.course)


# --- the content files quote the data exactly -------------------------------------------------------------

def fact_sheets() -> tuple[dict[str, str], str]:
    """Each product's fact sheet, by the product-copy chapter's rules: sold product lines only, the most common
    spelling, and the most common price (the lowest of equally common ones)."""
    from adoptkit.data import load

    retail = load("online_retail")
    sold = (retail["StockCode"].str.match(r"^\d{5}") & ~retail["InvoiceNo"].str.startswith("C")
            & (retail["Quantity"] > 0) & (retail["UnitPrice"] > 0) & retail["Description"].notna())
    facts = (retail[sold].assign(Description=lambda df: df["Description"].str.strip()).groupby("StockCode")
             .agg(description=("Description", lambda d: d.mode().iloc[0]),
                  price=("UnitPrice", lambda p: p.mode().min())))
    return {code: f"Product: {row.description}\nPrice: £{row.price:.2f} each\nStock code: {code}"
            for code, row in facts.iterrows()}, retail.attrs["citation"]


SEGMENTS = {"poutcome": "customers whose outcome in the previous campaign was {value}",
            "job": "customers whose job is recorded as {value}"}


def campaign_results(column: str, value: str) -> str:
    """A segment's results, by the campaign-segments chapter's method (Wilson's 95% interval, lift)."""
    from statsmodels.stats.proportion import proportion_confint

    from adoptkit.data import load

    bank = load("bank_marketing")
    yes = bank["y"] == "yes"
    part = yes[bank[column].astype(str) == value]
    low, high = proportion_confint(int(part.sum()), len(part), alpha=0.05, method="wilson")
    return (f"Campaign results (computed by the course from the data below, with the campaign-segments chapter's "
            f"method):\n- Customers called: {len(bank):,}; subscribed to the term deposit: {int(yes.sum()):,} "
            f"({yes.mean():.1%}).\n- Segment: {SEGMENTS[column].format(value=value)}. Customers: {len(part):,}; "
            f"subscribed: {int(part.sum()):,} ({part.mean():.1%}); 95% interval {low:.1%} to {high:.1%}; "
            f"{part.mean() / yes.mean():.1f} times the overall rate.\n- The offer: a fixed-term deposit account. Its "
            f"interest rate is not yet approved, so no rate may be quoted.\n{bank.attrs['citation']}\n")


def test_fact_sheets_and_descriptions_are_the_shops_own_data():
    sheets, citation = fact_sheets()
    checked = 0
    for name in (NOCODE, PRE, POST):
        for part in spec(name)["parts"]:
            sample = part.get("sample", {})
            if "records" not in sample:
                continue
            assert citation in " ".join(sample["source"].split()), f"{name}/{part['id']}: the sample must cite its data"
            for rec in sample["records"]:
                code = str(rec["id"])
                want = sheets[code] if rec["text"].startswith("Product: ") else sheets[code].split("\n")[0][9:]
                assert rec["text"] == want, f"{name}/{part['id']}: product {code} is not as the shop's data has it"
                checked += 1
    assert checked == 4 + 6 + 6 + 4, f"expected the 20 products of the three files, checked {checked}"


def test_campaign_figures_are_computed_from_the_data():
    segment = {(NOCODE, "check-email"): ("poutcome", "success"), (POST, "post-email"): ("job", "retired")}
    found = {(name, p["id"]): p["evidence"]["text"] for name in (NOCODE, PRE, POST) for p in spec(name)["parts"]
             if p["kind"] == "check" and str(p.get("evidence", {}).get("text", "")).startswith("Campaign results")}
    assert set(found) == set(segment), f"every campaign's figures must be recomputed here: {sorted(found)}"
    for where, (column, value) in segment.items():
        assert found[where] == campaign_results(column, value), f"{where}: the figures differ from the bank's data"


@pytest.mark.parametrize("role", ["marketing", "sales"])
def test_path_page_says_the_graded_work_needs_no_code_and_how_long_it_takes(role):
    text = (ROOT / "book" / "roles" / role / "index.md").read_text()
    flat = " ".join(text.split())
    for name in (f"{role}-nocode", f"{role}-assessment-pre", f"{role}-assessment-post"):
        assert f"`{name}` (source: `exercises/{name}/`)" in flat and (ROOT / "exercises" / name).is_dir(), \
            f"the {role} path page should name {name}, the graded work a learner does without code"
    assert "**without writing code**" in text, f"the {role} path page should say the graded work needs no code"
    assert re.search(r"^## Optional|\(optional, in code\)", text, re.M), \
        f"the {role} path page should say which parts are optional code"
    assert re.search(r"about \w+ minutes for the graded assignment", flat), \
        f"the {role} path page should say how long the graded assignment takes"


def test_the_timed_task_is_counterbalanced_on_matched_promotion_complaints(tmp_path, monkeypatch):
    """The post-check's timed task (adoptkit.measure.timing.TimedTask), run as a learner runs its cells: four runs,
    two with the model (a prompt box) and two by hand, on real complaints about promotions in pairs of about the
    same length; learners get both orders."""
    from adoptkit.data import load
    from adoptkit.measure import timing

    cells = {c.id: c.source for c in source(POST).cells}
    monkeypatch.chdir(tmp_path)
    orders = set()
    for learner in ("ana", "ben", "cy", "dee", "eve", "fay"):
        monkeypatch.setenv("JUPYTERHUB_USER", learner)
        folder = tmp_path / learner
        folder.mkdir()
        monkeypatch.chdir(folder)
        ns: dict = {}
        run_cell(cells["timed-plan"], ns)
        for n in range(1, 5):
            run_cell(cells[f"timed-start{n}"], ns)
            run = ns[f"run{n}"]
            assert (ns["helper"](run) is not None) == run.with_ai, \
                f"run {n} should show the prompt box only when it is done with the model"
            run_cell(cells[f"timed-stop{n}"], ns)
        saved = json.loads((folder / "timings" / "summary.json").read_text())
        modes = sorted(r["mode"] for r in saved["runs"].values())
        assert modes == ["with_ai", "with_ai", "without_ai", "without_ai"], \
            f"{learner} should do two runs with the model and two by hand, not {modes}"
        assert all("seconds" in r for r in saved["runs"].values()), f"every run of {learner} should be timed"
        orders.add(saved["design"]["order"])
    assert orders == {timing.AI_FIRST, timing.HAND_FIRST}, f"learners should get both orders, not only {orders}"
    complaints = load("cfpb_complaints")
    promotions = complaints[complaints["Issue"].astype(str).str.contains("advertising", case=False)]
    shown = {t for pair in ns["task"].pairs for t in pair}
    assert shown <= set(promotions["Consumer complaint narrative"].dropna()), \
        "the runs should use real complaints about promotions"
    checked_before = complaints.loc[complaints["Complaint ID"] == 3168730, "Consumer complaint narrative"].iloc[0]
    assert checked_before not in shown, "the complaint the learner checked before the course should not come back"

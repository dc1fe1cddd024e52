"""The grading library the hidden tests of the no-code parts call.

A grade cell's hidden part holds the answer key (never the learner's copy) and ends with one call:

    from adoptkit.widgets import grading
    grading.prompt("label-complaints", KEY, criteria=["labels", "format"], points=2)
    grading.check("check-summary", KEY, faults=["s3", "s5"], points=2)
    grading.decide("privacy-triage", "paste-email", KEY, points=1)
    grading.choice(quiz.answers[0], KEY, question=1)                # a Quiz question, with the why of each option

Each returns the points earned (nbgrader's partial credit: the cell's value), prints what was right and what
was not in the learner's words (nbgrader's feedback shows it), and raises AssertionError with the reason when
nothing was earned. The saved answer file is hostile input: missing, damaged, huge or of the wrong shape, it
gives a clear note and zero for that part only, never an exception that could cost another part.
Nothing here writes to stderr (nbgrader gives zero to a cell that does), and no live model is ever called:
outputs are judged on the deterministic offline model.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from . import content, store

MIN_WORDS = 6  # a prompt shorter than this is not graded on its properties (an empty box earns nothing)
_CARD = re.compile(r"\b(?:\d{4}[ -]?){3}\d{4}\b")


class NotGraded(Exception):
    """The answer cannot be graded (missing or damaged): the message is for the learner."""


def _round(x: float, points: float) -> float:
    return round(min(max(float(x), 0.0), float(points)), 2)


FEEDBACK = {"adoptkit": {"feedback": True}}  # the mark adoptkit.grading.feedback keeps in a learner's feedback


def _tell(lines: list[str]) -> None:
    """What the learner reads in their feedback. nbgrader's feedback (adoptkit.grading.feedback) drops what a
    hidden check prints, but keeps an output marked FEEDBACK: this library's explanations are written for the
    learner. Outside a kernel (tests, a script) they are printed."""
    text = "\n".join(lines)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": text}, raw=True, metadata=FEEDBACK)
    else:
        print(text)


def _finish(earned: float, points: float, lines: list[str], why_zero: str) -> float:
    earned = _round(earned, points)
    if earned <= 0:
        _tell(lines)
        raise AssertionError(why_zero)
    _tell([*lines, f"{earned:g} of {points:g} point(s)."])
    return earned


def _saved(part_id: str, kind: str) -> dict:
    data, note = store.load(part_id)
    if note:
        raise NotGraded(f"Your answer file for this part could not be used: {note}. This part scores 0; the other "
                        f"parts are graded as usual.")
    if data is None:
        raise NotGraded(f"No saved answer for '{part_id}': do this part in its box above (your work is saved as you "
                        f"go, in the quiz-answers folder), and submit that folder with the notebook.")
    if data.get("kind", kind) != kind:
        raise NotGraded(f"The answer file for '{part_id}' holds a {str(data.get('kind'))[:20]!r} answer, not a "
                        f"{kind} answer. This part scores 0.")
    return data


class NotAnswered(AssertionError):
    """A part not answered yet. The cell fails (nbgrader's Validate lists it, and it scores 0), but the notebook
    shows one line in the learner's words instead of a traceback through this library."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this in place of the traceback
        return [f"\x1b[0;31mNot answered yet:\x1b[0m {self}"]


def answered(part_id: str, kind: str) -> None:
    """The visible check: something was saved for this part (the learner's words say what to do)."""
    try:
        data = _saved(part_id, kind)
    except NotGraded as err:
        raise NotAnswered(str(err)) from None
    empty = {"prompt": lambda d: not str(d.get("prompt") or "").strip(),
             "check": lambda d: not d.get("marks"),
             "decide": lambda d: not d.get("answers")}[kind]
    if empty(data):
        raise NotAnswered(f"'{part_id}' is still blank: do it in the box above, then run this cell again.")
    print(f"'{part_id}' answered; it is graded when you submit.")


# --- prompt tasks -----------------------------------------------------------------------------------------

def _text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).casefold()


def personal_data(prompt: str, also: list[str] = ()) -> list[str]:
    """What in the prompt looks like personal data: email addresses, phone and card numbers, listed names."""
    from ..llm.offline import PATTERNS

    found = [m for kind in ("email", "phone") for m in PATTERNS[kind].findall(prompt)]
    found += _CARD.findall(prompt)
    found += [a for a in also if _text(a) in _text(prompt)]
    return found


def _criterion(rule: dict, prompt: str) -> tuple[bool, str]:
    text = _text(prompt)
    kind = rule.get("check")
    items = [str(i) for i in rule.get("items", [])]
    if kind == "includes_all":
        missing = [i for i in items if _text(i) not in text]
        return not missing, f"missing: {', '.join(missing[:6])}" if missing else ""
    if kind == "includes_any":
        return any(_text(i) in text for i in items), ""
    if kind == "includes_min":
        n = sum(_text(i) in text for i in items)
        need = int(rule.get("min", len(items)))
        return n >= need, f"{n} of the {need} needed"
    if kind == "no_personal_data":
        found = personal_data(prompt, rule.get("also", []))
        return not found, f"found {len(found)} item(s) of personal data" if found else ""
    raise ValueError(f"rubric rule {rule.get('id')!r}: unknown check {kind!r}")


def _prompt_answer(part_id: str) -> tuple[str, list[dict]]:
    data = _saved(part_id, "prompt")
    prompt = data.get("prompt")
    if not isinstance(prompt, str):
        raise NotGraded(f"The answer file for '{part_id}' holds no prompt text. This part scores 0.")
    if len(prompt) > content.MAX_PROMPT_CHARS:
        raise NotGraded(f"Your prompt has {len(prompt):,} characters, more than the {content.MAX_PROMPT_CHARS:,} "
                        f"allowed (it usually means data was pasted in). This part scores 0.")
    attempts = data.get("attempts")
    attempts = [a for a in attempts[-500:] if isinstance(a, dict) and isinstance(a.get("prompt"), str)] \
        if isinstance(attempts, list) else []
    return prompt, attempts


def _output_share(prompt: str, key: dict) -> tuple[float, list[str]]:
    from ..llm import offline

    recs, _ = content.records(key["sample"], "the grading sample")
    ok = 0
    lines = []
    for rec in recs:
        reply = offline.answer(content.messages(prompt, rec.text))
        checks = content.check_output(key["output"], reply, rec.expected, rec.text)
        good = content.usable(checks)
        ok += good
        failed = "; ".join(c.name + (f" ({c.detail})" if c.detail else "") for c in checks if c.counts and not c.ok)
        lines.append(f"  record {rec.id}: {'usable' if good else 'not usable: ' + failed}")
    return (ok / len(recs) if recs else 0.0), lines


def prompt(part_id: str, key: dict, criteria: list[str], points: float) -> float:
    """Points for the final prompt's properties (rubric ids), its output (`output`) and iterating (`iterate`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            text, attempts = _prompt_answer(part_id)
        except NotGraded as err:
            raise AssertionError(str(err)) from None
        rules = {r["id"]: r for r in key.get("rubric", [])}
        words = len(text.split())
        short = words < key.get("min_words", MIN_WORDS)
        each = points / len(criteria)
        earned, lines = 0.0, []
        for name in criteria:
            if short:
                lines.append(f"✗ Your prompt has {words} word(s): too short to do the task, so it is not graded.")
                break
            if name == "output":
                try:
                    share, detail = _output_share(text, key)
                except content.ContentError as err:
                    lines.append(f"✗ The sample could not be loaded to run your prompt ({err}); tell your instructor.")
                    continue
                earned += each * share
                lines.append(f"{'✓' if share == 1 else '✗'} Your final prompt, run on the course's offline model, "
                             f"gave usable replies for {share:.0%} of the sample:")
                lines += detail
            elif name == "iterate":
                distinct = list(dict.fromkeys(a["prompt"].strip() for a in attempts))
                need = int(key.get("min_attempts", 2))
                if len(distinct) >= need:
                    earned += each
                    lines.append(f"✓ You ran {len(distinct)} different versions of your prompt: checking the replies "
                                 f"and revising is the skill.")
                else:
                    lines.append(f"✗ You ran {len(distinct)} version(s) of your prompt; run at least {need}: read the "
                                 f"replies and the failed checks, revise, and run again.")
            else:
                rule = rules[name]
                ok, detail = _criterion(rule, text)
                if ok and rule.get("check") == "no_personal_data":
                    # Leaving data out is shown only by a real attempt at the task: a vague prompt holds no personal
                    # data either. It must meet at least one of the task's other properties.
                    others = [r for r in rules.values() if r.get("check") != "no_personal_data"]
                    if others and not any(_criterion(r, text)[0] for r in others):
                        ok, detail = False, "your prompt does not attempt the task yet (none of its other checks is met)"
                if ok:
                    earned += each
                    lines.append(f"✓ {rule.get('title', name)}")
                else:
                    lines.append(f"✗ {rule.get('hint', name)}" + (f" ({detail})" if detail else "")
                                 + (f". Without it: {rule['failure']}" if rule.get("failure") else ""))
        return _finish(earned, points, lines, "This part earns no points: " + " ".join(
            line.lstrip("✗ ") for line in lines if line.startswith("✗"))[:1500])


# --- check the model's work -------------------------------------------------------------------------------

def _marks(part_id: str) -> dict[str, Any]:
    data = _saved(part_id, "check")
    marks = data.get("marks")
    if not isinstance(marks, dict):
        raise NotGraded(f"The answer file for '{part_id}' holds no marks. This part scores 0.")
    return {str(k)[:100]: (v if isinstance(v, str) else None) for k, v in list(marks.items())[:1000]}


def check(part_id: str, key: dict, faults: list[str], points: float) -> float:
    """Points for finding the planted faults `faults` (a subset of key['faults']), with flags on sound sentences
    taking points off: each planted fault flagged earns its share (half with the wrong reason); each sentence
    flagged that is fine costs 1/(number of sound sentences) of the part. Flagging everything earns nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            marks = _marks(part_id)
        except NotGraded as err:
            raise AssertionError(str(err)) from None
        planted = key["faults"]
        sentences = [str(s) for s in key["sentences"]]
        flagged = [s for s in marks if s in sentences]
        sound = [s for s in sentences if s not in planted]
        false_flags = [s for s in flagged if s not in planted]
        lines, hits = [], 0.0
        for sid in faults:
            why = key.get("why", {}).get(sid, "")
            if sid not in marks:
                lines.append(f"✗ You did not flag sentence {sid}: {why}")
            elif marks[sid] == planted[sid]:
                hits += 1
                lines.append(f"✓ Sentence {sid}: {planted[sid]}.")
            else:
                hits += 0.5
                lines.append(f"½ Sentence {sid} is faulty, but not for the reason you picked ({marks[sid] or 'none'}): "
                             f"it is {planted[sid]}. {why}")
        true_flags = [s for s in flagged if s in planted]
        precision = len(true_flags) / len(flagged) if flagged else 0.0
        recall = len(true_flags) / len(planted) if planted else 0.0
        for sid in false_flags:
            lines.append(f"✗ Sentence {sid} is sound: flagging it costs points. {key.get('why', {}).get(sid, '')}".rstrip())
        summary = (f"Over the whole draft you flagged {len(flagged)} sentence(s): {len(true_flags)} of the "
                   f"{len(planted)} planted faults (recall {recall:.0%}); {len(true_flags)} of your {len(flagged)} "
                   f"flags were faults (precision {precision:.0%}).")
        lines.append(summary)
        share = hits / len(faults) - (len(false_flags) / len(sound) if sound else 0.0)
        # The reason for a zero carries the summary: a grader that shows a failed check's message only still
        # tells the learner what their flags were worth.
        return _finish(points * share, points, lines, "This part earns no points: "
                       + ("flagging sentences that are sound costs as much as finding faults earns. "
                          if false_flags else "find the planted faults of the draft. ") + summary)


# --- scenario items and quiz questions ---------------------------------------------------------------------

def _explain(chosen: str | None, best: str, why: dict, text: dict, label: str) -> tuple[bool, list[str]]:
    def show(o):
        return f"'{text.get(o, o)}'"

    if chosen is None:
        return False, [f"✗ {label}: not answered. The best answer: {show(best)}: {why.get(best, '')}"]
    if chosen == best:
        return True, [f"✓ {label}: {show(best)}: {why.get(best, '')}"]
    return False, [f"✗ {label}: you chose {show(chosen)}: {why.get(chosen, 'not the best answer.')}",
                   f"  The best answer: {show(best)}: {why.get(best, '')}"]


def decide(part_id: str, item_id: str, key: dict, points: float = 1) -> float:
    """Points for one scenario item; key = {answer, why: {option: line}, text: {option: text}}."""
    try:
        data = _saved(part_id, "decide")
    except NotGraded as err:
        raise AssertionError(str(err)) from None
    answers = data.get("answers")
    chosen = answers.get(item_id) if isinstance(answers, dict) else None
    if chosen is not None and chosen not in key["text"]:
        chosen = None  # an option id that does not exist counts as unanswered
    ok, lines = _explain(chosen, key["answer"], key.get("why", {}), key.get("text", {}), key.get("label", item_id))
    return _finish(points if ok else 0.0, points, lines, " ".join(x.strip("✗ ") for x in lines))


def choice(chosen: Any, key: dict, question: int | str, points: float = 1) -> float:
    """Points for a Quiz question (answers are the option texts); key = {answer, why: {option text: line}}."""
    chosen = chosen if isinstance(chosen, str) and chosen in key.get("why", {}) else None
    ok, lines = _explain(chosen, key["answer"], key.get("why", {}), {}, f"Question {question}")
    return _finish(points if ok else 0.0, points, lines, " ".join(x.strip("✗ ") for x in lines))

"""The item bank of the pre- and post-assessments, and the generator of their nbgrader source notebooks.

One place for the notebooks of the roles that assess with code (engineering: `exercises/<role>-assessment-pre|post/`;
sales, marketing and HR have no code at all: their assessments come from `content/<role>-assessment-*.yml`,
docs/no-code.md), as otter-grader keeps question, solution and tests together: edit the bank here, then run

    python autograders/assessments.py          # rewrites exercises/<role>-assessment-*/ (outputs stripped)

A test checks the committed notebooks match this bank. Every autograded cell carries
`metadata.adoptkit.competency` (the competency model in settings.py / _config.yml), which is how the
competency report turns nbgrader points into levels; markdown cells carry `metadata.adoptkit.card`
(spaced-repetition review cards). Each competency is worth 4 points per notebook (one point of Part A,
done without code, and three checks of a code task), so a learner's share of points maps onto levels 0-4.
"""

from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
# Roles that assess with code: Part A is done without code (a prompt, a check of a draft, scenario items in the
# no-code widgets, from content/<role>-assessment-<form>.yml: the same AI skills as the no-code roles), Part B in
# code (below). Sales, marketing and HR have no code at all: content/<role>-assessment-*.yml only.
ROLES = ("engineering",)
FORMS = ("pre", "post")
COMPETENCIES = ("prompting", "grounding", "evaluating", "privacy", "automation", "coding")


def d(s: str) -> str:
    return textwrap.dedent(s).strip("\n")


# --- role context ----------------------------------------------------------------------------------

CONTEXT = {
    "engineering": dict(
        title="Engineering", dataset="cfpb_complaints",
        labels=["bug", "feature request", "question", "security issue"],
        keys=["component", "version", "severity"],
        texts=["The export button returns a 500 error since release 2.4.1 when the report has no rows.",
               "Could the API accept ISO dates in the filter parameter as well as timestamps?"],
        record="cfpb_complaints",
    ),
}

# --- tasks: (prompt, solution, [check1 visible, check2 hidden, check3 hidden], card) ------------------


def prompting(role: str, form: str):
    if form == "pre":
        prompt = """
        **Prompting (3 points).** Write `triage_messages(text)` returning the chat messages that ask the
        model to classify `text` into one of `LABELS`. It must return a list of `{"role", "content"}` dicts:
        a `system` message first and a `user` message last; the prompt must list every label, ask for
        **exactly one** label and **only** the label, and put the text inside triple backticks.
        One check is below; two more are hidden and run when your work is graded."""
        solution = '''
        def triage_messages(text):
            ### BEGIN SOLUTION
            labels = ", ".join(LABELS)
            return [
                {"role": "system", "content": "You sort incoming messages for the team."},
                {"role": "user", "content": f"Classify the text into exactly one of these labels: {labels}.\\n"
                                            f"Answer with only the label.\\n```\\n{text}\\n```"},
            ]
            ### END SOLUTION'''
        checks = [
            '''
            m = triage_messages(TEXTS[0])
            assert isinstance(m, list) and all(isinstance(x, dict) and {"role", "content"} <= set(x) for x in m), \\
                "return a list of {'role': ..., 'content': ...} dicts"
            assert m[0]["role"] == "system" and m[-1]["role"] == "user", "system message first, user message last"''',
            '''
            m = triage_messages("Some other message, not one of the examples.")
            text = " ".join(x["content"] for x in m)
            assert all(label in text for label in LABELS), "name every label"
            assert "```\\nSome other message, not one of the examples.\\n```" in text or \\
                "```Some other message, not one of the examples.```" in text, "fence the text in triple backticks"''',
            '''
            text = " ".join(x["content"] for x in triage_messages(TEXTS[1])).lower()
            assert "only" in text and ("exactly one" in text or "one label" in text or "one of" in text), \\
                "ask for exactly one label and only the label (say 'only' and 'exactly one')"''',
        ]
        card = ("What three things make a classification prompt easy to use in code?",
                "List the allowed labels, ask for exactly one label and nothing else, and fence the text "
                "to classify (e.g. in triple backticks).")
    else:
        prompt = """
        **Prompting (3 points).** Write `extract_messages(text)` returning chat messages that ask the model
        to pull the fields `KEYS` out of `text` as a JSON object. Return a list of `{"role", "content"}`
        dicts (a `system` message first, a `user` message last); the prompt must name every key, ask for
        **JSON** only, say to use **null** when a value is missing, and put the text inside triple backticks.
        One check is below; two more are hidden."""
        solution = '''
        def extract_messages(text):
            ### BEGIN SOLUTION
            keys = ", ".join(KEYS)
            return [
                {"role": "system", "content": "You extract fields from messages into JSON."},
                {"role": "user", "content": f"Return only a JSON object with the keys {keys}. "
                                            f"Use null when a value is missing.\\n```\\n{text}\\n```"},
            ]
            ### END SOLUTION'''
        checks = [
            '''
            m = extract_messages(TEXTS[0])
            assert isinstance(m, list) and all(isinstance(x, dict) and {"role", "content"} <= set(x) for x in m), \\
                "return a list of {'role': ..., 'content': ...} dicts"
            assert m[0]["role"] == "system" and m[-1]["role"] == "user", "system message first, user message last"''',
            '''
            m = extract_messages("A different message entirely.")
            text = " ".join(x["content"] for x in m)
            assert all(k in text for k in KEYS), "name every key"
            assert "```\\nA different message entirely.\\n```" in text or "```A different message entirely.```" in text, \\
                "fence the text in triple backticks"''',
            '''
            text = " ".join(x["content"] for x in extract_messages(TEXTS[1])).lower()
            assert "json" in text and "null" in text, "ask for JSON only, and say to use null when a value is missing"''',
        ]
        card = ("What should a prompt that extracts fields into JSON always say?",
                "Name every key, ask for a JSON object only, and say to use null when a value is missing.")
    return prompt, solution, checks, card


GROUNDING = {
    ("engineering", "pre"): dict(
        ask="""`facts()` returns how many complaints arrived through each `Submitted via` channel in the
        CFPB data: `{channel: count, ...}` for every channel present.""",
        solve='''
            return {str(k): int(v) for k, v in df["Submitted via"].value_counts().items()}''',
        keys=None,
        truth='''
            _truth = {}
            for _v in df["Submitted via"]:
                _truth[str(_v)] = _truth.get(str(_v), 0) + 1''',
        question="Which intake channel should the new triage service support first?"),
    ("engineering", "post"): dict(
        ask="""`facts()` returns, for the three `Product`s with the most complaints in the CFPB data, the
        share of their complaints with a timely response (`Timely response?` equal to `"Yes"`), rounded to
        3 decimals: `{product: share, ...}`.""",
        solve='''
            top = df["Product"].value_counts().nlargest(3).index
            part = df[df["Product"].isin(top)]
            share = (part["Timely response?"] == "Yes").groupby(part["Product"], observed=True).mean()
            return {str(k): round(float(v), 3) for k, v in share.items()}''',
        keys=None,
        truth='''
            _count, _yes = {}, {}
            for _p, _t in zip(df["Product"], df["Timely response?"]):
                _count[str(_p)] = _count.get(str(_p), 0) + 1
                _yes[str(_p)] = _yes.get(str(_p), 0) + (_t == "Yes")
            _top = sorted(_count, key=lambda k: -_count[k])[:3]
            _truth = {k: round(_yes[k] / _count[k], 3) for k in _top}''',
        question="Which product's complaint handling needs automation most?"),
}


def grounding(role: str, form: str):
    g = GROUNDING[(role, form)]
    prompt = f"""
    **Grounding in data (3 points).** Models do not know your figures; you give them the facts.
    1. {d(g["ask"])}
    2. `grounded_prompt(question)` returns a prompt (a string) that contains the question, every value
       of `facts()`, and tells the model to answer **only** from those facts.

    One check is below; two more are hidden (they recompute the figures from the data)."""
    solution = f'''
    def facts():
        ### BEGIN SOLUTION
{textwrap.indent(d(g["solve"]), " " * 8)}
        ### END SOLUTION


    def grounded_prompt(question):
        ### BEGIN SOLUTION
        lines = "\\n".join(f"- {{k}}: {{v}}" for k, v in facts().items())
        return f"Answer the question using only these facts:\\n{{lines}}\\n\\nQuestion: {{question}}"
        ### END SOLUTION'''
    keys_check = (f'assert set(f) == {g["keys"]}, "facts() needs exactly the keys {", ".join(sorted(ast.literal_eval(g["keys"])))}"'
                  if g["keys"] else 'assert len(f) >= 1 and all(isinstance(k, str) for k in f), "keys are names"')
    checks = [
        f'''
        f = facts()
        assert isinstance(f, dict), "facts() returns a dict"
        {keys_check}''',
        d(g["truth"]) + "\n" + d('''
        _got = facts()
        assert set(_got) == set(_truth), f"expected the keys {sorted(_truth)}"
        for _k, _v in _truth.items():
            assert _got[_k] == _v or (isinstance(_v, float) and abs(_got[_k] - _v) < 1e-6), f"{_k}: check the figure"'''),
        f'''
        _p = grounded_prompt({g["question"]!r})
        assert isinstance(_p, str) and {g["question"]!r} in _p, "return the prompt as a string that asks the question"
        assert all(str(v) in _p for v in facts().values()), "put every figure in the prompt"
        assert "only" in _p.lower(), "tell the model to answer only from the figures you give"''',
    ]
    card = ("How do you stop a model inventing a business figure?",
            "Compute the figure from the data yourself, put it in the prompt, and tell the model to answer "
            "only from the facts given.")
    return prompt, solution, checks, card


def evaluating(role: str, form: str):
    if form == "pre":
        prompt = """
        **Evaluating outputs (3 points).** Before trusting a model's labels, compare them with labels a
        person checked. Write `accuracy(predicted, expected)`: the share of positions where the two agree,
        ignoring case and surrounding spaces; raise `ValueError` when the lists differ in length or are
        empty. Also write `mistakes(predicted, expected)`: the positions (0-based) where they disagree.
        One check is below; two more are hidden."""
        solution = '''
        def _norm(x):
            return str(x).strip().lower()


        def accuracy(predicted, expected):
            ### BEGIN SOLUTION
            if len(predicted) != len(expected) or not expected:
                raise ValueError("need two non-empty lists of the same length")
            return sum(_norm(p) == _norm(e) for p, e in zip(predicted, expected)) / len(expected)
            ### END SOLUTION


        def mistakes(predicted, expected):
            ### BEGIN SOLUTION
            return [i for i, (p, e) in enumerate(zip(predicted, expected)) if _norm(p) != _norm(e)]
            ### END SOLUTION'''
        checks = [
            '''
            assert accuracy(LABELS[:2], LABELS[:2]) == 1.0, "all labels right should give an accuracy of 1.0"
            assert accuracy([LABELS[0], LABELS[1]], [LABELS[0], LABELS[0]]) == 0.5, "one right of two should give 0.5"''',
            '''
            assert accuracy([" " + LABELS[0].upper(), LABELS[1]], [LABELS[0], LABELS[1] + " "]) == 1.0, \\
                "compare labels ignoring case and surrounding spaces"
            assert mistakes([LABELS[0], LABELS[1], LABELS[2]], [LABELS[0], LABELS[2], LABELS[2]]) == [1], \\
                "mistakes() should list the positions where the label is wrong"''',
            '''
            for _bad in (([], []), ([LABELS[0]], [LABELS[0], LABELS[1]])):
                try:
                    accuracy(*_bad)
                except ValueError:
                    pass
                else:
                    raise AssertionError("accuracy must raise ValueError for empty or unequal lists")''',
        ]
        card = ("How do you find out whether a model's labels can be trusted?",
                "Compare them with a sample a person labelled, measure accuracy, and read the mistakes.")
    else:
        prompt = """
        **Evaluating outputs (3 points).** Accuracy hides a rare label. Write
        `precision_recall(predicted, expected, label)` returning `(precision, recall)` for `label`, each
        rounded to 3 decimals, ignoring case and surrounding spaces. Precision is 0.0 when the model never
        predicted the label; recall is 0.0 when the label never occurs in `expected`.
        One check is below; two more are hidden."""
        solution = '''
        def precision_recall(predicted, expected, label):
            ### BEGIN SOLUTION
            norm = lambda x: str(x).strip().lower()
            target = norm(label)
            pairs = [(norm(p), norm(e)) for p, e in zip(predicted, expected)]
            tp = sum(p == target and e == target for p, e in pairs)
            predicted_pos = sum(p == target for p, _ in pairs)
            actual_pos = sum(e == target for _, e in pairs)
            precision = tp / predicted_pos if predicted_pos else 0.0
            recall = tp / actual_pos if actual_pos else 0.0
            return round(precision, 3), round(recall, 3)
            ### END SOLUTION'''
        checks = [
            '''
            a, b = LABELS[0], LABELS[1]
            assert precision_recall([a, a, b, b], [a, b, b, a], a) == (0.5, 0.5), \\
                "one of two predictions of the label right, one of two true cases found: (0.5, 0.5)"''',
            '''
            a, b, c = LABELS[0], LABELS[1], LABELS[2]
            assert precision_recall([a.upper(), " " + a, b, c], [a, b, b, a], a) == (0.5, 0.5), \\
                "compare labels ignoring case and surrounding spaces"
            assert precision_recall([a, a, a], [a, b, b], a) == (0.333, 1.0), "round precision and recall to 3 decimals"''',
            '''
            a, b = LABELS[0], LABELS[1]
            assert precision_recall([b, b], [a, b], a) == (0.0, 0.0), "never predicting the label gives precision 0.0"
            assert precision_recall([a, b], [b, b], a) == (0.0, 0.0), "no true case of the label gives recall 0.0"''',
        ]
        card = ("A label is rare. Why is accuracy not enough?",
                "A model that never predicts the rare label still scores high accuracy; look at precision "
                "and recall for that label.")
    return prompt, solution, checks, card


SECRET = {
    "engineering": ("secret keys (`sk_` followed by at least 20 letters or digits)", "[SECRET]",
                    r"\bsk_[A-Za-z0-9]{20,}", "sk_abcdefghijklmnopqrstuvwx", "sk_A1b2C3d4E5f6G7h8I9j0K1",
                    "sk_0000000000000000000000000000"),
}


def privacy(role: str, form: str):
    if form == "pre":
        prompt = """
        **Privacy and safety (3 points).** Personal data stays out of prompts. Write `redact(text)` that
        replaces every email address with `[EMAIL]` and every phone number with `[PHONE]` (international,
        bracketed and dotted forms too), and changes nothing else: order numbers, amounts and dates stay.
        One check is below; two more are hidden."""
        solution = '''
        import re

        def redact(text):
            ### BEGIN SOLUTION
            text = re.sub(r"[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+", "[EMAIL]", text)
            phone = r"(?<![\\w-])(?:\\+\\d{1,3}[\\s.-]?)?(?:\\(\\d{2,4}\\)|\\d{2,4})[\\s.-]\\d{3,4}[\\s.-]\\d{3,4}(?![\\w-])"
            return re.sub(phone, "[PHONE]", text)
            ### END SOLUTION'''
        checks = [
            '''
            assert redact("Write to ana.lopez@example.com today") == "Write to [EMAIL] today", \\
                "replace an email address with [EMAIL]"''',
            '''
            for _p in ("+44 20 7946 0958", "(555) 123-4567", "555.123.4567", "020 7946 0958"):
                assert redact(f"Call {_p} now") == "Call [PHONE] now", f"phone {_p!r} not redacted"
            assert redact("a@b.co or c.d@e.org") == "[EMAIL] or [EMAIL]", "replace every email address, not only the first"''',
            '''
            _keep = "Order 581475 of 2024-05-01 cost $1,200.50 (ref 12345)."
            assert redact(_keep) == _keep, "only emails and phone numbers change"''',
        ]
        card = ("Which personal data must be removed before text goes into a prompt?",
                "Anything that identifies a person, such as email addresses and phone numbers: redact it "
                "first (e.g. [EMAIL], [PHONE]), keeping the rest of the text intact.")
    else:
        what, tag, pattern, ex1, ex2, ex3 = SECRET[role]
        prompt = f"""
        **Privacy and safety (3 points).** Write `redact(text)` that replaces every email address with
        `[EMAIL]` and every one of these with `{tag}`: {what}. Nothing else changes.
        One check is below; two more are hidden."""
        solution = f'''
        import re

        def redact(text):
            ### BEGIN SOLUTION
            text = re.sub(r"[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+", "[EMAIL]", text)
            return re.sub(r"{pattern}", "{tag}", text)
            ### END SOLUTION'''
        checks = [
            f'''
            assert redact("From j.smith@example.org: {ex1}") == "From [EMAIL]: {tag}", \\
                "replace the email address with [EMAIL] and the secret with {tag}"''',
            f'''
            assert redact("{ex2} and {ex3}") == "{tag} and {tag}", "replace every secret, in each of its forms"
            assert redact("x@y.io, {ex1}.") == "[EMAIL], {tag}.", "keep the punctuation around what you replace"''',
            '''
            _keep = "Ticket 581475 of 2024-05-01: 3 items, total 120.50, call back at 10:30."
            assert redact(_keep) == _keep, "nothing else changes"''',
        ]
        card = ("A colleague wants to test a prompt on real records with identifiers in them. What first?",
                "Mask the identifiers (or use synthetic data) before anything leaves for a model.")
    return prompt, solution, checks, card


def automation(role: str, form: str):
    if form == "pre":
        prompt = """
        **Automation (3 points).** Write `label_all(texts, client, model)`: for each text, ask the model once
        (with `client.chat.completions.create(model=model, messages=triage_messages(text))`) and collect
        its label. Clean each answer (ignore case, surrounding spaces and a final full stop) and map it to
        the matching entry of `LABELS`; anything else becomes `"needs review"` (a person looks at it: an unknown
        answer is never filed as a label). Return the list of labels.
        The checks use a model that replays fixed answers, so they never depend on a live model.
        One check is below; two more are hidden."""
        solution = '''
        def label_all(texts, client, model):
            ### BEGIN SOLUTION
            known = {label.lower(): label for label in LABELS}
            out = []
            for text in texts:
                reply = client.chat.completions.create(model=model, messages=triage_messages(text))
                answer = (reply.choices[0].message.content or "").strip().rstrip(".").strip().lower()
                out.append(known.get(answer, "needs review"))
            return out
            ### END SOLUTION'''
        checks = [
            '''
            from adoptkit.llm.replay import replay_client
            _c = replay_client([LABELS[0], LABELS[1]])
            assert label_all(TEXTS, _c, "course-default") == [LABELS[0], LABELS[1]], \\
                "return the model's label for each text, in order"''',
            '''
            from adoptkit.llm.replay import replay_client
            _c = replay_client([f" {LABELS[2].upper()}.", "I am not sure", LABELS[3]])
            assert label_all(["a", "b", "c"], _c, "m-1") == [LABELS[2], "needs review", LABELS[3]], \\
                "tidy each answer (case, spaces, a final full stop); an answer that is no label becomes 'needs review'"''',
            '''
            from adoptkit.llm.replay import replay_client
            _c = replay_client([LABELS[0]] * 3)
            label_all(["first", "second", "third"], _c, "m-2")
            assert len(_c.requests) == 3 and all(r["model"] == "m-2" for r in _c.requests), "one call per text"
            assert "third" in json.dumps(_c.requests[2]["messages"]), "send each text with its own request"''',
        ]
        card = ("Your loop gets a model answer that is not one of the labels. What do you do?",
                "Mark it 'needs review' for a person, keep going, and count how often it happens.")
    else:
        prompt = """
        **Automation (3 points).** Write `extract_all(texts, client, model)`: ask the model once per text
        (with `extract_messages(text)`), parse each answer as JSON and return a `pandas.DataFrame` with one
        row per text and exactly the columns `KEYS`. An answer that is not a JSON object becomes a row of
        `None`s; the loop keeps going. Missing keys are `None`; extra keys are dropped.
        One check is below; two more are hidden."""
        solution = '''
        def extract_all(texts, client, model):
            ### BEGIN SOLUTION
            rows = []
            for text in texts:
                reply = client.chat.completions.create(model=model, messages=extract_messages(text))
                try:
                    data = json.loads(reply.choices[0].message.content or "")
                except ValueError:
                    data = {}
                if not isinstance(data, dict):
                    data = {}
                rows.append({k: data.get(k) for k in KEYS})
            return pd.DataFrame(rows, columns=KEYS)
            ### END SOLUTION'''
        checks = [
            '''
            from adoptkit.llm.replay import replay_client
            _c = replay_client([json.dumps({k: f"v{i}" for i, k in enumerate(KEYS)})] * 2)
            _df = extract_all(TEXTS, _c, "course-default")
            assert list(_df.columns) == KEYS and len(_df) == 2 and _df.iloc[0, 0] == "v0", \\
                "return one row per text with exactly the columns KEYS, filled from the JSON answers"''',
            '''
            from adoptkit.llm.replay import replay_client
            _c = replay_client(["not json at all", json.dumps({KEYS[0]: "x", "extra": 1}), "[1, 2]"])
            _df = extract_all(["a", "b", "c"], _c, "m")
            assert len(_df) == 3 and list(_df.columns) == KEYS, "one row per text, even when an answer is bad"
            assert _df.iloc[0].isna().all() and _df.iloc[2].isna().all(), "bad answers become empty rows"
            assert _df.iloc[1][KEYS[0]] == "x" and _df.iloc[1][KEYS[1:]].isna().all(), \\
                "missing keys become None and extra keys are dropped"''',
            '''
            from adoptkit.llm.replay import replay_client
            _c = replay_client(["{}"] * 3)
            extract_all(["one", "two", "three"], _c, "m-3")
            assert len(_c.requests) == 3 and all(r["model"] == "m-3" for r in _c.requests), \\
                "ask the model once per text, with the model you were given"''',
        ]
        card = ("One answer in a batch extraction is not valid JSON. What should the loop do?",
                "Record an empty row, keep going, and report how many answers failed.")
    return prompt, solution, checks, card


CODING = {
    ("engineering", "pre"): dict(
        story="`chunks(items, size)` should split a list into consecutive lists of `size` items (the last "
              "may be shorter) and raise `ValueError` when `size < 1`.",
        buggy='''
            def chunks(items, size):
                return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]''',
        fixed='''
            def chunks(items, size):
                ### BEGIN SOLUTION
                if size < 1:
                    raise ValueError("size must be at least 1")
                return [items[i:i + size] for i in range(0, len(items), size)]
                ### END SOLUTION''',
        checks=['assert chunks([1, 2, 3, 4], 2) == [[1, 2], [3, 4]], "split into lists of size items"',
                'assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]] and chunks([], 3) == [], '
                '"keep the shorter last chunk; an empty list gives no chunks"',
                '''
                try:
                    chunks([1], 0)
                except ValueError:
                    pass
                else:
                    raise AssertionError("size 0 must raise ValueError")''']),
    ("engineering", "post"): dict(
        story="`is_newer(a, b)` should say whether version string `a` (like `\"1.10.2\"`) is newer than `b`, "
              "comparing numerically part by part; a missing part counts as 0 (`\"2.1\"` equals `\"2.1.0\"`).",
        buggy='''
            def is_newer(a, b):
                return a > b''',
        fixed='''
            def is_newer(a, b):
                ### BEGIN SOLUTION
                pa, pb = [int(x) for x in a.split(".")], [int(x) for x in b.split(".")]
                n = max(len(pa), len(pb))
                return pa + [0] * (n - len(pa)) > pb + [0] * (n - len(pb))
                ### END SOLUTION''',
        checks=['assert is_newer("1.2.0", "1.1.9") and not is_newer("1.1.9", "1.2.0"), "1.2.0 is newer than 1.1.9"',
                'assert is_newer("1.10.0", "1.9.3") and not is_newer("2.1", "2.1.0"), '
                '"compare parts as numbers (10 > 9), a missing part counting as 0"',
                'assert is_newer("3", "2.99.99") and not is_newer("0.9", "0.10"), '
                '"compare parts as numbers, whatever the number of parts"']),
}


def coding(role: str, form: str):
    c = CODING[(role, form)]
    prompt = f"""
    **Coding with AI (3 points).** An assistant wrote the function below. {c["story"]} It has a bug.
    Run it on a few examples with known answers, find what is wrong, and write the corrected version in
    the next cell. One check is below; two more are hidden (edge cases)."""
    buggy_cell = "# What the assistant wrote (read it, try it; the corrected version goes in the next cell)\n" + d(c["buggy"])
    checks = [d(x) for x in c["checks"]]
    card = ("An AI-written function passes its docstring example. What next?",
            "Test it on cases with known answers, including edge cases (zero, empty, boundaries), before "
            "relying on it.")
    return prompt, d(c["fixed"]), checks, card, buggy_cell


TASKS = {"prompting": prompting, "grounding": grounding, "evaluating": evaluating, "privacy": privacy,
         "automation": automation, "coding": coding}

# --- notebook assembly -----------------------------------------------------------------------------

KERNEL = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}


def _nbg(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _md(text: str, **meta):
    return nbformat.v4.new_markdown_cell(d(text), metadata=meta)


def _code(text: str, **meta):
    return nbformat.v4.new_code_cell(d(text), metadata=meta)


def _test(grade_id: str, competency: str, body: str, hidden: bool):
    body = d(body)
    if hidden:
        body = "# Hidden checks run when your work is graded.\n### BEGIN HIDDEN TESTS\n" + body + "\n### END HIDDEN TESTS"
    meta = _nbg(grade_id, grade=True, locked=True, points=1)
    meta["adoptkit"] = {"competency": competency}
    return nbformat.v4.new_code_cell(body, metadata=meta)


def card(card_id: str, competency: str, front: str, back: str) -> dict:
    """A spaced-repetition review card (read by adoptkit.engage.cards from `metadata.adoptkit.cards`)."""
    return {"id": card_id, "competency": competency, "front": front, "back": back}


def notebook(role: str, form: str) -> nbformat.NotebookNode:
    c = CONTEXT[role]
    name = f"{role}-assessment-{form}"
    when = "before the course" if form == "pre" else "after the course"
    part_a = "one point in Part A, done without code (a prompt, a check of a drafted text, situations to decide),"
    cells = [
        _md(f"""
        # {c["title"]}: AI competency check ({when})

        This check shows where you stand in six competencies: prompting, grounding in data, evaluating
        outputs, privacy and safety, automation, and coding with AI. It is worth **24 points**: for each
        competency {part_a} and one task with three checks (1 point each). One check
        per task is visible below the task; the other two are **hidden** and run when your work is graded.
        It takes about 30 minutes. Nobody else sees your individual result: the course reports levels by
        role and cohort.{(" After the tasks there is a timed task (four short runs) and a one-minute survey."
                          if role in COUNTERBALANCED else
                          " After the tasks there is a timed pair of tasks and a one-minute survey.")
                         if form == "post" else ""}
        """, **_nbg(f"{name}-intro", locked=True)),
        _code(f"""
        # Just run this cell: it loads the data and the names the tasks use.
        import json

        import pandas as pd

        from adoptkit import data, llm
        df = data.load({c["dataset"]!r})
        print(df.attrs["citation"])
        LABELS = {c["labels"]!r}
        KEYS = {c["keys"]!r}
        TEXTS = {c["texts"]!r}
        """, **_nbg(f"{name}-setup", locked=True)),
    ]
    cells += nocode_part(name)
    cells.append(_md("## Part B: tasks (18 points)", **_nbg(f"{name}-tasks-intro", locked=True)))
    for comp in COMPETENCIES:
        out = TASKS[comp](role, form)
        prompt, solution, checks, (front, back) = out[:4]
        cells.append(_md(prompt, **_nbg(f"{comp}-task", locked=True),
                         adoptkit={"cards": [card(f"{form}-{comp}-task", comp, front, back)]}))
        if comp == "coding":
            cells.append(_code(out[4], **_nbg(f"{comp}-given", locked=True)))
        cells.append(_code(solution, **_nbg(f"{comp}-answer", solution=True)))
        for j, check in enumerate(checks, 1):
            cells.append(_test(f"{comp}-check{j}", comp, check, hidden=j > 1))
    if form == "post":
        cells += paired_and_survey(role, name)
    for i, cell in enumerate(cells):  # stable ids, so regenerating gives the same file
        cell["id"] = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell-{i:02d}"
    nb = nbformat.v4.new_notebook(cells=cells, metadata=dict(KERNEL))
    nb.metadata["adoptkit"] = {"role": role, "phase": form}
    return nb


def nocode_spec(name: str) -> dict:
    """The no-code parts of an assessment (content/<name>.yml, docs/no-code.md), checked as the author tool does."""
    import yaml

    from adoptkit.widgets import author

    path = ROOT / "content" / f"{name}.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    author.validate(spec, str(path))
    return spec


def nocode_part(name: str) -> list:
    """Part A without code: the content file's parts in the no-code widgets, keys in hidden tests."""
    from adoptkit.widgets import author

    parts = nocode_spec(name)["parts"]
    total = sum(u["points"] for p in parts for u in author.grade_units(p))
    cells = [_md(f"""
        ## Part A: without code ({total:g} points)

        Boxes to fill and options to click, one point per competency. Your work is saved as you go in the
        `quiz-answers` folder beside this notebook: **submit that folder with the notebook.** Below each part a
        cell checks that you answered it; the answer key is in **hidden tests**, and your feedback explains each
        answer. Prompts are graded on what they say and on what they produce on the course's offline model,
        never on a live model.""", **_nbg(f"{name}-nocode-intro", locked=True))]
    for n, p in enumerate(parts, 1):
        cells += author.part_cells(p, f"A{n}", heading="###")
    return cells


COUNTERBALANCED = {"engineering"}  # roles whose timed task uses adoptkit.measure.timing.TimedTask (the others follow)
TIMED_ROUNDS = 2  # pairs of runs: each learner times the task 2 x 2 times, half with the model
ASSIST = '''
# With the model: run this cell as it is, then check and edit the model's summary into summary{n}.
# By hand: this cell asks nothing; write your own two sentences into summary{n}.
if run{n}.with_ai:
    reply = llm.client().chat.completions.create(model=llm.default_model(), messages=[
        {{"role": "user", "content": f"Summarise in two sentences for a colleague:\\n```\\n{{run{n}.record}}\\n```"}}])
    print(reply.choices[0].message.content)
summary{n} = """Write your two sentences here."""'''


def timed_task(role: str, name: str) -> list:
    """Part C as a counterbalanced, repeated, timed task on records matched in length (timing.TimedTask)."""
    cells = [
        _md(f"""
        ## Part C: a timed task, by hand and with the model (not graded; timed)

        This measures how much time the course saves you. You will write a two-sentence summary of a customer
        complaint for a colleague {2 * TIMED_ROUNDS} times, on {2 * TIMED_ROUNDS} different complaints of about
        the same length: half of the runs **by hand**, half **with the model**. Whether you start with the model
        or by hand was drawn for you; half your colleagues have the other order, so getting faster with
        practice does not count as time saved. For each run: run its start cell, do the work, run its stop
        cell. Each time is recorded once (in `timings/`), so submit that folder too. Work at your normal pace:
        there is no right time.""", **_nbg(f"{name}-timed-intro", locked=True)),
        _code(f"""
        # Just run this cell: it draws your plan (the same every time you run it) and prints it.
        from adoptkit.measure import timing

        texts = [t for t in data.load("cfpb_complaints")["Consumer complaint narrative"].dropna() if 400 < len(t) < 900]
        task = timing.TimedTask("summary", timing.matched_pairs(texts, {TIMED_ROUNDS}))
        task.describe()""", **_nbg(f"{name}-timed-plan", locked=True)),
    ]
    for n in range(1, 2 * TIMED_ROUNDS + 1):
        cells += [
            _code(f"""
            # Run {n}: just run this cell when you are ready. It shows the complaint and says how to work on it.
            run{n} = task.start({n})""", **_nbg(f"{name}-timed-start{n}", locked=True)),
            _code(ASSIST.format(n=n)),
            _code(f"run{n}.stop()  # run this when your summary for run {n} is done",
                  **_nbg(f"{name}-timed-stop{n}", locked=True)),
        ]
    return cells


def paired_and_survey(role: str, name: str) -> list:
    if role in COUNTERBALANCED:
        return timed_task(role, name) + survey(name)
    c = CONTEXT[role]
    if c["record"] == "onet_occupations":
        pick = 'records = data.load("onet_occupations")["Description"].dropna().tolist()'
        task = "a two-sentence summary of this occupation for a job advert"
    else:
        pick = ('records = [t for t in data.load("cfpb_complaints")["Consumer complaint narrative"].dropna()'
                ' if 400 < len(t) < 900]')
        task = "a two-sentence summary of this customer complaint for a colleague"
    return [
        _md(f"""
        ## Part C: the same task without and with AI (not graded; timed)

        This measures how much time the course saves you: write {task}, first **by hand** for record A,
        then **with the model** for record B. Run the timer cells as you go; each records its time once
        (in `timings/`), so submit that folder too. Work at your normal pace: there is no right time.""",
            **_nbg(f"{name}-paired-intro", locked=True)),
        _code(f"""
        # Just run this cell when you are ready to start record A (by hand).
        from adoptkit.measure.timing import TaskTimer

        {pick}
        print("Record A:\\n", records[11])
        timer_a = TaskTimer("summary", "without_ai")""", **_nbg(f"{name}-paired-a", locked=True)),
        _code('summary_a = """Write your two sentences here."""'),
        _code("timer_a.stop()  # run this when your summary of record A is done",
              **_nbg(f"{name}-paired-a-stop", locked=True)),
        _code("""
        # Run this cell to start record B (with the model).
        print("Record B:\\n", records[12])
        timer_b = TaskTimer("summary", "with_ai")""", **_nbg(f"{name}-paired-b", locked=True)),
        _code('''
        # Use the model, then check and edit its answer before you accept it.
        client = llm.client()
        reply = client.chat.completions.create(model=llm.default_model(), messages=[
            {"role": "user", "content": f"Summarise in two sentences for a colleague:\\n```\\n{records[12]}\\n```"}])
        summary_b = reply.choices[0].message.content
        print(summary_b)'''),
        _code("timer_b.stop()  # run this when your summary of record B is done",
              **_nbg(f"{name}-paired-b-stop", locked=True)),
    ] + survey(name)


def survey(name: str) -> list:
    return [
        _md("## Part D: one-minute survey (not graded)", **_nbg(f"{name}-survey-intro", locked=True)),
        _code("""
        # Just run this cell and click your answers: they are saved in quiz-answers/reaction.json.
        from adoptkit.measure.reaction import survey

        survey()""", **_nbg(f"{name}-survey", locked=True)),
    ]


def write_all(root: Path = ROOT) -> list[Path]:
    from adoptkit.widgets import author

    written = []
    for role in ROLES:
        for form in FORMS:
            name = f"{role}-assessment-{form}"
            path = root / "exercises" / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nb = notebook(role, form)
            nbformat.validate(nb)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(path)
            tasks = path.parent / author.LEARNER_FILE  # the widgets' copy of the tasks, without answers
            tasks.write_text(author.learner_file(nocode_spec(name), f"content/{name}.yml"), encoding="utf-8")
            written.append(tasks)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT):
        print(p)

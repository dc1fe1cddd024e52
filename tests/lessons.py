"""A complete teach-back lesson per role, on the role's real data, as a learner who did the work would write
it (the course's lesson.ipynb is the blank template). Shared by the grading and Learn-Do-Teach tests.

Engineering's lesson shows code. Every other role's (marketing, sales, HR, support, leaders) is written
without a line of code, as a non-coder writes it: prose in the template's sections, and the prompt it teaches
typed into the template's ready-made prompt box and run (`run_prompt_box`: the widget's own API, as the clicks
would; the run is saved beside the lesson in quiz-answers/, submitted with it).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from adoptkit.data import citation
from adoptkit.engage import teachback

ROLE_DATA = {"sales": "online_retail", "marketing": "bank_marketing", "hr": "onet_occupations",
             "engineering": "cfpb_complaints", "support": "cfpb_complaints", "leaders": "fomc_statements"}

# The roles whose lesson here is written without code (their templates are code-free: every role not in
# teachback.CODE_ROLES).
NO_CODE_ROLES = ("marketing", "sales", "hr", "support", "leaders")

# The data each role's prompt box runs on (src/adoptkit/engage/lesson_samples.yml).
SAMPLE_DATA = {"sales": "cfpb_complaints", "marketing": "online_retail", "hr": "onet_occupations",
               "support": "cfpb_complaints", "leaders": "fomc_statements"}

# The prompt each non-coder's lesson teaches, typed into the worked example's box.
PROMPTS = {
    "sales": "Read the customer's complaint below. Answer with one label only, from this list: Credit reporting, "
             "Debt collection, Mortgage, Credit card, Other. If you are not sure, answer: needs review.",
    "marketing": "Write two sentences of web-shop copy for the product below, using only the facts given: the "
                 "name, the price and nothing else. Do not invent colours, materials or sizes. If a fact is missing, "
                 "leave it out.",
    "hr": "Read the job description below. Answer with the one occupation title from this list that fits best: "
          "Human Resources Specialists, Bill and Account Collectors, Registered Nurses. If none fits, answer: "
          "needs review.",
    "support": "Read the customer's complaint below. Answer with one queue only, from this list: credit report "
               "error, debt not owed, collector calls and threats, payment trouble, identity theft and fraud, fees "
               "and charges. If you are not sure, answer: needs review.",
    "leaders": "Read the policy statement below. Answer with a JSON object only, with two keys: decision_quote, the "
               "sentence that says what the Committee decided, copied word for word, and summary, one sentence. "
               "Use only what the statement says; do not add forecasts of your own.",
}


def _code_lesson(role: str):
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    dataset = ROLE_DATA[role]
    return nbformat.v4.new_notebook(cells=[
        md(f"# Checking a model's answers against the {dataset.replace('_', ' ')} data"),
        md("## Who this is for\n\nColleagues who ask a model for figures or labels and need to know when to trust "
           "the reply before it reaches a customer, a manager or a report."),
        md("## What you will be able to do\n\n- load the team's real data and compute the figure yourself\n"
           "- compare the model's answer with that figure\n- decide what a person must review"),
        md("## Worked example\n\nWe load the real dataset, count its rows and columns, and print its citation, so "
           "every number in the lesson comes from the data rather than from a model's memory."),
        code(f"from adoptkit import data\ndf = data.load('{dataset}')\nprint(df.shape)\nprint(df.attrs['citation'])"),
        md("## Try it yourself\n\nExercise: pick one column, compute its most frequent value, then ask yourself "
           "whether a model that never saw this table could know it. What would you check first?"),
        code("# your code here"),
        md("## Common mistakes\n\nTrusting a fluent reply because it sounds confident; comparing against a figure "
           "computed on a different period; forgetting that missing values change averages and counts; "
           "pasting personal data into a prompt when an aggregate would do."),
        md("## Sources\n\nData: loaded with adoptkit.data.load, whose citation line is printed above; see "
           "https://archive.ics.uci.edu/ for the UCI datasets and https://www.consumerfinance.gov/ for the CFPB."),
    ])


def _no_code_lesson(role: str):
    """The role's template with every section written in the learner's words; its code cells are the
    template's own ready-made prompt boxes, untouched."""
    nb = teachback.template("x", role)
    words = {
        "Who this is for": "Colleagues who ask a model to sort, label or draft from our own records every week, "
                           "and who need to know when a reply can be trusted before it reaches a customer.",
        "What you will be able to do": "- give the model the allowed answers and a way out when unsure\n"
                                       "- run one prompt on real records and read every reply\n"
                                       "- decide which replies a person must check before use",
        "Worked example": "The prompt in the box lists the only answers we accept and says what to do when the "
                          "model is unsure. I ran it on three real records: each reply is shown beside its record, "
                          "and I checked every one against the record itself before trusting it.",
        "Try it yourself": "Exercise: remove the list of allowed answers from the prompt and run it again in your "
                           "own box. What changes in the replies, and which of them could a report still use?",
        "Common mistakes": "Trusting a fluent reply because it sounds confident; leaving out the way out, so the "
                           "model guesses; pasting a customer's name or email into the prompt when the record "
                           "itself is enough; judging the prompt on one record instead of several.",
        "Sources": "The records in the box are the course's real data, copied from the line under the "
                   f"sample: {citation(SAMPLE_DATA[role])}",
    }
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if cell.source.startswith("# "):
            cell.source = "# One prompt, checked on real records before anyone relies on it"
        heading = cell.source.split("\n", 1)[0].removeprefix("## ")
        if heading in words:
            cell.source = f"## {heading}\n\n{words[heading]}"
    return nb


def good_lesson(role: str):
    """A complete teach-back lesson on the role's real data (the source's lesson is the blank template); for a
    role without code, call `run_prompt_box` too, or its worked example has no run."""
    return _no_code_lesson(role) if role in NO_CODE_ROLES else _code_lesson(role)


def run_prompt_box(role: str, folder: Path, prompt: str | None = None) -> Path:
    """Type the lesson's prompt into the worked example's box and run it, as a learner's clicks would (the
    replies replayed: grading never calls a model). Returns the answer file written beside the lesson."""
    from adoptkit.llm.replay import replay_client

    box = teachback.prompt_box(role, folder=folder, client=replay_client(["(a replayed reply)"] * 10))
    box.write(PROMPTS[role] if prompt is None else prompt)
    box.run()
    return Path(folder) / "quiz-answers" / "teachback-example.json"

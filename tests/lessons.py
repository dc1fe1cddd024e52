"""A complete teach-back lesson per role, on the role's real data, as a learner who did the work would write
it (the course's lesson.ipynb is the blank template). Shared by the grading and Learn-Do-Teach tests."""

from __future__ import annotations

import nbformat

ROLE_DATA = {"sales": "online_retail", "marketing": "bank_marketing", "hr": "onet_occupations",
             "engineering": "cfpb_complaints"}


def good_lesson(role: str):
    """A complete teach-back lesson on the role's real data (the source's lesson is the blank template)."""
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

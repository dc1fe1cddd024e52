import nbformat
import pytest

from adoptkit.engage import teachback


def write(tmp_path, nb):
    p = tmp_path / "lesson.ipynb"
    nbformat.write(nb, str(p))
    return p


def good_lesson():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    prose = " ".join(["Colleagues in account management who triage customer complaints every week."] * 12)
    return nbformat.v4.new_notebook(cells=[
        md("# Turning complaint notes into CRM fields"),
        md(f"## Who this is for\n\n{prose}"),
        md("## What you will be able to do\n\n- extract a product label with the model\n- check it against a list"),
        md("## Worked example\n\nWe load real complaints and ask the model for a label."),
        code("from adoptkit import data, llm\ndf = data.load('cfpb_complaints')"),
        md("## Try it yourself\n\nExercise: change the label list and compare the accuracy."),
        code("# your code here"),
        md("## Common mistakes\n\nTrusting the label without checking it against the allowed list."),
        md("## Sources\n\nData: the CFPB complaint database, https://www.consumerfinance.gov/"),
    ])


def test_a_complete_lesson_has_no_problems(tmp_path):
    assert teachback.problems(write(tmp_path, good_lesson())) == {}


def test_the_template_fails_every_content_check(tmp_path):
    found = teachback.problems(write(tmp_path, teachback.template("RFM")))
    assert {"title", "filled", "objectives", "example", "length"} <= set(found)
    assert all(s in found["filled"] for s in teachback.SECTIONS)
    assert "sections" not in found  # the template has them all


def test_a_missing_section_and_an_example_without_data_are_named(tmp_path):
    nb = good_lesson()
    del nb.cells[7]  # Common mistakes
    nb.cells[4].source = "print('hello')"
    found = teachback.problems(write(tmp_path, nb))
    assert "Common mistakes" in found["sections"] and "real data" in found["example"]


def test_unreadable_notebook_gets_a_clear_error(tmp_path):
    (tmp_path / "lesson.ipynb").write_text("{not json")
    with pytest.raises(teachback.TeachbackError, match="not a readable notebook"):
        teachback.problems(tmp_path / "lesson.ipynb")
    with pytest.raises(teachback.TeachbackError, match="not found"):
        teachback.problems(tmp_path / "missing.ipynb")

import nbformat
import pytest
from lessons import NO_CODE_ROLES

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


# ---- the grader's review: it runs the lesson and reads what it says (adoptkit.grading.lesson) ----------

def substantive_lesson():
    """A lesson a colleague could learn from: its own varied prose, a worked example on the role's data."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(cells=[
        md("# Ranking accounts for follow-up with RFM"),
        md("## Who this is for\n\nAccount managers who choose whom to call each week and want a reason they can "
           "explain to their manager, without a model or a spreadsheet macro."),
        md("## What you will be able to do\n\n- compute recency, frequency and spend per customer from invoices\n"
           "- find valuable customers who have gone quiet\n- explain why cancellations are left out"),
        md("## Worked example\n\nWe load the online retailer's real invoice lines, drop cancelled invoices and lines "
           "without a customer, then count distinct invoices and total spend for every customer. The printed "
           "table shows the five biggest spenders."),
        code("from adoptkit import data\nretail = data.load('online_retail')\n"
             "sales = retail[~retail['InvoiceNo'].str.startswith('C') & retail['CustomerID'].notna()]\n"
             "spend = (sales['Quantity'] * sales['UnitPrice']).groupby(sales['CustomerID']).sum()\n"
             "print(spend.sort_values(ascending=False).head())"),
        md("## Try it yourself\n\nExercise: change the code to count distinct invoices per customer instead of "
           "spend, then compare the two rankings. Which customers appear in both lists, and why?"),
        code("# start here"),
        md("## Common mistakes\n\nCounting invoice lines instead of invoices inflates frequency for customers who buy "
           "many products at once. Forgetting cancellations makes spend look higher than it was. Comparing "
           "recency across different snapshot dates gives misleading gaps between customers."),
        md("## Sources\n\nData: the UCI Online Retail dataset, https://archive.ics.uci.edu/dataset/352/online+retail "
           "(its citation line is printed by data.load)."),
    ])


@pytest.fixture
def mirror(monkeypatch):
    import os

    if not os.environ.get("ADOPTKIT_DATA_MIRROR"):
        pytest.skip("the lesson's example loads real data: set ADOPTKIT_DATA_MIRROR (CI does)")


def test_review_passes_a_substantive_lesson_that_runs(tmp_path, mirror):
    from adoptkit.grading import lesson

    review = lesson.review(write(tmp_path, substantive_lesson()), "sales")
    assert review.problems == {}, review.problems
    assert all(c["ok"] for c in review.cells) and any(c["output"] for c in review.cells)


def test_review_fails_an_example_that_raises_and_a_content_free_lesson(tmp_path, mirror):
    from adoptkit.grading import lesson

    broken = substantive_lesson()
    broken.cells[4].source += "\nprint(sales['No such column'])"
    review = lesson.review(write(tmp_path, broken), "sales")
    assert set(review.problems) == {"example"} and "KeyError" in review.problems["example"]

    empty = substantive_lesson()
    filler = "This lesson is about the topic and the topic is about this lesson. "
    for i in (1, 3, 5, 7):
        empty.cells[i].source = empty.cells[i].source.split("\n\n")[0] + "\n\n" + filler * 6
    empty.cells[4].source = "print('hello')"
    review = lesson.review(write(tmp_path, empty), "sales")
    assert {"filled", "example"} <= set(review.problems), review.problems


def test_review_does_not_run_code_that_reaches_for_the_grader(tmp_path):
    from adoptkit.grading import lesson

    nb = substantive_lesson()
    nb.cells[4].source = "from adoptkit import data\ndf = data.load('online_retail')\nget_ipython().kernel.do_execute = None"
    review = lesson.review(write(tmp_path, nb), "sales")
    assert "grading machinery" in review.problems["example"]


# ---- a lesson written without code (every role but engineering): the template's prompt boxes ----------


def test_the_no_code_template_needs_no_code_and_its_hints_pass_no_check(tmp_path):
    for role in NO_CODE_ROLES:
        nb = teachback.template("x", role)
        code = [c for c in nb.cells if c.cell_type == "code"]
        # Its only code cells are the two ready-made prompt boxes, locked against an accidental edit.
        assert [teachback.BOX_CALL.search(c.source).groups() for c in code] == [(role, None), (role, "try-it")]
        assert all(c.metadata["editable"] is False and c.metadata["deletable"] is False for c in code)
        found = teachback.problems(write(tmp_path, nb))
        # Every requirement the learner's own words meet fails on the hints alone (the headings say "Try"
        # and the hints say "citation": neither counts).
        assert {"title", "filled", "objectives", "exercise", "sources", "length"} <= set(found), (role, found)
    assert all(c.cell_type != "code" or "prompt_box" not in c.source for c in teachback.template("x", "engineering").cells)


def test_exercise_and_sources_need_the_learners_own_words(tmp_path):
    from lessons import good_lesson

    nb = good_lesson("sales")
    assert teachback.problems(write(tmp_path, nb)) == {}
    for cell in nb.cells:
        for section in ("Try it yourself", "Sources"):
            if cell.source.startswith(f"## {section}"):  # the section's own words replaced by the template's hint
                hint = next(c for c in teachback.template("x", "sales").cells if c.source.startswith(f"## {section}"))
                cell.source = hint.source.replace(f"{teachback.PLACEHOLDER}: ", "")
    found = teachback.problems(write(tmp_path, nb))
    assert {"exercise", "sources"} <= set(found), found


@pytest.mark.parametrize("role", NO_CODE_ROLES)
def test_review_gives_a_non_coders_lesson_every_requirement_once_its_prompt_has_run(tmp_path, mirror, role):
    """The lesson's only code cells are the template's; the worked example counts once the learner's own
    prompt has run in its box (saved beside the lesson). Not before (sales: and not with a one-line prompt)."""
    from lessons import good_lesson, run_prompt_box

    from adoptkit.grading import lesson

    path = write(tmp_path, good_lesson(role))
    template_code = [c.source for c in teachback.template("x", role).cells if c.cell_type == "code"]
    assert [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"] == template_code
    if role == "sales":  # what the saved run decides is read without running the lesson (run=False)
        review = lesson.review(path, role, run=False)
        assert set(review.problems) == {"example"} and "no run is saved yet" in review.problems["example"]
        run_prompt_box(role, tmp_path, prompt="Label this.")
        review = lesson.review(path, role, run=False)
        assert set(review.problems) == {"example"} and "too short" in review.problems["example"]

    run_prompt_box(role, tmp_path)
    review = lesson.review(path, role)
    assert review.problems == {}, review.problems
    assert len(review.cells) == 2 and all(c["ok"] and c["output"] for c in review.cells)  # both boxes showed


def test_review_fails_a_prompt_box_on_another_roles_records_or_a_damaged_run(tmp_path, mirror):
    from lessons import good_lesson, run_prompt_box

    from adoptkit.grading import lesson

    nb = good_lesson("hr")
    for cell in nb.cells:
        cell.source = cell.source.replace("prompt_box('hr')", "prompt_box('sales')")
    path = write(tmp_path, nb)
    run_prompt_box("sales", tmp_path)
    assert "another role's records" in lesson.review(path, "hr", run=False).problems["example"]

    nbformat.write(good_lesson("hr"), path)
    (tmp_path / "quiz-answers" / "teachback-example.json").write_text("{not json")  # hostile or broken
    assert "cannot be read" in lesson.review(path, "hr", run=False).problems["example"]
    (tmp_path / "quiz-answers" / "teachback-example.json").write_text('{"attempts": [{"prompt": ["not", "text"]}]}')
    assert "no run is saved yet" in lesson.review(path, "hr", run=False).problems["example"]


def test_a_line_still_marked_todo_is_not_the_learners_task_or_source(tmp_path):
    from lessons import good_lesson

    nb = good_lesson("hr")
    for cell in nb.cells:
        if cell.source.startswith("## Try it yourself"):
            cell.source = f"## Try it yourself\n\n{teachback.PLACEHOLDER}: a task to try?"
        if cell.source.startswith("## Sources"):
            cell.source = f"## Sources\n\n{teachback.PLACEHOLDER}: the citation, https://example.org"
    assert {"exercise", "sources", "filled"} <= set(teachback.problems(write(tmp_path, nb)))

"""The book's adoption page executes, and without records it says plainly that it shows a simulated cohort."""

from pathlib import Path

import pytest
from myst_nb.core.read import read_myst_markdown_notebook
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_adoption_page_runs_on_a_simulated_cohort_when_there_are_no_records(tmp_path, monkeypatch):
    (tmp_path / "_config.yml").write_text("title: t\nadoptkit:\n  organisation:\n    name: Test Org\n")
    monkeypatch.setenv("ADOPTKIT_CONFIG", str(tmp_path / "_config.yml"))
    nb = read_myst_markdown_notebook((ROOT / "book" / "adoption-report.md").read_text())  # as myst-nb reads it
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "Simulated cohort</p>" in text and "no gradebook at" in text
    glued = {o["metadata"]["scrapbook"]["name"]: o["data"]["application/papermill.record/text/plain"] for o in outputs
             if "scrapbook" in o.get("metadata", {})}
    assert {"assessed_before", "mean_after", "still_using", "minutes_saved", "recommend", "min_group", "design",
            "paired_learners"} <= set(glued)
    assert "counterbalanced crossover" in glued["design"]
    assert float(glued["mean_after"].strip("'")) > float(glued["mean_before"].strip("'"))
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert images >= 4

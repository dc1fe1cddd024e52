"""The book: its config, its chapters' structure, the `-W` build, the sales page, and nbval on every chapter.

How nbval runs on MyST Markdown chapters: nbval collects only `.ipynb` files, and the chapters are MyST
`.md` notebooks. `test_chapter_runs_under_nbval` converts each chapter with myst-nb's own reader (the one
the build uses, so the cells are exactly the built ones) into an `.ipynb` in a temporary folder and runs
`python -m pytest --nbval-lax` on it in a subprocess. The kernel starts in that folder, so a chapter must
read data through `adoptkit.data.load` (as all do), not by a path relative to itself; ADOPTKIT_CONFIG
points it at the book's `_config.yml`. To do the same by hand:

    python -c "import nbformat, sys; from myst_nb.core.read import read_myst_markdown_notebook as r; \
nbformat.write(r(open(sys.argv[1]).read()), sys.argv[2])" book/why-training-fails.md /tmp/ch.ipynb
    ADOPTKIT_CONFIG=$PWD/_config.yml python -m pytest --nbval-lax /tmp/ch.ipynb
"""

from __future__ import annotations

import html
import os
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

from adoptkit import settings
from adoptkit.data import citation

ROOT = Path(__file__).resolve().parents[1]
SALES = "book/roles/sales/crm-automation"


def toc_files() -> list[str]:
    """Every file the table of contents lists, without extension, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                found.append(e["file"])
            walk(e.get("sections"))
            walk(e.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return found


def notebook_chapters() -> list[str]:
    return [f for f in toc_files() if is_myst_markdown_notebook((ROOT / f"{f}.md").read_text())]


def code_chapters() -> list[str]:
    """The chapters that have code to execute (a prose-only page has nothing for nbval to run)."""
    return [f for f in notebook_chapters()
            if any(c.cell_type == "code" for c in read_myst_markdown_notebook((ROOT / f"{f}.md").read_text()).cells)]


# -- fast: config and structure ----------------------------------------------------------------------


def test_config_adoptkit_section_loads_and_lists_every_setting_with_its_default():
    loaded = settings.load(ROOT / "_config.yml")  # raises SettingsError on a wrong key or value
    defaults = settings.Settings()
    assert loaded.model_dump(exclude={"root"}) == defaults.model_dump(exclude={"root"}), (
        "_config.yml's adoptkit: section must show each setting with its default from settings.py"
    )

    section = yaml.safe_load((ROOT / "_config.yml").read_text())["adoptkit"]

    def missing(model_cls, given: dict, prefix: str) -> list[str]:
        out = []
        for name, field in model_cls.model_fields.items():
            if name == "root":
                continue
            key = f"{prefix}.{name}"
            if name not in given:
                out.append(key)
            elif isinstance(field.default, settings._Section):
                out += missing(type(field.default), given[name] or {}, key)
        return out

    assert missing(settings.Settings, section, "adoptkit") == [], "settings missing from _config.yml"


def test_config_keeps_the_execution_cache_outside_build_and_builds_only_the_toc():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    assert config["execute"]["execute_notebooks"] == "cache"
    assert not Path(config["execute"]["cache"]).parts[0].startswith("_build")


def test_every_toc_entry_exists():
    absent = [f for f in toc_files() if not (ROOT / f"{f}.md").is_file()]
    assert absent == []


def test_sales_path_page_states_outcomes_time_and_prerequisites():
    text = (ROOT / "book/roles/sales/index.md").read_text()
    for heading in ("## What you will be able to do", "## Time", "## Prerequisites"):
        assert heading in text


# Pages that report figures rather than teach (no learning objectives or exercises to check).
REPORT_PAGES = {"book/adoption-report"}


@pytest.mark.parametrize("chapter", [c for c in notebook_chapters() if c not in REPORT_PAGES])
def test_chapter_structure(chapter):
    """Learning objectives first, a hidden preamble, a summary; exercises or a checklist last."""
    text = (ROOT / f"{chapter}.md").read_text()
    body = text.split("\n---\n", 1)[1]  # after the front matter
    blocks = [b for b in re.split(r"\n\s*\n", body.strip()) if b.strip()]
    title = re.sub(r"^\([\w-]+\)=\n", "", blocks[0])  # a MyST label may stand above the title
    assert title.startswith("# "), "a chapter starts with its title"
    assert "learning objectives" in blocks[1].lower(), "the learning objectives come right after the title"
    nb = read_myst_markdown_notebook(text)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if "/roles/" in chapter:  # role chapters compute on data from a hidden preamble (framework ones may show it)
        hidden = {"remove-cell", "remove-input", "hide-input"}
        assert code and hidden & set(code[0].metadata.get("tags", [])), "the first code cell is a hidden preamble"
    headings = re.findall(r"^## (.+)$", body, re.M)
    assert "Summary" in headings
    # Role chapters end with exercises; framework chapters with something the L&D lead acts on.
    closing = [i for i, h in enumerate(headings) if re.match(r"Exercises" if "/roles/" in chapter else
                                                             r"(Checklist|Exercises|Template)", h)]
    assert closing and closing[-1] > headings.index("Summary"), "exercises or a checklist come after the summary"


# -- slow: the real build ----------------------------------------------------------------------------


@pytest.mark.slow
def test_build_with_warnings_as_errors_writes_every_toc_page(built_site):
    missing = [f for f in toc_files() if not (built_site / f"{f}.html").is_file()]
    assert missing == []


@pytest.fixture(scope="module")
def sales_page(built_site) -> str:
    return (built_site / f"{SALES}.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_sales_page_shows_the_glued_numbers_computed_from_the_data(sales_page, sales_glue):
    pasted = re.findall(r'<span class="pasted-text">([^<]*)</span>', sales_page)
    absent = {name: value for name, value in sales_glue.items() if value not in pasted}
    assert absent == {}, f"glued values not on the page (found {pasted})"


@pytest.mark.slow
def test_sales_page_attributes_every_dataset_it_shows(sales_page):
    text = html.unescape(re.sub(r"<[^>]+>", "", sales_page))  # the words a reader sees (a source is a link)
    for name in ("cfpb_complaints", "online_retail"):
        assert citation(name) in text, name


@pytest.mark.slow
def test_sales_page_says_which_model_answered(sales_page):
    assert "LLM endpoint " in sales_page


@pytest.mark.slow
def test_sales_page_embeds_the_widget_state_for_every_widget_view(sales_page):
    m = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', sales_page, re.S)
    assert m, "no saved widget state: the widget would not render on the static page"
    state = json.loads(m.group(1))["state"]
    views = re.findall(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', sales_page, re.S)
    assert views, "no widget view on the page"
    for view in views:
        model_id = json.loads(view)["model_id"]
        assert model_id in state
    names = {m["model_name"] for m in state.values()}
    assert {"DropdownModel", "StackModel", "LinkModel"} <= names


# -- slow: nbval on every chapter ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("chapter", code_chapters())
def test_chapter_runs_under_nbval(chapter, tmp_path):
    ipynb = tmp_path / f"{Path(chapter).name}.ipynb"
    nbformat.write(read_myst_markdown_notebook((ROOT / f"{chapter}.md").read_text()), ipynb)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keep the repo's pytest options out of the run
    env = {**os.environ, "ADOPTKIT_CONFIG": str(ROOT / "_config.yml")}
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-cell-timeout=300", "-p", "no:cacheprovider",
           "-q", str(ipynb)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"nbval failed on {chapter}:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    n_code = sum(c.cell_type == "code" for c in nbformat.read(ipynb, 4).cells)
    assert re.search(rf"\b{n_code} passed\b", proc.stdout), proc.stdout[-2000:]


def test_config_serves_widget_and_math_scripts_from_the_site():
    from adoptkit.site import config_problems

    assert config_problems(yaml.safe_load((ROOT / "_config.yml").read_text())) == []

"""The ROI and competency pages in a real browser (Debian's chromium, headless): written by the real commands
from real records, screenshotted, and read as a person sees them: the labels a CFO relies on, no "-0", and
colours that a reader with red-green colour blindness (deuteranopia) can still tell apart."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

from adoptkit import settings
from adoptkit.measure import cohort as cohort_mod
from adoptkit.measure import roi, simulate

from _adoption import book_inputs, run_adoptkit
from browser import launch, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

# Machado, Oliveira & Fernandes (2009), deuteranopia at severity 1.0, applied in linear RGB.
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])


def _linear(c):
    c = np.asarray(c, dtype=float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def as_deuteranope(rgb) -> np.ndarray:
    c = np.clip(DEUTERANOPIA @ _linear(rgb), 0, 1)
    return 255 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def luminance(rgb) -> float:
    return float(np.array([0.2126, 0.7152, 0.0722]) @ _linear(rgb))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """roi.html and competency.html for a seeded cohort written as real records; the costs are set so the ROI
    is near 0, so the sensitivity table holds both losses and gains; model usage is left uncosted."""
    root = tmp_path_factory.mktemp("browser-course")
    section = book_inputs()
    c = simulate.cohort(80, 6000, seed=21, settings=settings.parse(section, root=root))
    section = {**section, **simulate.write_records(c, root)}
    del section["roi"]["programme_costs"]["model_usage"]
    res = roi.compute(cohort_mod.load(settings.parse(section, root=root)), settings.parse(section, root=root))
    tuned = copy.deepcopy(section)
    tuned["roi"]["programme_costs"]["content_and_facilitation"] += res.benefits - res.cost  # ROI = 0
    for report in ("roi", "competency"):
        r = run_adoptkit(root, tuned, "report", report, "--out", "reports")
        assert r.returncode == 0, r.stderr
    return root / "reports"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        try:
            yield b
        finally:
            b.close()


def _open(browser, path, shot):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(path.as_uri(), wait_until="load")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000  # a real rendering, not a blank page
    return page


def _cells(page, selector):
    return page.eval_on_selector_all(selector, """cells => cells.map(c => [c.innerText,
        getComputedStyle(c).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)])""")


def test_roi_page_labels_in_the_browser(pages, browser, tmp_path):
    page = _open(browser, pages / "roi.html", tmp_path / "roi.png")
    text = page.locator("body").inner_text()
    for label in ("return on investment (Phillips)", "attribution to the training", "50%",
                  "not costed, so the ROI is overstated", "model usage",
                  "1 Reaction: would recommend the course (agree or strongly agree)",
                  "same", "learners", "Timed exercise (not a level-4 business result)", "95% interval",
                  "counterbalanced crossover", "Sensitivity"):
        assert label in text, label
    assert "4 Results:" not in text and not re.search(r"(?<![\d.])-0%", text)
    headline = page.locator(".kpis.headline").inner_text()
    assert "not costed" in headline and "attribution" in headline  # in the headline box itself
    cells = _cells(page, "table.heat td")
    values = [(int(t.rstrip("%")), rgb) for t, rgb in cells]
    losses = [rgb for v, rgb in values if v < -30]
    gains = [rgb for v, rgb in values if v > 30]
    assert losses and gains, values
    # a loss and a gain stay apart for a deuteranope (red against green would merge into one olive)
    gap = min(np.linalg.norm(as_deuteranope(a) - as_deuteranope(b)) for a in losses for b in gains)
    assert gap > 40, gap


def test_competency_page_labels_in_the_browser(pages, browser, tmp_path):
    page = _open(browser, pages / "competency.html", tmp_path / "competency.png")
    text = page.locator("body").inner_text()
    for label in ("learners assessed both times (the change is theirs)", "mean level before → after, same learners",
                  "only before / only after (not in the change)", "Levels by role, before and after"):
        assert label in text, label
    cells = _cells(page, "table.heat td")
    by_level = {}
    for t, rgb in cells:
        if "→" in t and t.split("→")[1].isdigit():
            by_level.setdefault(int(t.split("→")[1]), rgb)
    assert len(by_level) >= 3, by_level
    # the colour's lightness rises with the level, so the order reads without telling hues apart
    lum = [luminance(by_level[k]) for k in sorted(by_level)]
    assert all(a < b for a, b in zip(lum, lum[1:])), lum

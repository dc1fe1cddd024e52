"""The HR path states the law it relies on beyond the US, each with the official text's address, labelled as not
legal advice; the links render as written (myst-parser escapes an & in a Markdown link's URL twice)."""

from __future__ import annotations

import html
import re

from docutils.core import publish_string
from myst_parser.parsers.docutils_ import Parser
from nbgrader_harness import ROOT

CHAPTER = ROOT / "book" / "roles" / "hr" / "bias-audit.md"
SOURCES = {
    "Local Law 144": "https://legistar.council.nyc.gov/LegislationDetail.aspx?ID=4344524&GUID=B051915D-A9AC-451E-81F8-6596032FA3F9",
    "Regulation (EU) 2024/1689": "https://eur-lex.europa.eu/eli/reg/2024/1689/oj",
    "Regulation (EU) 2016/679": "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
}


def law_section() -> str:
    return CHAPTER.read_text().split("## Beyond the US", 1)[1].split("\n## ", 1)[0]


def test_each_law_is_named_with_its_official_source_and_the_section_is_not_legal_advice():
    section = law_section()
    rendered = publish_string(section, parser=Parser(), writer_name="html5").decode()
    hrefs = {html.unescape(h) for h in re.findall(r'href="([^"]+)"', rendered)}
    for law, url in SOURCES.items():
        assert law in section, f"{law} is not named"
        assert url in hrefs, f"the link to {law}'s text does not render as {url} (found {sorted(hrefs)})"
    assert "Not legal advice" in section
    for article in ("Article 22", "Article 35", "Annex III", "section 20-871"):
        assert article in section, f"{article} is not cited"

"""What a chapter shows around its tables and figures, in words a non-programmer reads easily.

    from adoptkit.site import cite, number, p_value

    display(table)
    cite(table)                         # the data's attribution, as a note that wraps under the table
    p_value(3.2e-7, "Fisher's exact test")   # 'less than 1 in a million (Fisher's exact test)'
    table.style.format({"ROI": number(".0f")})  # never "-0"

One place for these, so every page says them the same way.
"""

from __future__ import annotations

import math
import re

# The characters CommonMark gives a meaning to (backticks excepted: a citation uses them for code).
_MARKDOWN = re.compile(r"([\\*_\[\]<>#+!|~{}&])")
_URL = re.compile(r"https?://[^\s<>]+[^\s<>.,;:)\]]")


def markdown_text(text: str) -> str:
    """`text` as Markdown that renders as itself: "O*NET ... O*NET" stays O*NET, not O<em>NET ... O</em>NET.

    Web addresses become links (CommonMark autolinks); everything else is escaped."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out += [_MARKDOWN.sub(r"\\\1", text[last:m.start()]), f"<{m.group()}>"]
        last = m.end()
    out.append(_MARKDOWN.sub(r"\\\1", text[last:]))
    return "".join(out)


def citation_text(source) -> str:
    """The attribution of `source`: a DataFrame loaded by adoptkit.data.load, a catalog name, or the text."""
    attrs = getattr(source, "attrs", None)
    if isinstance(attrs, dict):
        if not attrs.get("citation"):
            raise ValueError("this table carries no attrs['citation']: load it with adoptkit.data.load, "
                             "or pass the attribution text to cite()")
        return attrs["citation"]
    from adoptkit.data import DATASETS

    return DATASETS[source].citation if source in DATASETS else str(source)


def cite(source) -> None:
    """Show the attribution of what the cell just showed, as a small note that wraps to the page.

    Markdown for the book and JupyterLab, plain text where only text is shown (a terminal, nbval)."""
    from IPython.display import display

    text = citation_text(source)
    display({"text/markdown": f"<small>{markdown_text(text)}</small>", "text/plain": text}, raw=True)


def p_value(p: float, test: str | None = None) -> str:
    """A p-value in words a reader can take in: rounded, never in scientific notation, with its test.

    0.42 -> '0.42'; 0.003 -> '0.003'; 0.0004 -> 'less than 1 in 1,000'; 2e-7 -> 'less than 1 in a million'.
    """
    if p is None or math.isnan(p):
        return "not computed"
    if p < 1e-6:
        text = "less than 1 in a million"
    elif p < 1e-3:
        text = "less than 1 in 1,000"
    elif p < 0.01:
        text = f"{p:.3f}"
    else:
        text = f"{p:.2f}"
    return f"{text} ({test})" if test else text


def number(spec: str = ",.0f"):
    """A formatter for a number (pandas' Styler.format, or called on a value) that never shows "-0":
    a value that rounds to zero is shown as zero, whatever its sign. `spec` is a format spec (",.0f")."""

    def format_(value) -> str:
        text = format(value, spec)
        if text.startswith("-") and not re.search(r"[1-9]", text) and re.search(r"0", text):
            text = text[1:]
        return text

    return format_

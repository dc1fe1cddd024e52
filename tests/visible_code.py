"""How much of a built book page a reader sees as code: visible code characters / visible text characters.

Read from the HTML Jupyter Book writes, inside the page's article (not the navigation, the sidebars or
the footer). Characters are counted without white space, so indentation does not weigh.

- *Visible* leaves out what a reader does not see when the page opens: the inside of a closed
  `<details>` (a `hide-input` cell's source, a dropdown) except its summary line, scripts and styles
  (the widgets' saved state), and anything marked `hidden` or `display: none`.
- *Code* is the source of a code cell (`div.cell_input`) and a code block in the prose (a `highlight-*`
  block or a literal block), wherever it is not a cell's output: what a cell prints or shows (a table, a
  chart, a printed line) is the page's result, not code. Inline literals in sentences (`hr-nocode`) count
  as text.

    python tests/visible_code.py _build/html book/roles/sales book/roles/hr/bias-audit.html
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
INVISIBLE = {"script", "style", "template", "noscript"}


def _classes(attrs: dict) -> set[str]:
    return set((attrs.get("class") or "").split())


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []  # one frame per open element: its flags, inherited by its children
        self.text = self.code = 0

    def _top(self) -> dict:
        return self.stack[-1] if self.stack else {"article": False, "hidden": False, "code": False,
                                                   "output": False, "closed_details": False}

    def handle_starttag(self, tag, attrs_list):
        attrs = dict(attrs_list)
        classes, parent = _classes(attrs), self._top()
        style = (attrs.get("style") or "").replace(" ", "").lower()
        frame = dict(parent)
        frame["tag"] = tag
        frame["article"] = parent["article"] or (tag == "article" and "bd-article" in classes)
        frame["closed_details"] = tag == "details" and "open" not in attrs
        frame["hidden"] = (parent["hidden"] or tag in INVISIBLE or "hidden" in attrs
                           or "display:none" in style
                           # the content of a closed <details> beside its summary line
                           or (parent["closed_details"] and tag != "summary")
                           # a closed toggle shows its "Show" label, not its "Hide" one
                           or (parent.get("in_closed_summary") and "expanded" in classes))
        frame["in_closed_summary"] = tag == "summary" and parent["closed_details"]
        frame["output"] = parent["output"] or "cell_output" in classes
        frame["code"] = parent["code"] or (not frame["output"] and (
            "cell_input" in classes or "literal-block" in classes
            or any(c.startswith("highlight-") for c in classes)))
        if tag not in VOID:
            self.stack.append(frame)

    def handle_endtag(self, tag):
        # Pop to the matching element (HTML closes some elements implicitly).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        frame = self._top()
        if not frame["article"] or frame["hidden"]:
            return
        n = sum(not ch.isspace() for ch in data)
        self.text += n
        if frame["code"]:
            self.code += n


def visible_code(html: str) -> tuple[int, int]:
    """(visible code characters, visible text characters) in a built page's article, code included in text."""
    counter = _Counter()
    counter.feed(html)
    counter.close()
    return counter.code, counter.text


def code_share(html: str) -> float:
    """Visible code as a share of the visible text of a built page (0 for a page with no text)."""
    code, text = visible_code(html)
    return code / text if text else 0.0


def main(argv: list[str]) -> None:
    site, *wanted = argv
    root = Path(site)
    pages = []
    for w in wanted or ["."]:
        p = root / w
        pages += sorted(p.rglob("*.html")) if p.is_dir() else [p]
    for page in pages:
        code, text = visible_code(page.read_text(encoding="utf-8"))
        print(f"{page.relative_to(root).as_posix():55} {code / text if text else 0:6.1%}  ({code:,} of {text:,})")


if __name__ == "__main__":
    main(sys.argv[1:])

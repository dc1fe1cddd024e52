"""The kit's Sphinx extension for the book (listed under `sphinx: extra_extensions:` in _config.yml).

- Every figure must say what it shows: an image without alt text (or with a file name for one) is a
  build warning, so `jupyter-book build -W` fails on it and names the page.
- The `adoptkit-commands` directive: the table of every `adoptkit` command, read from the command
  itself when the page is built, so the book's list cannot drift from the program.
- No console error on a page: pydata-sphinx-theme reads its colour mode from `html_context["default_mode"]`
  and logs an error when it is unset (Jupyter Book sets none), and a site without an icon makes every
  browser ask for /favicon.ico and log a 404; both get a default an organisation's config can override.
- Each inline script once per page: Sphinx 7.4 adds an inline script registered after the builder
  started twice (once as filename None, once as ""), and sphinx-thebe's `const THEBE_JS_URL` then
  throws "Identifier 'THEBE_JS_URL' has already been declared" on every page.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path, PurePosixPath

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".pdf")
HOW_TO_ALT = ("describe what it shows: for a figure a code cell draws, in the cell's options "
              "(---\\nmystnb:\\n  image:\\n    alt: ...\\n---); for a Markdown image, ![what it shows](path)")


def alt_problem(alt: str | None, uri: str = "") -> str | None:
    """Why `alt` does not describe an image (None when it does)."""
    text = (alt or "").strip()
    if not text:
        return "has no alt text"
    name = PurePosixPath(text.split("?")[0])
    if text == uri or name.suffix.lower() in IMAGE_SUFFIXES or re.fullmatch(r"[\w./-]*/[\w./-]*", text):
        return f"has a file name for alt text ({text!r})"
    return None


def _check_alt_text(app, doctree: nodes.document, docname: str) -> None:
    for image in doctree.findall(nodes.image):
        problem = alt_problem(image.get("alt"), image.get("uri", ""))
        if problem:
            node = image
            while node is not None and not node.line:  # the cell or paragraph the image sits in
                node = node.parent
            line = node.line if node is not None else None
            logger.warning(f"a figure {problem}: {HOW_TO_ALT}", location=(docname, line), type="adoptkit",
                           subtype="alt-text")


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def commands(group=None, prefix: str = "adoptkit"):
    """(command line, what it does, its function) for every leaf of the `adoptkit` click tree, in tree order."""
    import click

    if group is None:
        from adoptkit.cli import main as group
    ctx = click.Context(group, info_name=prefix)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        if isinstance(cmd, click.Group):
            yield from commands(cmd, f"{prefix} {name}")
        else:
            usage = " ".join(cmd.collect_usage_pieces(click.Context(cmd, info_name=name, parent=ctx)))
            usage = " ".join(usage.replace("[OPTIONS]", "").split())
            yield f"{prefix} {name} {usage}".strip(), cmd.get_short_help_str(limit=200), cmd.callback


class CommandsTable(SphinxDirective):
    """```{adoptkit-commands}```: a table of every `adoptkit` command and what it does."""

    def run(self) -> list[nodes.Node]:
        rows = list(commands())
        # Sphinx re-reads the page when a module that defines a command changes.
        for path in sorted({inspect.getsourcefile(fn) for _, _, fn in rows if fn} - {None}):
            self.env.note_dependency(path)
        table = nodes.table(classes=["adoptkit-commands"])
        group = nodes.tgroup(cols=2)
        table += group
        group += [nodes.colspec(colwidth=40), nodes.colspec(colwidth=60)]
        group += nodes.thead("", nodes.row("", *[nodes.entry("", nodes.paragraph(text=h))
                                                 for h in ("Command", "What it does")]))
        body = nodes.tbody()
        group += body
        for line, help_, _ in rows:
            body += nodes.row("", nodes.entry("", nodes.paragraph("", "", nodes.literal(text=line))),
                              nodes.entry("", nodes.paragraph("", "", *_help_nodes(help_))))
        return [table]


def _help_nodes(text: str) -> list[nodes.Node]:
    """A command's help as text, with `code` and --options as literals (so "--watch" is not typeset as a dash)."""
    out, last = [], 0
    for m in re.finditer(r"`([^`]+)`|(--[\w-]+)", text):
        out += [nodes.Text(text[last:m.start()]), nodes.literal(text=m.group(1) or m.group(2))]
        last = m.end()
    return [*out, nodes.Text(text[last:])]


def _defaults(app, config) -> None:
    config.html_context.setdefault("default_mode", "auto")  # light or dark, as the reader's system prefers
    if not config.html_favicon:
        config.html_favicon = str(Path(__file__).with_name("favicon.svg"))


def setup(app):
    app.connect("config-inited", _defaults)
    app.connect("doctree-resolved", _check_alt_text)
    app.connect("html-page-context", _dedupe_scripts)
    app.add_directive("adoptkit-commands", CommandsTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

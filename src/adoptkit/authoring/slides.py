"""`adoptkit slides PATH`: a reveal.js deck per chapter of a path, for live sessions, built offline.

Each chapter is run (or its executed copy from the last book build is reused, when newer than its source),
then turned into slides with nbconvert's reveal.js exporter and the kit's template (templates/slides/): the
title and objectives first, a slide per `##` section, each table or figure on its own slide with its
attribution, no code (the learners on these paths do not read code), glued numbers filled in, and a last
slide with the chapter's exercises. Figures keep the alt text their cell gives (`mystnb.image.alt`).

The deck loads nothing from the internet: reveal.js is pinned as an npm tarball (version and sha512
integrity, checked like the site's scripts in adoptkit.site.vendor, whose fetch and extraction it reuses),
and require.js, MathJax and the widget manager are the site's own pinned copies. Everything is copied into
`_build/slides/<path>/_vendor/`, beside the decks, so the folder can be served as it is
(`adoptkit slides PATH --serve` serves it on 127.0.0.1) or copied to a shared drive.
"""

from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict
from importlib.resources import as_file, files
from pathlib import Path

import nbformat

from ..site import vendor
from . import toc
from .names import AuthoringError, check_name

REVEAL = vendor.NpmPin(
    "reveal.js",
    "4.6.1",  # the 4.x line nbconvert's reveal template is written for; the newest 4.x
    "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
    dest="reveal.js",
    strip="",
    include=("dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/theme/fonts/source-sans-pro/*.css",
             "dist/theme/fonts/source-sans-pro/*.woff", "dist/theme/fonts/source-sans-pro/LICENSE",
             "plugin/notes/notes.js", "LICENSE", "package.json"),
)
VENDOR = "_vendor"
TEMPLATE = "adoptkit_reveal"
GLUE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")
ROLE = re.compile(r"\{[\w:.-]+\}`(?:[^`<]*<)?([^`>]*)>?`")
FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}\s*(.*)$")
UNDESCRIBED = "A figure the chapter gives no description for."


class SlidesError(AuthoringError):
    pass


# -- the vendored files ------------------------------------------------------------------------------------

def ensure_reveal(cache_dir: Path) -> Path:
    """`<cache>/reveal_vendor/reveal.js/...`, fetched with `npm pack` once and checked against the pin."""
    cache = Path(cache_dir)
    out = cache / "reveal_vendor"
    stamp = out / ".pin.json"
    want = json.dumps(asdict(REVEAL), sort_keys=True)
    if stamp.is_file() and stamp.read_text() == want and (out / REVEAL.dest / "dist" / "reveal.js").is_file():
        return out
    try:
        tgz = vendor._fetch(REVEAL, cache / "npm")  # integrity-checked, as for the site's scripts
        tmp = cache / "reveal_vendor.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        vendor._extract(REVEAL, tgz, tmp / REVEAL.dest)
    except vendor.VendorError as err:
        raise SlidesError(str(err)) from None
    (tmp / ".pin.json").write_text(want)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def install(out: Path, cache_dir: Path) -> Path:
    """Copy reveal.js and the site's require.js, MathJax and widget manager into `out`/_vendor."""
    dest = out / VENDOR
    shutil.rmtree(dest, ignore_errors=True)
    try:
        site = vendor.ensure_vendor(cache_dir) / vendor.SITE_SUBDIR
    except vendor.VendorError as err:
        raise SlidesError(str(err)) from None
    shutil.copytree(site, dest)
    shutil.copytree(ensure_reveal(cache_dir) / REVEAL.dest, dest / REVEAL.dest)
    return dest


# -- the chapters ------------------------------------------------------------------------------------------

def chapters(root: Path, path: str) -> list[Path]:
    check_name(path, "path")
    contents = toc.read(root)
    index = f"book/roles/{path}/index"
    if index not in toc.files(contents):
        raise SlidesError(f"there is no path {path!r} in _toc.yml (no {index})")
    found = [root / f"{f}.md" for f in toc.sections(contents, index)]
    if not found:
        raise SlidesError(f"the path {path!r} has no chapters yet: add one with `adoptkit new chapter {path} NAME`")
    return found


def executed(root: Path, chapter: Path, echo=None):
    """The chapter as an executed notebook: the last book build's copy if it is newer, else run now."""
    from myst_nb.core.read import read_myst_markdown_notebook

    rel = chapter.relative_to(root).with_suffix(".ipynb")
    built = root / "_build" / "jupyter_execute" / rel
    if built.is_file() and built.stat().st_mtime >= chapter.stat().st_mtime:
        return nbformat.read(built, as_version=4)
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    nb = read_myst_markdown_notebook(chapter.read_text(encoding="utf-8"))
    if echo:
        echo(f"running {chapter.relative_to(root)} (no up-to-date copy from a book build)")
    before = os.environ.get("ADOPTKIT_CONFIG")
    os.environ["ADOPTKIT_CONFIG"] = str(root / "_config.yml")
    try:
        with tempfile.TemporaryDirectory(prefix="adoptkit-slides-") as sockets:
            km = KernelManager(kernel_name="python3", transport="ipc")
            km.ip = str(Path(sockets) / "kernel")
            try:
                NotebookClient(nb, km=km, timeout=300, kernel_name="python3", allow_errors=False,
                               startup_timeout=120, resources={"metadata": {"path": str(chapter.parent)}}).execute()
            finally:
                if km.has_kernel:  # a client given its own manager leaves the kernel running
                    km.shutdown_kernel(now=True)
    except Exception as err:  # noqa: BLE001 (a cell's error: say which chapter, keep the reason)
        raise SlidesError(f"{chapter.relative_to(root)} failed to run ({type(err).__name__}: "
                          f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''}); build the book to see "
                          f"the whole error") from None
    finally:
        if before is None:
            os.environ.pop("ADOPTKIT_CONFIG", None)
        else:
            os.environ["ADOPTKIT_CONFIG"] = before
    return nb


def glued(nb) -> dict[str, str]:
    """name -> text/plain of every value the chapter glued."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            key = (meta or {}).get("mime_prefix", "") + "text/plain"  # glue(display=False) prefixes its keys
            if meta and key in o.get("data", {}):
                out[meta["name"]] = o["data"][key]
    return out


def _fill_glue(text: str, values: dict[str, str]) -> str:
    from myst_nb.core.variables import format_plain_text

    def one(m: re.Match) -> str:
        name, spec = m.group(1), m.group(2) or ""
        if name not in values:
            return "…"
        try:
            return format_plain_text(values[name], spec)
        except (ValueError, TypeError):
            return values[name]

    return GLUE.sub(one, text)


def _myst_to_markdown(text: str) -> str:
    """MyST directives and roles as plain Markdown a deck can show (admonitions as a titled quote)."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if not m:
            out.append(ROLE.sub(r"\1", lines[i]))
            i += 1
            continue
        fence, name, arg = m.groups()
        j = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == fence), len(lines))
        body = [line for line in lines[i + 1:j] if not re.match(r"^\s*:[\w-]+:", line)]
        if name in ("admonition", "note", "tip", "important", "warning", "seealso", "hint", "caution"):
            title = arg or name.capitalize()
            out += [f"**{title}**", ""] + [ROLE.sub(r"\1", b) for b in body]
        elif name not in ("code-cell", "glue:figure", "raw"):
            out += [ROLE.sub(r"\1", b) for b in body]
        i = j + 1
    return "\n".join(out)


def _sections(markdown: str) -> list[str]:
    """A markdown cell split at its `#`/`##` headings (each starts a slide)."""
    parts, cur = [], []
    for line in markdown.split("\n"):
        if re.match(r"^#{1,2} ", line) and cur and any(c.strip() for c in cur):
            parts.append("\n".join(cur).strip())
            cur = []
        cur.append(line)
    if any(c.strip() for c in cur):
        parts.append("\n".join(cur).strip())
    return parts


def deck(nb, chapter_title: str, notes: list[str] | None = None) -> tuple[nbformat.NotebookNode, list[str]]:
    """The chapter's notebook as slides; also the figures that have no alt text (by slide)."""
    values = glued(nb)
    cells, missing_alt = [], []
    in_exercises = False
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type == "markdown":
            text = _myst_to_markdown(_fill_glue(cell.source, values))
            for part in _sections(text):
                heading = re.match(r"^(#{1,2}) (.*)", part)
                if heading:
                    in_exercises = heading.group(2).strip().lower().startswith("exercises")
                kind = "slide" if heading else "-"
                cells.append(nbformat.v4.new_markdown_cell(part, metadata={"slideshow": {"slide_type": kind}}))
            continue
        if "remove-cell" in tags or "remove-output" in tags or in_exercises:
            continue
        shown = []
        alt = ((cell.metadata.get("mystnb") or {}).get("image") or {}).get("alt")
        for o in cell.get("outputs", []):
            if o.get("output_type") not in ("display_data", "execute_result") or o.get("metadata", {}).get("scrapbook"):
                continue
            o = copy.deepcopy(o)
            if "image/png" in o.get("data", {}):
                if not alt:
                    missing_alt.append(chapter_title)
                o.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = " ".join(str(alt or UNDESCRIBED).split())
            shown.append(o)
        if not shown:
            continue
        big = any(k in o.get("data", {}) for o in shown for k in ("image/png", "text/html",
                                                                   "application/vnd.jupyter.widget-view+json"))
        out = nbformat.v4.new_code_cell("", metadata={"slideshow": {"slide_type": "subslide" if big else "-"}})
        out.outputs = shown
        cells.append(out)
    if notes:  # the questions the chapter's exercises ask (facilitator.prompts)
        cells.append(nbformat.v4.new_markdown_cell("## To discuss\n\n" + "\n".join(f"- {n}" for n in notes),
                                                   metadata={"slideshow": {"slide_type": "slide"}}))
    slides = nbformat.v4.new_notebook(cells=cells, metadata={k: v for k, v in nb.metadata.items()
                                                             if k in ("kernelspec", "language_info", "widgets")})
    slides.metadata["title"] = chapter_title
    return slides, missing_alt


def export(slides, name: str) -> str:
    from nbconvert import SlidesExporter

    with as_file(files("adoptkit.authoring").joinpath("templates", "slides")) as templates:
        exporter = SlidesExporter(template_name=TEMPLATE, extra_template_basedirs=[str(templates)],
                                  exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                                  reveal_url_prefix=f"{VENDOR}/{REVEAL.dest}",
                                  reveal_theme="white",  # the theme vendored (REVEAL.include)
                                  require_js_url=f"{VENDOR}/requirejs/require.js",
                                  mathjax_url=f"{VENDOR}/mathjax/tex-mml-chtml.js",
                                  widget_renderer_url=f"{VENDOR}/html-manager/embed-amd.js",
                                  jquery_url="", mermaid_js_url="")
        body, _ = exporter.from_notebook_node(slides, resources={"metadata": {"name": name}})
    # The widget manager finds its fonts through module-paths.js (as on the book's pages).
    return body.replace("<script src=\"" + f"{VENDOR}/requirejs/require.js" + "\"></script>",
                        f"<script src=\"{VENDOR}/requirejs/require.js\"></script>\n"
                        f"<script src=\"{VENDOR}/html-manager/module-paths.js\"></script>", 1)


def build(root: Path, path: str, out: Path | None = None, cache: Path | None = None, db_url: str | None = None,
          min_group: int = 5, echo=None) -> tuple[Path, list[str]]:
    """Write `out` (default _build/slides/<path>/): one deck per chapter, the facilitator guide, an index page
    and the vendored scripts. Returns the index page and the warnings (figures without alt text)."""
    from . import facilitator

    root = Path(root).resolve()
    out = Path(out) if out else root / "_build" / "slides" / path
    pages = chapters(root, path)
    out.mkdir(parents=True, exist_ok=True)
    install(out, Path(cache) if cache else root / ".cache")
    warnings, listed = [], []
    for page in pages:
        nb = executed(root, page, echo)
        title = next((c.source.split("\n", 1)[0][2:].strip() for c in nb.cells
                      if c.cell_type == "markdown" and c.source.startswith("# ")), page.stem)
        text = _myst_to_markdown(_fill_glue(page.read_text(encoding="utf-8"), glued(nb)))
        slides, missing = deck(nb, title, facilitator.prompts(text))
        warnings += [f"{page.relative_to(root)}: a figure has no alt text; the deck says so in its place (add "
                     f"mystnb.image.alt to the cell)" for _ in missing]
        (out / f"{page.stem}.slides.html").write_text(export(slides, page.stem), encoding="utf-8")
        listed.append((page, title, text))
    guide = facilitator.write(out, facilitator.guide(root, path, listed, db_url, min_group))
    items = "\n".join(f'<li><a href="{html.escape(page.stem)}.slides.html">{html.escape(title)}</a></li>'
                      for page, title, _ in listed)
    index = out / "index.html"
    index.write_text(f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Slides: {html.escape(path)}"
                     f"</title></head>\n<body><h1>Slides for the {html.escape(path)} path</h1>\n<ol>\n{items}\n</ol>\n"
                     f"<p>Press <kbd>S</kbd> in a deck for the speaker view, <kbd>Esc</kbd> for the overview. "
                     f"The <a href=\"{guide.name}\">facilitator guide</a> has the agenda, timing, discussion prompts "
                     f"and the mistakes seen in grading.</p>\n</body></html>\n", encoding="utf-8")
    return index, warnings

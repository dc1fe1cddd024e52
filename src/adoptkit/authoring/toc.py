"""Reading `_toc.yml`, and adding entries to it without losing its comments.

Jupyter Book builds only what `_toc.yml` lists (`only_build_toc_files`), so a new page is not in the book
until it is there. The file is edited as text (a YAML round trip would drop the comments that explain it),
and every edit is checked: the edited text is parsed again and must equal the old structure with exactly the
new entry added, or nothing is written.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import yaml

from .names import AuthoringError

TOC = "_toc.yml"
PATHS_PART = "Role paths"
PROGRAMME_PART = "Running the programme"


def read(root: Path) -> dict:
    path = Path(root) / TOC
    try:
        toc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise AuthoringError(f"cannot read {path} ({err.strerror or err}): run the command in the course's "
                             f"folder (the one with _config.yml and _toc.yml)") from None
    except yaml.YAMLError as err:
        raise AuthoringError(f"{path} is not valid YAML ({err}); fix it before adding pages") from None
    if not isinstance(toc, dict) or "root" not in toc:
        raise AuthoringError(f"{path} is not a Jupyter Book table of contents (no `root:`)")
    return toc


def _walk(entries, out: list[str]) -> None:
    for e in entries or []:
        if isinstance(e, dict):
            if "file" in e:
                out.append(str(e["file"]))
            _walk(e.get("sections"), out)
            _walk(e.get("chapters"), out)


def files(toc: dict) -> list[str]:
    """Every file the table of contents lists (without extension), in reading order."""
    out = [str(toc["root"])]
    _walk(toc.get("chapters"), out)
    for part in toc.get("parts") or []:
        _walk(part.get("chapters"), out)
    return out


def _find(entries, file: str):
    for e in entries or []:
        if isinstance(e, dict):
            if e.get("file") == file:
                return e
            found = _find(e.get("sections"), file) or _find(e.get("chapters"), file)
            if found is not None:
                return found
    return None


def entry(toc: dict, file: str) -> dict | None:
    for part in toc.get("parts") or [{"chapters": toc.get("chapters")}]:
        if (found := _find(part.get("chapters"), file)) is not None:
            return found
    return None


def sections(toc: dict, file: str) -> list[str]:
    """The files listed as sections of `file` (a path's chapters under its index page), in order."""
    e = entry(toc, file)
    out: list[str] = []
    _walk((e or {}).get("sections"), out)
    return out


def part_files(toc: dict, caption: str) -> list[str]:
    out: list[str] = []
    for part in toc.get("parts") or []:
        if part.get("caption") == caption:
            _walk(part.get("chapters"), out)
    return out


# -- editing --------------------------------------------------------------------------------------------

def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the last content line below `start` that is indented deeper than `indent`."""
    end, i = start + 1, start + 1
    while i < len(lines):
        if _content(lines[i]):
            if _indent(lines[i]) <= indent:
                break
            end = i + 1
        i += 1
    return end


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".toc-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _commit(root: Path, lines: list[str], expected: dict, what: str) -> None:
    path = Path(root) / TOC
    text = "\n".join(lines) + "\n"
    try:
        got = yaml.safe_load(text)
    except yaml.YAMLError as err:
        got = err
    if got != expected:
        raise AuthoringError(f"adding {what} to {path} as text would not give the intended table of contents "
                             f"(its layout is unusual); nothing was changed. Add it by hand: {what}")
    _write(path, text)


def add_to_part(root: Path, caption: str, file: str) -> None:
    """Append `- file: FILE` to the chapters of the part titled `caption` (after its last entry)."""
    toc = read(root)
    if file in files(toc):
        raise AuthoringError(f"{TOC} already lists {file}")
    expected = copy.deepcopy(toc)
    part = next((p for p in expected.get("parts") or [] if p.get("caption") == caption), None)
    if part is None:
        raise AuthoringError(f"{TOC} has no part with the caption {caption!r}; add `- caption: {caption}` with a "
                             f"`chapters:` list, then run the command again")
    part.setdefault("chapters", [])
    if part["chapters"] is None:
        part["chapters"] = []
    part["chapters"].append({"file": file})
    lines = (Path(root) / TOC).read_text(encoding="utf-8").splitlines()
    at = next((i for i, line in enumerate(lines)
               if line.strip().removeprefix("- ").strip() in (f"caption: {caption}", f'caption: "{caption}"',
                                                              f"caption: '{caption}'")), None)
    if at is None:
        raise AuthoringError(f"cannot find the line `- caption: {caption}` in {TOC}; add {file} by hand")
    dash = _indent(lines[at])
    end = _block_end(lines, at, dash)
    key = next((i for i in range(at, end) if lines[i].strip() == "chapters:"), None)
    if key is None:
        raise AuthoringError(f"the part {caption!r} in {TOC} has no `chapters:` line; add {file} by hand")
    first = next((lines[i] for i in range(key + 1, end) if lines[i].lstrip().startswith("- ")), None)
    pad = _indent(first) if first else _indent(lines[key]) + 2
    lines[end:end] = [" " * pad + f"- file: {file}"]
    _commit(root, lines, expected, f"`- file: {file}` under {caption!r}")


def add_section(root: Path, parent: str, file: str) -> None:
    """Append `- file: FILE` to the sections of the entry for `parent` (creating `sections:` if need be)."""
    toc = read(root)
    if file in files(toc):
        raise AuthoringError(f"{TOC} already lists {file}")
    expected = copy.deepcopy(toc)
    target = entry(expected, parent)
    if target is None:
        raise AuthoringError(f"{TOC} has no entry `- file: {parent}`")
    if not target.get("sections"):
        target["sections"] = []
    target["sections"].append({"file": file})
    lines = (Path(root) / TOC).read_text(encoding="utf-8").splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip() == f"- file: {parent}"), None)
    if at is None:
        raise AuthoringError(f"cannot find the line `- file: {parent}` in {TOC}; add {file} by hand")
    keys = _indent(lines[at]) + 2  # the entry's keys sit under its dash
    end = _block_end(lines, at, _indent(lines[at]))
    key = next((i for i in range(at + 1, end) if lines[i].strip() == "sections:" and _indent(lines[i]) == keys), None)
    if key is None:
        lines[end:end] = [" " * keys + "sections:", " " * (keys + 2) + f"- file: {file}"]
    else:
        sub_end = _block_end(lines, key, keys)
        first = next((lines[i] for i in range(key + 1, sub_end) if lines[i].lstrip().startswith("- ")), None)
        pad = _indent(first) if first else keys + 2
        lines[sub_end:sub_end] = [" " * pad + f"- file: {file}"]
    _commit(root, lines, expected, f"`- file: {file}` under {parent}")

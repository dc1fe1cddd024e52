"""Names and titles an author types, checked as hostile input before they become paths, YAML or Markdown.

A name becomes a folder (`book/roles/<path>/`), a file (`<chapter>.md`), a `_toc.yml` entry and an nbgrader
assignment, so it is held to the narrowest form that serves all four: lower-case letters and digits in words
joined by single hyphens. That form has no path separator, no dot (so no `..`), no YAML syntax and no
whitespace, which is what makes the later steps safe without escaping.
"""

from __future__ import annotations

import re
import unicodedata

NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_NAME = 40
MAX_TITLE = 90
# Names that would collide with the kit's own files or folders.
RESERVED = {"index", "intro", "roles", "authoring", "teachbacks", "policy", "quiz", "teachback", "nocode",
            "assessment", "source", "release", "submitted", "autograded", "feedback", "solution", "con", "nul"}


class AuthoringError(ValueError):
    """An authoring command cannot do what was asked; the message says why and what to do instead."""


def check_name(value: object, what: str) -> str:
    """`value` if it is a safe name for a path, chapter or exercise; else AuthoringError saying what to type."""
    if not isinstance(value, str):
        raise AuthoringError(f"the {what} name must be text, not {type(value).__name__}")
    shown = value if len(value) <= 60 else value[:60] + "..."
    if not NAME.fullmatch(value) or len(value) > MAX_NAME:
        hint = _suggest(value)
        raise AuthoringError(
            f"{what} name {shown!r} cannot be used: use lower-case letters and digits in words joined by single "
            f"hyphens, starting with a letter, at most {MAX_NAME} characters (it becomes a folder, a file name and a "
            f"_toc.yml entry, so no '/', '.', spaces, quotes or colons)" + (f"; for example {hint!r}" if hint else ""))
    if value in RESERVED:
        raise AuthoringError(f"{what} name {value!r} is reserved by the kit; pick a more specific name "
                         f"(for example {value}-basics)")
    return value


def check_title(value: object, default: str) -> str:
    """A one-line title for a heading: printable, no line breaks or Markdown/HTML that would change the page."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise AuthoringError(f"the title must be text, not {type(value).__name__}")
    if any(unicodedata.category(c).startswith("C") for c in value):  # control, format, unassigned, private
        raise AuthoringError("the title must be one line of visible text (it has a line break or a control character)")
    value = " ".join(value.split())
    if len(value) > MAX_TITLE:
        raise AuthoringError(f"the title has {len(value)} characters; keep it to {MAX_TITLE} (it is a heading)")
    if re.search(r"[<>`{}\[\]|*_#\\$]", value):
        raise AuthoringError(f"the title {value!r} has a character Markdown would read as markup (< > ` {{ }} [ ] | * _ # "
                         f"\\ $); write it in plain words")
    return value


def title_from(name: str) -> str:
    """'complaint-triage' -> 'Complaint triage'."""
    words = name.split("-")
    return " ".join([words[0].capitalize(), *words[1:]])


def _suggest(value: str) -> str | None:
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    text = re.sub(r"^[0-9-]+", "", text)[:MAX_NAME].strip("-")
    return text if text and NAME.fullmatch(text) and text != value else None

"""The answer files the no-code widgets leave beside the notebook, and how they are read back.

nbgrader grades by re-executing a notebook, which loses anything clicked in a widget, so every widget writes
its state to `quiz-answers/<name>.json` beside the notebook (the folder the Quiz already uses, submitted with
it). Writing is atomic (never a half-written file). Reading treats the file as hostile: it may be missing,
huge, not JSON or of the wrong shape, and each case comes back as (None, a note for the learner), never as an
exception, so one damaged file costs only its own part.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ANSWER_DIR = "quiz-answers"
MAX_BYTES = 512_000  # far above any honest answer file (a prompt history of 200 attempts is ~100 kB)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"name {name!r}: use letters, digits, '-' and '_' only (it names the answer file)")
    return name


def path_for(name: str, folder: str | os.PathLike = ".") -> Path:
    return Path(folder) / ANSWER_DIR / f"{check_name(name)}.json"


def save(name: str, data: dict, folder: str | os.PathLike = ".") -> str | None:
    """Write `data` atomically; return None, or a sentence saying why it could not be saved."""
    path = path_for(name, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".answers-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except OSError as err:
        return (f"Your answer could not be saved to {path} ({err.strerror or err}). It is still in the box; "
                f"check that the notebook's folder is writable, or ask your instructor.")
    return None


def load(name: str, folder: str | os.PathLike = ".") -> tuple[dict | None, str | None]:
    """(the saved answers, None); (None, None) when nothing was saved; (None, note) when the file is unusable."""
    path = path_for(name, folder)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None, None
    except OSError as err:
        return None, f"{path} could not be read ({err.strerror or err})"
    if len(raw) > MAX_BYTES:
        return None, f"{path} is larger than {MAX_BYTES // 1000} kB, far more than any answer; it was not read"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        return None, f"{path} is not a readable answer file ({err.__class__.__name__}); it was not read"
    if not isinstance(data, dict):
        return None, f"{path} does not hold an answer record (found a {type(data).__name__}); it was not read"
    return data, None

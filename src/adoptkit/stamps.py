"""What a build step read and what it wrote, so that `adoptkit build` redoes a step only when either changed.

A stamp is a small JSON file written after a step succeeded: its inputs (a content hash per input file,
plus the versions and settings that change its output) and one hash of everything it wrote. The step is
up to date while both still match, so an edited input, or a deleted or hand-edited output, redoes it.
The stamp is removed before the step runs and written only after it succeeded: a failed or interrupted
step leaves no stamp, and the next build runs it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .data.cache import sha256 as file_hash  # one streaming sha256 for the whole kit

# Never inputs or outputs of a step: caches Python, Jupyter and the OS leave beside the files.
_IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
_IGNORED_FILES = {".DS_Store"}
# Why a step runs though none of its inputs changed.
NEVER = "never built here (or the last run failed)"
OUTPUT_CHANGED = "its output was deleted or edited"


def files(folder: Path) -> list[Path]:
    """Every file under `folder`, in a stable order, without editor and interpreter caches."""
    if not folder.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_DIRS)
        found += [Path(dirpath, f) for f in sorted(filenames) if f not in _IGNORED_FILES]
    return found



def hashes(paths: Iterable[Path], base: Path) -> dict[str, str]:
    """{path relative to base: sha256 of its content}; a missing file hashes as "missing"."""
    return {p.relative_to(base).as_posix(): file_hash(p) if p.is_file() else "missing" for p in paths}


def digest(value) -> str:
    """One sha256 for any JSON-able value (dict keys sorted, so order never matters)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def tree_digest(*folders: Path) -> str:
    """One hash of every file's relative path and content under the folders; a missing folder counts."""
    return digest({str(f): hashes(files(f), f) if f.is_dir() else "missing" for f in folders})


@lru_cache(maxsize=1)
def environment() -> dict[str, str]:
    """The inputs every step shares: the Python, every installed package's version, and the kit's source.

    The kit's own code goes by content, not version: an editable install (a course author's checkout)
    keeps its version while its code changes, and the chapters and nbgrader's config import it."""
    import adoptkit

    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    kit = Path(adoptkit.__file__).parent
    return {"Python": sys.version, "the installed packages": digest(packages), "the kit's code": tree_digest(kit)}


class Stamp:
    """The stamp of one step, kept at `path` (a JSON file)."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def changes(self, inputs: dict[str, str], outputs: Callable[[], str]) -> list[str]:
        """Why the step must run ([] when it is up to date): the inputs that changed, or its outputs.

        `outputs` is called only when every input matches (hashing what a step wrote costs time)."""
        old = self._read()
        if not old:
            return [NEVER]
        before = old.get("inputs", {})
        changed = sorted((k for k in inputs.keys() | before.keys() if inputs.get(k) != before.get(k)),
                         key=lambda k: ("/" not in k, k))  # the files first: the likeliest news to a reader
        if changed:
            return changed
        if old.get("outputs") != outputs():
            return [OUTPUT_CHANGED]
        return []

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def write(self, inputs: dict[str, str], outputs: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"inputs": inputs, "outputs": outputs}, indent=1, sort_keys=True))
        os.replace(tmp, self.path)  # a half-written stamp never looks valid


def describe(changes: list[str], most: int = 3) -> str:
    """The first few reasons for a redo, for the build log."""
    shown = ", ".join(changes[:most])
    return shown + (f" and {len(changes) - most} more" if len(changes) > most else "")

"""Files handed in beside a notebook: which ones are safe to copy, at every step that copies them.

nbgrader copies a submission several times (the exchange into `submitted/` on collect, `submitted/`
into `autograded/`, `autograded/` into `feedback/`, feedback into the exchange on release), as root on a
shared server, with copy functions that follow links. A link beside the notebook to `/etc/shadow`, the
gradebook or another learner's work would be copied as the file it points to, read by the kernel and
sent back in the feedback. So every copy goes through `safe_copy`, which copies only regular files
and folders of the submission itself and refuses, and reports:

- symbolic links (the notebook itself too), devices, FIFOs and sockets;
- hard links (a regular file with more than one name may be another file's other name);
- files owned by another user than the submission's folder (another learner's), where `owner` is given;
- Python a kernel would import in place of a real module (`numpy.py`, `pandas/`), and compiled or
  path-changing files it cannot read first (`.pyc`, `.so`, `.pth`).

Refusals are written to `REFUSED` in the destination folder, so the grading steps after a copy (the
report, the gradebook flag) know what was left out and why.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

REFUSED = ".adoptkit-refused.json"
COMPILED = (".pyc", ".pyo", ".so", ".pyd", ".pth", ".egg-link")


@dataclass
class Refusal:
    path: str  # relative to the submission folder
    why: str


def kind_problem(st: os.stat_result) -> str | None:
    """Why a file of this kind may not be copied, or None for a regular file or a folder."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode) and st.st_nlink > 1:
        return f"a hard link ({st.st_nlink} names for one file; the others may be outside the submission)"
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "not a regular file"
    return None


def module_problem(rel: str, importable: set[str] | None) -> str | None:
    """Why a Python file at `rel` (relative to the submission) may not go beside the kernel."""
    name = os.path.basename(rel)
    top = rel.split(os.sep)[0]
    if name.endswith(COMPILED) or name == "__pycache__":
        return "compiled or import-path Python the grader cannot read first"
    if importable is None:
        return None
    stem = top[:-3] if top.endswith(".py") else top
    if (top.endswith(".py") or os.sep in rel and rel.endswith(".py")) and stem in importable:
        return f"it would be imported in place of the module {stem!r}"
    return None


def scan(folder: str | Path, owner: int | None = None, importable: set[str] | None = None,
         skip: tuple[str, ...] = (REFUSED,)) -> tuple[list[str], list[Refusal]]:
    """(regular files and folders to copy, refusals), relative to `folder`; never follows a link."""
    folder = str(folder)
    keep: list[str] = []
    refused: list[Refusal] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(folder, rel_dir)), key=lambda e: e.name)
        except OSError as err:
            refused.append(Refusal(rel_dir or ".", f"could not be read ({err.strerror})"))
            continue
        for entry in entries:
            rel = os.path.join(rel_dir, entry.name)
            if entry.name in skip:
                continue
            st = entry.stat(follow_symlinks=False)
            why = kind_problem(st)
            if why is None and owner is not None and st.st_uid not in (owner, 0) and st.st_uid != os.geteuid():
                why = f"owned by another user (uid {st.st_uid}), not by the learner who handed it in"
            if why is None:
                why = module_problem(rel, importable)
            if why:
                refused.append(Refusal(rel, why))
            elif stat.S_ISDIR(st.st_mode):
                keep.append(rel + os.sep)
                stack.append(rel)
            else:
                keep.append(rel)
    return keep, refused


def safe_copy(src: str | Path, dest: str | Path, owner: int | None = None, importable: set[str] | None = None,
              exclude=lambda rel: False, record: bool = True) -> list[Refusal]:
    """Copy the safe part of folder `src` into `dest` (made if needed); return and record the refusals.

    Files are opened without following links and checked again once open (a swap between the scan and
    the copy is caught too)."""
    src, dest = str(src), str(dest)
    keep, refused = scan(src, owner, importable)
    for rel in keep:
        parts = rel.rstrip(os.sep).split(os.sep)
        if any(exclude(os.sep.join(parts[:i])) for i in range(1, len(parts) + 1)):
            continue
        os.makedirs(dest, exist_ok=True)  # only when there is something to copy, as nbgrader does
        target = os.path.join(dest, rel)
        if rel.endswith(os.sep):
            os.makedirs(target, exist_ok=True)
            continue
        why = _copy_file(os.path.join(src, rel), target)
        if why:
            refused.append(Refusal(rel, why))
    if record and (refused or read_refusals(src) or os.path.isdir(dest)):
        os.makedirs(dest, exist_ok=True)
        write_refusals(dest, read_refusals(src) + refused)
    return refused


def _copy_file(source: str, target: str) -> str | None:
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        return f"could not be opened safely ({err.strerror})"
    try:
        why = kind_problem(os.fstat(fd))
        if why:
            return why
        if os.path.lexists(target):
            os.unlink(target)
        with os.fdopen(fd, "rb", closefd=False) as f_in, open(target, "xb") as f_out:
            shutil.copyfileobj(f_in, f_out)
        os.chmod(target, 0o644)
    finally:
        os.close(fd)
    return None


def write_refusals(folder: str | Path, refused: list[Refusal]) -> None:
    path = Path(folder) / REFUSED
    unique = {(r.path, r.why): r for r in refused}
    if unique:
        path.write_text(json.dumps([asdict(r) for r in unique.values()], indent=1))
    elif path.exists():
        path.unlink()


def read_refusals(folder: str | Path) -> list[Refusal]:
    path = Path(folder) / REFUSED
    try:
        if path.is_symlink():
            return [Refusal(REFUSED, "a symbolic link")]
        return [Refusal(**r) for r in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []


def describe(refused: list[Refusal]) -> str:
    return "; ".join(f"{r.path}: {r.why}" for r in refused[:10]) + (
        f"; and {len(refused) - 10} more" if len(refused) > 10 else "")

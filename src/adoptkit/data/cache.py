"""Get a dataset's pinned files into the cache: from the cache itself, a mirror folder, or upstream.

Every file is checked against its pinned sha256 wherever it came from; a file that does not match is
refused with a message naming both hashes and the fix, and is never left in the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from ..settings import Settings, current
from .catalog import DataFile, Dataset, get

DOWNLOAD_TIMEOUT = 30


class DataError(RuntimeError):
    """A dataset could not be had or is not what the catalog pins; the message says what to do."""


class ChecksumError(DataError):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir(settings: Settings | None = None) -> Path:
    if env := os.environ.get("ADOPTKIT_DATA_CACHE"):
        return Path(env)
    return (settings or current()).path((settings or current()).data.cache)


def mirror_dir(settings: Settings | None = None) -> Path | None:
    settings = settings or current()
    value = os.environ.get("ADOPTKIT_DATA_MIRROR") or settings.data.mirror
    return settings.path(value) if value else None


def _check(path: Path, f: DataFile, origin: str) -> None:
    got = sha256(path)
    if got != f.sha256:
        raise ChecksumError(
            f"{f.path} from {origin} has sha256 {got}, but the catalog pins {f.sha256}.\n"
            f"The copy is damaged or a different version. Fix: delete it and run `adoptkit data fetch` "
            f"again; if the mirror's copy is the bad one, replace it with the pinned upstream file {f.url}"
        )


def _install(f: DataFile, dest: Path, fill) -> None:
    """Write via a temporary file so a failed or wrong download never sits in the cache."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    os.close(fd)
    try:
        origin = fill(Path(tmp))
        _check(Path(tmp), f, origin)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the data is public, and graded kernels run as other users
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch_file(f: DataFile, settings: Settings | None = None, mirror: Path | None = None) -> Path:
    """One pinned file into the cache. `mirror` is the folder the file's path is relative to, for pinned
    files that are not datasets (default: the data mirror)."""
    dest = cache_dir(settings) / f.path
    if dest.exists():
        _check(dest, f, f"the cache ({dest})")
        return dest
    mirror = mirror if mirror is not None else mirror_dir(settings)
    if mirror is not None and (mirror / f.path).is_file():
        _install(f, dest, lambda tmp: (shutil.copyfile(mirror / f.path, tmp), f"the mirror ({mirror / f.path})")[1])
        return dest
    try:
        def download(tmp: Path) -> str:
            with urllib.request.urlopen(f.url, timeout=DOWNLOAD_TIMEOUT) as r, open(tmp, "wb") as out:
                shutil.copyfileobj(r, out)
            return f"upstream ({f.url})"

        _install(f, dest, download)
    except OSError as err:
        where = f"not in the mirror {mirror}" if mirror else "no mirror is set (ADOPTKIT_DATA_MIRROR)"
        raise DataError(
            f"{f.path} is not in the cache ({dest.parent}), {where}, and the download from {f.url} "
            f"failed: {err}.\nFix: set ADOPTKIT_DATA_MIRROR to a folder holding a copy (such as ../shared/data), "
            f"or allow the download."
        ) from None
    return dest


def fetch(dataset: str | Dataset, settings: Settings | None = None) -> list[Path]:
    """Cache and verify every file of a dataset; returns their paths (none for package datasets)."""
    d = get(dataset) if isinstance(dataset, str) else dataset
    return [fetch_file(f, settings) for f in d.files]


def verify(dataset: str | Dataset, settings: Settings | None = None) -> list[str]:
    """Problems with the cached copy (missing or wrong files), without fetching anything."""
    d = get(dataset) if isinstance(dataset, str) else dataset
    problems = []
    for f in d.files:
        path = cache_dir(settings) / f.path
        if not path.exists():
            problems.append(f"{f.path}: not cached")
        elif (got := sha256(path)) != f.sha256:
            problems.append(f"{f.path}: sha256 {got} != pinned {f.sha256}")
    return problems

"""Book build times: cold, no-change rebuild, and after editing one chapter; which notebooks executed.

    python bench/book.py [--chapter book/why-training-fails.md] [--prose-chapter ...] [--keep]

Works on a copy of the book (_config.yml, _toc.yml, book/) in a temporary folder, so the repository is
never edited and every cache starts empty: the execution cache (`.cache/jupyter`, relative to the
working directory), Sphinx's environment (`_build/.doctrees`) and the data cache (ADOPTKIT_DATA_CACHE;
the data still comes from ADOPTKIT_DATA_MIRROR or upstream). Which notebooks executed in each build is
read from jupyter-cache's own records (a record is added each time a notebook is executed and cached).

Goals (issue 2): the no-change rebuild under 10% of the cold build; an edit re-executes only that chapter.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def jupyter_book() -> str:
    beside = Path(sys.executable).with_name("jupyter-book")
    return str(beside) if beside.is_file() else (shutil.which("jupyter-book") or sys.exit("jupyter-book not found"))


def cache_records(cache_dir: Path) -> dict[int, tuple[str, object]]:
    if not cache_dir.exists():
        return {}
    from jupyter_cache import get_cache

    return {r.pk: (r.uri, r.created) for r in get_cache(str(cache_dir)).list_cache_records()}


def build(src: Path, out: Path, env: dict) -> tuple[float, list[str], int]:
    """(seconds, notebooks executed, documents Sphinx re-read) for one `jupyter-book build -W`."""
    cache_dir = src / ".cache" / "jupyter"
    before = cache_records(cache_dir)
    # The output folder must not be inside the book's folder: Sphinx would scan it, and every new file
    # there would change the excluded-files list, i.e. the config, and make Sphinx re-read every page.
    cmd = [jupyter_book(), "build", str(src), "-W", "--keep-going", "--path-output", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    after = cache_records(cache_dir)
    executed = sorted(
        str(Path(uri).relative_to(src)) for pk, (uri, created) in after.items() if before.get(pk) != (uri, created)
    )
    reread = len(re.findall(r"reading sources\.\.\. \[\s*\d+%\]", re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)))
    return seconds, executed, reread


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chapter", default="book/why-training-fails.md", help="the chapter to edit (a code cell)")
    ap.add_argument("--prose-chapter", default="book/roles/sales/crm-automation.md",
                    help="the chapter whose prose (not code) to edit")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="adoptkit-bench-book-"))
    src, out = work / "src", work / "out"
    try:
        src.mkdir()
        for name in ("_config.yml", "_toc.yml"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(ROOT / "book", src / "book")
        if (ROOT / "_vendor").is_dir():  # the site's vendored scripts, if _config.yml serves them
            shutil.copytree(ROOT / "_vendor", src / "_vendor")
        env = {**os.environ, "ADOPTKIT_DATA_CACHE": str(work / "data-cache")}
        env.pop("ADOPTKIT_CONFIG", None)  # the kernel finds the copy's _config.yml from the chapter's folder

        load_before = os.getloadavg()[0]
        rows = [("cold (empty caches)", *build(src, out, env))]
        rows.append(("no change", *build(src, out, env)))

        chapter = src / args.chapter
        text = chapter.read_text()
        # Append a comment to the chapter's last code cell: its source (hence its cache key) changes.
        last = text.rindex("```{code-cell}")
        end = text.index("\n```", last + 1)
        chapter.write_text(text[:end] + f"\n# edited by bench/book.py at {time.time():.0f}" + text[end:])
        rows.append((f"edit {args.chapter}", *build(src, out, env)))

        # Prose only (a Markdown cell): Sphinx re-reads the page, nothing is executed.
        prose = src / args.prose_chapter
        text = prose.read_text()
        prose.write_text(text.replace("\n## ", "\nAn edited sentence.\n\n## ", 1))
        rows.append((f"edit prose of {args.prose_chapter}", *build(src, out, env)))

        cold = rows[0][1]
        print(f"{'build':50} {'seconds':>8} {'vs cold':>8} {'re-read':>8}  executed notebooks")
        for label, seconds, executed, reread in rows:
            print(f"{label:50} {seconds:8.1f} {seconds / cold:8.1%} {reread:8d}  {', '.join(executed) or '(none)'}")
        no_change, edit = rows[1], rows[2]
        # What a build costs before Sphinx looks at a single page: starting Python and importing
        # jupyter-book (Sphinx and its extensions are loaded after that, inside the build).
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import jupyter_book.sphinx"], check=True, env=env)
        print(f"{'(importing jupyter-book alone)':50} {time.perf_counter() - t0:8.1f}")
        print(f"(machine: {os.cpu_count()} CPUs, 1-min load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after; timings on a shared machine vary with it)")
        print()
        print(f"goal: no-change rebuild under 10% of cold: {no_change[1] / cold:.1%} "
              f"-> {'met' if no_change[1] < 0.1 * cold else 'NOT met'}")
        print(f"goal: the edit re-executes only {args.chapter}: {edit[2]} "
              f"-> {'met' if edit[2] == [args.chapter] else 'NOT met'}")
        print(f"check: a prose-only edit executes nothing: {rows[3][2] or 'nothing'} "
              f"-> {'yes' if not rows[3][2] else 'NO'}")
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

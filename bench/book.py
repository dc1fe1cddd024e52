"""The main job's times: `adoptkit build` cold, again with nothing changed, after editing one chapter, after
editing one exercise; what each build executed and released.

    python bench/book.py [--chapter book/why-training-fails.md] [--exercise sales-quiz] [--compare-release] [--keep]

Works on a copy of the course (the repository's files as git lists them, committed or not) in a temporary
folder, so the repository is never edited and every cache starts empty: the data cache, the vendored
scripts (fetched with `npm pack`), the execution cache, Sphinx's environment, the release and the build's
stamps. The data comes from ADOPTKIT_DATA_MIRROR (or upstream). Which chapters executed is read from
jupyter-cache's records (one is added each time a chapter is executed); which exercises were released, from
the build's own report.

Goals (issue 11): the no-op build at most 5% of the cold one; a chapter edit re-executes that chapter only;
an exercise edit re-releases that exercise only. `--compare-release` also times nbgrader's release of every
exercise one process each against one process for all (why the build uses one).
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
ADOPTKIT = Path(sys.executable).with_name("adoptkit")


def copy_course(dest: Path) -> None:
    """The course's files as a fresh clone would have them (plus uncommitted work): git's list, not the caches."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def executed_chapters(course: Path) -> dict[int, tuple[str, object]]:
    cache = course / ".cache" / "jupyter"
    if not cache.exists():
        return {}
    from jupyter_cache import get_cache

    return {r.pk: (r.uri, r.created) for r in get_cache(str(cache)).list_cache_records()}


def build(course: Path, env: dict, log: Path) -> dict:
    """One `adoptkit build`: its seconds, the chapters it executed, the exercises it released, the book's fate."""
    before = executed_chapters(course)
    t0 = time.perf_counter()
    proc = subprocess.run([str(ADOPTKIT), "build"], cwd=course, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    with log.open("a") as f:
        f.write(f"\n$ adoptkit build  ({seconds:.1f} s, exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}\n")
    if proc.returncode != 0:
        sys.exit(f"adoptkit build failed (exit {proc.returncode}); log: {log}\n"
                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    after = executed_chapters(course)
    executed = sorted(str(Path(uri).relative_to(course)) for pk, (uri, created) in after.items()
                      if before.get(pk) != (uri, created))
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    m = re.search(r"^    (\d+) released(?:: (.*?))?; (\d+) up to date", out, re.M)
    released = [n.strip() for n in (m.group(2) or "").split(",") if n.strip()] if m else ["?"]
    book = "skipped (up to date)" if "up to date: no chapter" in out else "jupyter-book ran"
    return {"seconds": seconds, "executed": executed, "released": released, "book": book}


def edit_chapter(course: Path, chapter: str) -> None:
    """Append a comment to the chapter's last code cell: its source (hence its cache key) changes."""
    path = course / chapter
    text = path.read_text()
    last = text.rindex("```{code-cell}")
    end = text.index("\n```", last + 1)
    path.write_text(text[:end] + f"\n# edited by bench/book.py at {time.time():.0f}" + text[end:])


def edit_exercise(course: Path, name: str) -> None:
    """Add a sentence to the first Markdown cell of the exercise's first notebook."""
    import nbformat

    path = sorted((course / "exercises" / name).glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += "\n\n(Edited by bench/book.py.)"
    nbformat.write(nb, path)


def compare_release(course: Path, env: dict) -> tuple[float, float, int]:
    """Seconds to release every exercise with one nbgrader process each, and with one process for all."""
    from adoptkit.build import assignments, nbgrader_cmd, nbgrader_config

    names = assignments(course)
    t0 = time.perf_counter()
    for name in names:
        subprocess.run(nbgrader_cmd(course, "generate_assignment", name, "--force"), cwd=course, env=env,
                       capture_output=True, check=True)
    each = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "adoptkit.release", str(nbgrader_config(course)), *names], cwd=course,
                   env=env, capture_output=True, check=True)
    return each, time.perf_counter() - t0, len(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chapter", default="book/why-training-fails.md", help="the chapter to edit (a code cell)")
    ap.add_argument("--exercise", default="sales-quiz", help="the exercise to edit (a Markdown cell)")
    ap.add_argument("--compare-release", action="store_true", help="also time nbgrader one process each vs one for all")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="adoptkit-bench-build-"))
    course, log = work / "course", work / "build.log"
    try:
        course.mkdir()
        copy_course(course)
        env = {k: v for k, v in os.environ.items() if k not in ("ADOPTKIT_CONFIG", "ADOPTKIT_DATA_CACHE")}

        load_before = os.getloadavg()
        rows = [("cold (fresh clone, empty caches)", build(course, env, log))]
        rows.append(("no change", build(course, env, log)))
        edit_chapter(course, args.chapter)
        rows.append((f"edit one chapter ({args.chapter})", build(course, env, log)))
        edit_exercise(course, args.exercise)
        rows.append((f"edit one exercise ({args.exercise})", build(course, env, log)))
        load_after = os.getloadavg()

        cold = rows[0][1]["seconds"]
        print(f"{'adoptkit build':52} {'seconds':>8} {'vs cold':>8}  book; chapters executed; exercises released")
        for label, r in rows:
            executed = ", ".join(r["executed"]) if len(r["executed"]) <= 3 else f"{len(r['executed'])} chapters"
            released = ", ".join(r["released"]) if len(r["released"]) <= 3 else f"{len(r['released'])} exercises"
            print(f"{label:52} {r['seconds']:8.1f} {r['seconds'] / cold:8.1%}  {r['book']}; "
                  f"{executed or 'none'}; {released or 'none'}")
        print(f"(machine: {os.cpu_count()} CPUs; load average 1/5/15 min {'/'.join(f'{x:.1f}' for x in load_before)} "
              f"before, {'/'.join(f'{x:.1f}' for x in load_after)} after; timings on a shared machine vary with it)")

        noop, chapter, exercise = (r for _, r in rows[1:])
        print()
        print(f"goal: no-op build <= 5% of cold: {noop['seconds'] / cold:.1%} "
              f"-> {'met' if noop['seconds'] <= 0.05 * cold else 'NOT met'}")
        print(f"goal: the chapter edit re-executes {args.chapter} only: {chapter['executed'] or 'nothing'} "
              f"-> {'met' if chapter['executed'] == [args.chapter] else 'NOT met'}")
        print(f"goal: the exercise edit re-releases {args.exercise} only: {exercise['released'] or 'nothing'}, "
              f"executes {exercise['executed'] or 'no chapter'} -> "
              f"{'met' if exercise['released'] == [args.exercise] and not exercise['executed'] else 'NOT met'}")
        print(f"check: the no-op build executes and releases nothing: "
              f"{'yes' if not noop['executed'] and not noop['released'] else 'NO'}")
        if args.compare_release:
            each, together, n = compare_release(course, env)
            print(f"\nrelease of all {n} exercises: one nbgrader process each {each:.1f} s, "
                  f"one for all {together:.1f} s ({each / together:.1f}x); load now {os.getloadavg()[0]:.1f}")
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The facilitator guide of a path, for a live session: written by `adoptkit slides PATH` beside the decks.

Everything in it is read from the course or its records, never made up:
- the agenda: the path's chapters in `_toc.yml` order, each with its learning objectives and the time
  estimate its author wrote (quoted, with the path page's own `## Time` section);
- discussion prompts: the questions each chapter asks in its `## Exercises` section (they also close each
  deck), and the questions of the path's quiz (to ask the room before the quiz; never its answer key);
- common mistakes: from nbgrader's gradebook, the graded parts of the path's assignments (`PATH-*`) that the
  most learners lost points on, as counts; shown only once at least `measure.min_group_size` learners are
  graded (as the manager views do). Until then, the mistakes the tests are built to catch (the declared wrong
  answers), labelled as such.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import choices
from .wrong import expected_mistakes

TOP = 5  # graded parts listed under "common mistakes"
MAX_EXPECTED = 3  # declared mistakes shown per graded part


def _lines_of_section(text: str, title: str) -> list[str]:
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().lower().startswith(title)
            continue
        if inside:
            out.append(line)
    return out


def _numbered(lines: list[str]) -> list[str]:
    """The items of a numbered Markdown list, each joined onto one line."""
    items = []
    for line in lines:
        if re.match(r"^\d+\.\s", line.strip()) and not line.startswith(" "):
            items.append(re.sub(r"^\d+\.\s*", "", line.strip()))
        elif items and line.startswith(" ") and line.strip():
            items[-1] += " " + line.strip()
        elif items and not line.strip():
            items.append("")  # a blank line ends an item
    return [i for i in items if i]


def objectives(text: str) -> tuple[list[str], str | None]:
    """The numbered objectives of a chapter's opening admonition, and its `**Time:**` line (as written)."""
    lines = text.split("\n## ", 1)[0].splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if "learning objectives" in line.lower()), len(lines))
    stop = next((i for i in range(start, len(lines)) if re.match(r"^(`{3,}|:{3,})\s*$", lines[i].strip())), len(lines))
    box = lines[start:stop]
    at = next((i for i, line in enumerate(box) if line.strip().startswith("**Time:**")), None)
    time = None
    if at is not None:
        end = next((i for i in range(at, len(box)) if not box[i].strip()), len(box))
        time = re.sub(r"^\*\*Time:\*\*\s*", "", " ".join(line.strip() for line in box[at:end]))
    return _numbered(box), time


def prompts(text: str) -> list[str]:
    """The exercises of a chapter's `## Exercises` section that ask a question (not the graded exercise)."""
    return [item for item in _numbered(_lines_of_section(text, "exercises"))
            if "?" in item and not item.lower().startswith("**graded exercise")]


def quiz_questions(root: Path, path: str) -> list[str]:
    """The questions of exercises/PATH-quiz (their text only: the answer key stays in the hidden tests)."""
    nb = Path(root) / "exercises" / f"{path}-quiz" / f"{path}-quiz.ipynb"
    return choices.quiz_questions(nb) if nb.is_file() else []


def mistakes(root: Path, path: str, db_url: str | None, min_group: int) -> tuple[list[str], str]:
    """Markdown lines for "Common mistakes seen in grading", and where they came from."""
    from ..measure.assessment import GradebookError, gradebook_scores

    assignments = sorted(p.name for p in (Path(root) / "exercises").glob(f"{path}-*") if p.is_dir())
    scores, source = None, "no gradebook given"
    if db_url:
        try:
            scores, _ = gradebook_scores(db_url)
        except GradebookError as err:
            source = f"no gradebook could be read ({str(err).split('. ')[0]})"
        else:
            scores = scores[scores["assignment"].isin(assignments)]
    if scores is not None:
        learners = scores["learner"].nunique()
        source = f"{learners} learner(s) graded on this path's assignments in the gradebook"
        if learners >= min_group:
            scores = scores.assign(lost=scores["score"] < scores["max_score"])
            per = (scores.groupby(["assignment", "item"])
                   .agg(graded=("learner", "nunique"), lost=("lost", "sum")).reset_index())
            per = per[per["lost"] > 0].sort_values(["lost", "assignment", "item"], ascending=[False, True, True])
            if per.empty:
                return [f"No graded part lost points ({source})."], source
            expected = {}
            for a in per["assignment"].unique():
                for m in expected_mistakes(root, a):
                    expected.setdefault((a, m["part"]), []).append(m["why"])
            lines = []
            for row in per.head(TOP).itertuples():
                line = f"- `{row.assignment}` part `{row.item}`: {int(row.lost)} of {int(row.graded)} learners lost points"
                whys = expected.get((row.assignment, row.item))
                lines.append(line + (f" (its tests are built to catch: {'; '.join(whys)})" if whys else ""))
            return lines, source
        source += f"; shown once at least {min_group} are (measure.min_group_size), so no one is singled out"
    lines = [f"Not enough grading yet ({source}). Until there is, the mistakes this path's tests are built to "
             f"catch (declared by its authors, not observed):", ""]
    for a in assignments:
        parts: dict[str, list[str]] = {}
        for m in expected_mistakes(root, a):
            parts.setdefault(m["part"], []).append(m["why"])
        for part, whys in parts.items():
            lines.append(f"- `{a}` part `{part}`:")
            lines += [f"  - {why}" for why in whys[:MAX_EXPECTED]]
            if len(whys) > MAX_EXPECTED:
                lines.append(f"  - and {len(whys) - MAX_EXPECTED} more (the declared wrong answers of `{a}`)")
    if len(lines) == 2:
        lines.append("- none declared: add wrong answers (see `adoptkit check --rules`, rule wrong-answer)")
    return lines, source


def guide(root: Path, path: str, chapters: list[tuple[Path, str, str]], db_url: str | None,
          min_group: int) -> str:
    """The guide as Markdown. `chapters`: (file, title, its text with glued values filled in)."""
    root = Path(root)
    index = root / "book" / "roles" / path / "index.md"
    path_title = next((line[2:].strip() for line in index.read_text(encoding="utf-8").splitlines()
                       if line.startswith("# ")), path)
    out = [f"# Facilitator guide: {path_title}", "",
           f"Built by `adoptkit slides {path}` from the course's own files; rebuild it after editing a chapter "
           f"or grading a cohort. The decks are in this folder; in a deck press S for the speaker view.", "",
           "## Agenda", "",
           "One block per chapter, in the order learners take them. The times are the authors' estimates, as "
           "their chapters state them, not measurements.", ""]
    for n, (file, title, text) in enumerate(chapters, 1):
        objs, time = objectives(text)
        out += [f"### {n}. {title}", "", f"Deck: [{file.stem}.slides.html]({file.stem}.slides.html) · "
                f"time: {time or 'not stated by the chapter (`adoptkit check` reports it)'}", ""]
        out += [f"- {o}" for o in objs] or ["- (the chapter states no objectives)"]
        out.append("")
    time_section = [line for line in _lines_of_section(index.read_text(encoding="utf-8"), "time") if line.strip()]
    if time_section:
        out += ["From the path page (`## Time`):", ""] + [f"> {line}" for line in time_section] + [""]
    out += ["## Discussion prompts", "",
            "The questions each chapter asks in its exercises (the last slide of its deck lists them).", ""]
    for _, title, text in chapters:
        asked = prompts(text)
        out += [f"**{title}**", ""] + ([f"- {q}" for q in asked] or ["- (its exercises ask no question)"]) + [""]
    quiz = quiz_questions(root, path)
    if quiz:
        out += [f"Before the quiz (`{path}-quiz`), ask the room; let learners argue, then let the quiz's feedback "
                f"settle it:", ""] + [f"- {q}" for q in quiz] + [""]
    lines, _ = mistakes(root, path, db_url, min_group)
    out += ["## Common mistakes seen in grading", ""] + lines + [""]
    return "\n".join(out)


def write(out: Path, markdown: str) -> Path:
    """facilitator.md and facilitator.html (the same text, for a browser) in `out`; returns the HTML."""
    import html

    from markdown_it import MarkdownIt

    (out / "facilitator.md").write_text(markdown, encoding="utf-8")
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = html.escape(markdown.splitlines()[0].lstrip("# "))
    page = out / "facilitator.html"
    page.write_text(f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n"
                    f"<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.45}}</style>"
                    f"</head>\n<body>\n{body}</body></html>\n", encoding="utf-8")
    return page


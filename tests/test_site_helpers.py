"""What chapters use to show attributions, p-values and numbers, the book's Sphinx extension, the kernel the
build runs chapters in, and the command list the book and the README give (fast: no build)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from adoptkit.data import DATASETS, citation
from adoptkit.site import cite, number, p_value
from adoptkit.site.extension import alt_problem, commands
from adoptkit.site.page import citation_text, markdown_text

ROOT = Path(__file__).resolve().parents[1]


def rendered(markdown: str) -> str:
    """CommonMark as the book renders a cell's Markdown output (myst-nb's default for outputs)."""
    return MarkdownIt("commonmark").render(markdown)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_a_citation_renders_as_its_own_words_with_its_source_a_link(name):
    html = rendered(markdown_text(citation(name)))
    text = re.sub(r"<[^>]+>", "", html).replace("&amp;", "&").strip()
    assert text == citation(name).replace("`", "")  # backticks mark code, as the catalog means them
    assert "<em>" not in html and "<strong>" not in html  # "O*NET ... O*NET" is not emphasis
    source = DATASETS[name].source
    assert f'<a href="{source}">{source}</a>' in html


def test_hostile_markdown_in_a_citation_stays_text():
    text = "Data: *a* _b_ [c](javascript:alert(1)) <script>x</script> # not a heading | not | a table"
    html = rendered(markdown_text(text))
    assert "<script>" not in html and "<a " not in html and "<em>" not in html and "<h1>" not in html


def test_cite_shows_markdown_with_a_plain_text_fallback(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    frame = __import__("pandas").DataFrame({"a": [1]})
    frame.attrs["citation"] = citation("onet_occupations")
    cite(frame)
    cite("german_credit")
    (first, raw), (second, _) = shown
    assert raw and first["text/plain"] == citation("onet_occupations") and "O\\*NET" in first["text/markdown"]
    assert second["text/plain"] == citation("german_credit")
    with pytest.raises(ValueError, match="carries no attrs"):
        citation_text(__import__("pandas").DataFrame())


@pytest.mark.parametrize("p, words", [
    (3.58e-25, "less than 1 in a million"), (2.01e-7, "less than 1 in a million"), (4e-4, "less than 1 in 1,000"),
    (0.0034, "0.003"), (0.049, "0.05"), (0.42, "0.42"), (1.0, "1.00"), (float("nan"), "not computed")])
def test_p_values_are_words_or_rounded_never_scientific(p, words):
    assert p_value(p) == words
    assert p_value(p, "Fisher's exact test") == (f"{words} (Fisher's exact test)" if p == p else words)


@pytest.mark.parametrize("value, spec, shown", [
    (-0.3, ".0f", "0"), (-0.0, ".0f", "0"), (-0.004, ".2f", "0.00"), (-0.0001, ".1%", "0.0%"),
    (-1.5, ",.2f", "-1.50"), (-1234.6, ",.0f", "-1,235"), (-0.6, ".0f", "-1"), (12.0, ".0f", "12")])
def test_numbers_never_read_minus_zero(value, spec, shown):
    assert number(spec)(value) == shown


@pytest.mark.parametrize("alt, uri, bad", [
    (None, "../_images/ab.png", "has no alt text"), ("  ", "x.png", "has no alt text"),
    ("../_images/ab12.png", "../_images/ab12.png", "file name"), ("figure.svg", "a.svg", "file name"),
    ("_images/x", "y.png", "file name"),
    ("Line chart of savings when relearning, falling steeply in the first day.", "../_images/ab.png", None),
    ("Heat map of accounts by R and F score (5 = most recent).", "a.png", None)])
def test_alt_text_must_describe_the_figure(alt, uri, bad):
    problem = alt_problem(alt, uri)
    assert (problem is None) if bad is None else (bad in problem)


def test_the_command_table_lists_every_command_of_the_program():
    import click

    from adoptkit.cli import main

    def leaves(group, prefix="adoptkit"):
        for name, cmd in sorted(group.commands.items()):
            yield from leaves(cmd, f"{prefix} {name}") if isinstance(cmd, click.Group) else [f"{prefix} {name}"]

    every, rows = list(leaves(main)), list(commands())
    assert len(every) > 25 and "adoptkit build" in every and "adoptkit sandbox keys issue" in every
    assert [next(c for c in every if line == c or line.startswith(c + " ")) for line, _, _ in rows] == every
    assert all(help_ for _, help_, _ in rows), "every command says what it does"


def _named_commands(text: str) -> set[str]:
    """`adoptkit WORD [WORD]` as the book and the README name commands, in code spans or code blocks."""
    found = set()
    blocks = "\n".join(re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M))
    for span in re.findall(r"`([^`\n]*adoptkit [^`\n]*)`", text) + re.findall(r"^adoptkit [^\n]*", blocks, re.M):
        for m in re.finditer(r"\badoptkit ((?:[a-z][a-z-]*)(?: [a-z][a-z-|]*)?)", span):
            found.add(m.group(1))
    return found


def test_every_command_the_book_and_readme_name_exists():
    import click

    from adoptkit.cli import main

    def exists(words: list[str]) -> bool:
        cmd = main
        for word in words:
            if not isinstance(cmd, click.Group):
                return True  # a command's argument or option follows
            names = word.split("|")
            if not all(n in cmd.commands for n in names):
                return False
            cmd = cmd.commands[names[0]]
        return True

    files = [ROOT / "README.md", *sorted((ROOT / "book").rglob("*.md"))]
    missing = {f"{f.relative_to(ROOT)}: adoptkit {name}" for f in files for name in _named_commands(f.read_text())
               if not exists(name.split())}
    assert not missing, "named but not a command:\n" + "\n".join(sorted(missing))


def test_the_readme_names_every_command_group():
    from adoptkit.cli import main

    readme = (ROOT / "README.md").read_text()
    assert [name for name in main.commands if f"adoptkit {name}" not in readme] == []


def test_no_page_says_a_part_of_the_kit_is_still_to_come():
    stale = re.compile(r"later version|coming (?:soon|in)|\(coming\)|\| coming \||not yet (?:available|built)", re.I)
    found = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in sorted((ROOT / "book").rglob("*.md"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if stale.search(line)]
    assert not found, "\n".join(found)


def test_the_build_kernel_drops_the_tcp_notice_only_on_loopback(monkeypatch):
    from ipykernel.kernelapp import IPKernelApp

    from adoptkit.site.kernel import NOTICE, LoopbackOnly

    app = IPKernelApp.instance()
    record = logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, NOTICE + ". All communication...",
                               None, None)
    other = logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 1, "something else", None, None)
    for ip, kept in [("127.0.0.1", False), ("::1", False), ("10.0.0.5", True), ("0.0.0.0", True)]:
        monkeypatch.setattr(app, "ip", ip)
        monkeypatch.setattr(app, "transport", "tcp")
        assert LoopbackOnly().filter(record) is kept, ip
        assert LoopbackOnly().filter(other) is True


def test_a_chapter_kernel_started_as_the_build_does_logs_no_tcp_notice(tmp_path):
    import os

    from adoptkit.site import kernel

    script = ("import nbformat; from nbclient import NotebookClient\n"
              "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('import sys; print(sys.argv[0])')])\n"
              "NotebookClient(nb, kernel_name='python3').execute(); print(nb.cells[0].outputs[0]['text'])\n")
    for env, notice in [(kernel.environ(os.environ), False), (dict(os.environ), True)]:
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert (kernel.NOTICE in proc.stderr) is notice, proc.stderr
        assert ("adoptkit/site/kernel.py" in proc.stdout) is not notice, proc.stdout

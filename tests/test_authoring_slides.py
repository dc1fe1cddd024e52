"""`adoptkit slides` refuses what is not a path of the course, and the facilitator guide's readers of a chapter.

The decks themselves are built and opened in chromium in test_authoring_course.py (on a scaffolded path).
"""

from __future__ import annotations

from authoring_course import small_course

from adoptkit.authoring import facilitator

CHAPTER = """# A chapter

```{admonition} Chapter learning objectives
:class: tip

1. file a complaint under the right product,
   from its text alone;
2. measure the filing against real labels.

**Time:** about 40 minutes, reading and running
every cell (the author's estimate).
```

## Exercises

1. **Your own labels.** Write three labels of your own. Which complaints move?
2. **Graded exercise.** Do the assignment. Did you?
3. **Just do it.** Run the cell again.
"""


def test_objectives_time_and_prompts_are_read_from_the_chapter():
    objectives, time = facilitator.objectives(CHAPTER)
    assert objectives == ["file a complaint under the right product, from its text alone;",
                          "measure the filing against real labels."]
    assert time == "about 40 minutes, reading and running every cell (the author's estimate)."
    assert facilitator.prompts(CHAPTER) == ["**Your own labels.** Write three labels of your own. Which complaints move?"]


def test_slides_refuse_a_name_that_is_not_a_path_and_write_nothing(tmp_path):
    from click.testing import CliRunner

    from adoptkit.cli import main

    course = small_course(tmp_path)
    for name, says in (("../escape", "path"), ("no-such-path", "no path 'no-such-path'"), ("a b", "path"),
                       ("sales\n- file: evil", "path")):
        result = CliRunner().invoke(main, ["slides", name], env={"ADOPTKIT_CONFIG": str(course / "_config.yml")})
        assert result.exit_code == 1 and says in result.output, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert not (course / "_build").exists() and not (tmp_path / "escape").exists()

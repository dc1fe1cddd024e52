"""nbgrader's copying steps, each through `files.safe_copy` (what `harden(c)` installs).

- `SafeCollect` (`nbgrader collect`): exchange inbound -> `submitted/`, refusing links, special files,
  hard links and files owned by someone other than the learner who owns the submission folder.
- `BaseConverter.init_assignment` (autograde: `submitted/` -> `autograded/`; generate_feedback:
  `autograded/` -> `feedback/`): the same rules, plus Python that would shadow a module.
- `SafeReleaseFeedback` (`nbgrader release_feedback`): only regular, single-named HTML files go out.

What was refused is recorded beside the copy (`files.REFUSED`), so the report and the gradebook flag say so.
"""

from __future__ import annotations

import fnmatch
import os

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

from . import files


def _excluder(coursedir, extra: tuple[str, ...] = ()):
    ignore = list(coursedir.ignore) + list(extra)
    max_bytes = 1000 * coursedir.max_file_size if getattr(coursedir, "max_file_size", None) else None

    def exclude(rel: str, src: str = "") -> bool:
        name = os.path.basename(rel)
        if any(fnmatch.fnmatch(name, pattern) for pattern in ignore):
            return True
        if max_bytes and src:
            try:
                return os.lstat(os.path.join(src, rel)).st_size > max_bytes
            except OSError:
                return True
        return False

    return exclude


class SafeCollect(ExchangeCollect):
    """`nbgrader collect` that never copies through a link (it runs as root on a shared exchange)."""

    def do_copy(self, src, dest, log=None):
        owner = os.stat(src, follow_symlinks=False).st_uid
        exclude = _excluder(self.coursedir)
        refused = files.safe_copy(src, dest, owner=owner, exclude=lambda rel: exclude(rel, src))
        for r in refused:
            self.log.warning("Refused %s in %s: %s", r.path, src, r.why)


class SafeReleaseFeedback(ExchangeReleaseFeedback):
    """`nbgrader release_feedback` sending only regular HTML files (never a link's target)."""

    def copy_files(self):
        import glob

        for html in glob.glob(os.path.join(self.src_path, "*.html")):
            why = files.kind_problem(os.lstat(html))
            if why:
                self.log.warning("Not releasing %s: it is %s", html, why)
                os.unlink(html)
        return super().copy_files()


_installed = False


def install() -> None:
    """Make nbgrader's converters copy other files safely (autograde and generate_feedback)."""
    global _installed
    if _installed:
        return
    from nbgrader.converters.base import BaseConverter

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        source = self._format_source(assignment_id, student_id)
        dest = self._format_dest(assignment_id, student_id)
        from nbgrader.converters.autograde import Autograde

        grading = isinstance(self, Autograde)
        exclude = _excluder(self.coursedir, ("*.ipynb",))
        owner = os.stat(source, follow_symlinks=False).st_uid if os.path.isdir(source) else None
        from .kernel import installed_modules

        refused = files.safe_copy(source, dest, owner=owner, importable=installed_modules() if grading else None,
                                  exclude=lambda rel: exclude(rel, source))
        for r in refused:
            self.log.warning("Refused %s in %s: %s", r.path, source, r.why)

    BaseConverter.init_assignment = init_assignment
    _installed = True

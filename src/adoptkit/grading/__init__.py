"""Hardened, fast autograding over nbgrader: `harden(c)` for the course config, `adoptkit grade` for cohorts.

Kept free of heavy imports: the kernel launcher (`python -m adoptkit.grading.sandbox`) imports this
package on every kernel start.
"""

from __future__ import annotations


def harden(c, *, cell_timeout: int | None = None, **limits):
    """Install the hardened autograde pipeline into an nbgrader config `c` and return it.

    In `autograders/nbgrader_config.py`::

        from adoptkit.grading import harden
        harden(c)                       # or harden(c, cell_timeout=60, memory_bytes=4 * 2**30)

    `cell_timeout` sets nbgrader's own `c.Execute.timeout`; any other keyword is a `c.Hardening`
    setting (see adoptkit/grading/config.py), and an unknown one is an error.
    """
    from .config import Hardening
    from .copies import install
    from .pipeline import AUTOGRADE, EXPORTER, FEEDBACK, SANITIZE

    known = set(Hardening.class_trait_names(config=True))
    unknown = sorted(set(limits) - known)
    if unknown:
        raise TypeError(f"harden() got unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    c.Autograde.exporter_class = EXPORTER
    c.Autograde.sanitize_preprocessors = list(SANITIZE)
    c.Autograde.autograde_preprocessors = list(AUTOGRADE)
    # feedback: no hidden test code, a message per failed check, no script from a submission
    c.GenerateFeedback.preprocessors = list(FEEDBACK)
    c.HTMLExporter.sanitize_html = True  # feedback and the formgrader's view: markdown and outputs
    # every copy of a submission (collect, autograde, feedback, release) refuses links and special files
    c.ExchangeFactory.collect = "adoptkit.grading.copies.SafeCollect"
    c.ExchangeFactory.release_feedback = "adoptkit.grading.copies.SafeReleaseFeedback"
    install()
    if cell_timeout is not None:
        c.Execute.timeout = cell_timeout
    for key, value in limits.items():
        setattr(c.Hardening, key, value)
    return c

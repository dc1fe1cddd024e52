"""nbgrader's autograde pipeline with the hardened steps in place (what `harden(c)` installs)."""

from __future__ import annotations

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from .execute import HardenedExecute
from .feedback import LearnerFeedback, Sanitize
from .report import WriteReport
from .tamper import RestoreCells, SafeNotebookExporter, gradebook_lock


def _locked(cls):
    """The same nbgrader step, holding the gradebook lock while it runs (parallel graders, SQLite)."""

    def preprocess(self, nb, resources):
        with gradebook_lock(resources["nbgrader"]["db_url"]):
            return cls.preprocess(self, nb, resources)

    return type(f"Locked{cls.__name__}", (cls,), {"preprocess": preprocess, "__doc__": cls.__doc__})


LockedOverwriteKernelspec = _locked(OverwriteKernelspec)
LockedSaveAutoGrades = _locked(SaveAutoGrades)
LockedAssignLatePenalties = _locked(AssignLatePenalties)

EXPORTER = SafeNotebookExporter
SANITIZE = [ClearOutput, RestoreCells, LockedOverwriteKernelspec, CheckCellMetadata]
AUTOGRADE = [HardenedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, LockedSaveAutoGrades,
             LockedAssignLatePenalties, CheckCellMetadata, Sanitize, WriteReport]
FEEDBACK = [GetGrades, CSSHTMLHeaderPreprocessor, LearnerFeedback, Sanitize]

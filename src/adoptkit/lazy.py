"""Imports deferred until first use, to keep every `adoptkit` command's start-up short.

jsonschema imports `rfc3987_syntax` as it loads, to check the "iri" string formats, and that import
compiles a Lark grammar: about 1.3 s of CPU in every process that reads a notebook (nbformat loads
jsonschema), before any work. Few schemas use those formats, so a stand-in module takes its place and
imports the real one the first time anything asks it for something; behaviour is unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

NAME = "rfc3987_syntax"


def defer() -> None:
    """Put the stand-in in place (only where the module is installed and not imported yet)."""
    spec = importlib.util.find_spec(NAME) if NAME not in sys.modules else None
    if spec is None:
        return
    module = types.ModuleType(NAME, f"stand-in for {NAME}, imported on first use (adoptkit.lazy)")
    real: list[types.ModuleType] = []

    def load() -> types.ModuleType:
        if not real:
            if sys.modules.get(NAME) is module:
                del sys.modules[NAME]
            real.append(importlib.import_module(NAME))
        return real[0]

    def is_valid_syntax(*args, **kwargs):  # what jsonschema takes by name as it loads
        return load().is_valid_syntax(*args, **kwargs)

    module.is_valid_syntax = is_valid_syntax
    module.__getattr__ = lambda attr: getattr(load(), attr)  # anything else: the real module's
    if spec.submodule_search_locations is not None:
        module.__path__ = list(spec.submodule_search_locations)  # `from pkg import x` checks it; submodules import
    sys.modules[NAME] = module

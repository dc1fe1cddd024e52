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

DEFERRED = ("rfc3987_syntax",)


def _stand_in(name: str, spec) -> types.ModuleType:
    module = types.ModuleType(name, f"stand-in for {name}, imported on first use (adoptkit.lazy)")
    if spec.submodule_search_locations is not None:
        module.__path__ = list(spec.submodule_search_locations)  # `from pkg import x` checks it; submodules import
    real: list[types.ModuleType] = []

    def load() -> types.ModuleType:
        if not real:
            if sys.modules.get(name) is module:
                del sys.modules[name]
            real.append(importlib.import_module(name))
        return real[0]

    def is_valid_syntax(*args, **kwargs):  # what jsonschema takes by name as it loads
        return load().is_valid_syntax(*args, **kwargs)

    module.is_valid_syntax = is_valid_syntax
    module.__getattr__ = lambda attr: getattr(load(), attr)  # anything else: the real module's
    return module


def defer() -> None:
    """Put the stand-ins in place (once, and only for installed modules not imported yet)."""
    for name in DEFERRED:
        spec = importlib.util.find_spec(name) if name not in sys.modules else None
        if spec is not None:
            sys.modules[name] = _stand_in(name, spec)

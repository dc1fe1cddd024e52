"""Which backend answers a model name. Learners ask for an alias (`course-default`), for
`BACKEND:MODEL` (`offline:adoptkit-offline`, `openai:gpt-4o-mini`), or for a bare model name that
exactly one backend offers. The aliases live in gateway.aliases, so an instructor switches a whole
course to a real model by editing one line.

Backends are registered in one place, `BUILTIN` below: the in-process backends that exist whatever the
config says (the offline stand-in, and the local llama.cpp and MiniLM models of local.py); upstreams come
from gateway.upstreams. A new in-process backend is a class with the methods listed in backends.py,
added to `BUILTIN` under its name. Every backend's requests take the same path through app.py (schema,
redaction, budgets, usage log): a backend only answers."""

from __future__ import annotations

from pathlib import Path

from ..settings import Gateway
from .backends import OfflineBackend
from .errors import APIError
from .local import LocalBackend
from .upstreams import UpstreamBackend


# name -> factory(gateway settings, the config's folder) for the in-process backends
BUILTIN = {"offline": lambda cfg, root: OfflineBackend(),
           "local": lambda cfg, root: LocalBackend(cfg.local, root)}


class Router:
    def __init__(self, cfg: Gateway, offline: OfflineBackend | None = None, root: Path = Path(".")):
        self.aliases = dict(cfg.aliases)
        self.backends = {name: make(cfg, root) for name, make in BUILTIN.items()}
        if offline is not None:
            self.backends["offline"] = offline
        self.backends.update({name: UpstreamBackend(name, up) for name, up in cfg.upstreams.items()})

    def models(self) -> list[dict]:
        out = [*self.backends["offline"].models()]
        for name, backend in self.backends.items():
            if name != "offline":
                out += backend.models()
        out += [{"id": alias, "object": "model", "created": 0, "owned_by": "adoptkit",
                 "description": f"alias for {target}"} for alias, target in self.aliases.items()]
        return out

    def resolve(self, model, kind: str = "chat"):
        """(backend, the model's own name at that backend), or 404 listing what there is."""
        if not isinstance(model, str) or not model:
            raise APIError(400, "`model` is required, e.g. 'course-default'", param="model")
        target = self.aliases.get(model, model)
        name, sep, backend_model = target.partition(":")
        if sep and name in self.backends:
            backend = self.backends[name]
        else:
            owners = [b for b in self.backends.values() if any(m["id"] in (target, f"{b.name}:{target}")
                                                                 for m in b.models())]
            if len(owners) != 1:
                known = sorted(m["id"] for m in self.models())
                raise APIError(404, f"The model '{model}' does not exist here; available: {', '.join(known)}",
                               code="model_not_found", param="model")
            backend, backend_model = owners[0], target
        return backend, backend.check_model(backend_model, kind)

    async def aclose(self) -> None:
        for backend in self.backends.values():
            if hasattr(backend, "aclose"):
                await backend.aclose()

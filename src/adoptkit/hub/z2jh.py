"""Check the cluster's values (`deploy/z2jh/values.yaml`) the way Helm does: the chart's defaults with
ours merged over them, validated against the chart's JSON Schema.

The chart's schema and defaults are pinned here by URL and sha256, like the datasets, and fetched by the
same machinery (cache, then mirror, then upstream; a wrong sha256 is refused). Their mirror sits beside
the data mirror: with `ADOPTKIT_DATA_MIRROR=../shared/data` they are read from `../shared/z2jh/`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..data.cache import DataError, fetch_file, mirror_dir
from ..data.catalog import DataFile
from ..settings import Settings, current

# Zero to JupyterHub at this commit (chart appVersion 5.5.0); BSD-3-Clause.
CHART_COMMIT = "48ea50e34daddde55d76e30df6ecd47e4abd4d8e"
_BASE = f"https://raw.githubusercontent.com/jupyterhub/zero-to-jupyterhub-k8s/{CHART_COMMIT}/jupyterhub"
SCHEMA = DataFile("z2jh/values.schema.yaml", "2cedc7a009d6472ee97cff7d2aeeac3c323ac523c0535f1b4d16ca4d6b6acd1f",
                  f"{_BASE}/values.schema.yaml")
DEFAULTS = DataFile("z2jh/values.yaml", "e9fb4f193457a4b936d33bfe227ab7c0caa59f00c92c032c2ce82d804f960856",
                    f"{_BASE}/values.yaml")


class ValuesError(ValueError):
    """The values file cannot be read; the message says why."""


def _mirror(settings: Settings) -> Path | None:
    """Pinned files that are not datasets live beside the data mirror (../shared/z2jh by ../shared/data),
    and their pinned paths (`z2jh/...`) are relative to its parent."""
    data = mirror_dir(settings)
    return data.parent if data is not None else None


def chart_file(f: DataFile, settings: Settings | None = None) -> dict:
    settings = settings or current()
    try:
        path = fetch_file(f, settings, mirror=_mirror(settings))
    except DataError as err:
        raise type(err)(f"{err}\n(The chart's files are looked for in <data mirror>/../{f.path}.)") from None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def merge(defaults: dict, values: dict) -> dict:
    """Helm's coalescing of user values over chart defaults: maps merge key by key, anything else is
    replaced, and a null removes the chart's default."""
    out = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(path: Path) -> dict:
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValuesError(f"{path}: no such values file") from None
    except yaml.YAMLError as err:
        raise ValuesError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(values, dict):
        raise ValuesError(f"{path}: a values file is a mapping of settings, not {type(values).__name__}")
    return values


def problems(values: dict, settings: Settings | None = None) -> list[str]:
    """Every place the merged values break the chart's schema, as `key.path: what is wrong`."""
    from jsonschema import Draft7Validator

    schema, defaults = chart_file(SCHEMA, settings), chart_file(DEFAULTS, settings)
    validator = Draft7Validator(schema)
    found = []
    for err in sorted(validator.iter_errors(merge(defaults, values)), key=lambda e: list(map(str, e.path))):
        where = ".".join(map(str, err.absolute_path)) or "(top level)"
        found.append(f"{where}: {err.message}")
    return found

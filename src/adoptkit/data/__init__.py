"""Real business data: the catalog, fetching with sha256 checks, and typed loading."""

from .catalog import DATASETS, DataFile, Dataset, get
from .cache import ChecksumError, DataError, fetch, verify

__all__ = ["DATASETS", "DataFile", "Dataset", "get", "fetch", "verify", "load", "citation",
           "DataError", "ChecksumError", "SchemaError"]


def __getattr__(name: str):
    # loading needs pandas (half a second to import): only what loads a table pays for it, not a grader
    # or a command that only reads the catalog or the cache
    if name in ("load", "citation"):
        from . import loaders

        return getattr(loaders, name)
    if name == "SchemaError":
        from .schema import SchemaError

        return SchemaError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

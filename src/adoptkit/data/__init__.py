"""Real business data: the catalog, fetching with sha256 checks, and typed loading."""

from .catalog import DATASETS, DataFile, Dataset, get
from .cache import ChecksumError, DataError, fetch, verify
from .loaders import citation, load
from .schema import SchemaError

__all__ = ["DATASETS", "DataFile", "Dataset", "get", "fetch", "verify", "load", "citation",
           "DataError", "ChecksumError", "SchemaError"]

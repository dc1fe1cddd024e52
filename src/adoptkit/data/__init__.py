"""Real business data: the catalog, fetching with sha256 checks, and typed loading."""

from .catalog import DATASETS, DataFile, Dataset, get
from .fetch import ChecksumError, DataError, fetch, verify
from .load import citation, load
from .schema import SchemaError

__all__ = ["DATASETS", "DataFile", "Dataset", "get", "fetch", "verify", "load", "citation",
           "DataError", "ChecksumError", "SchemaError"]

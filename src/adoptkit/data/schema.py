"""Turn raw columns into the kinds the chapters rely on, and say exactly what does not fit."""

from __future__ import annotations

import pandas as pd

from .cache import DataError

_TRUE = {"true", "yes", "1", "t", "y"}
_FALSE = {"false", "no", "0", "f", "n"}
MAX_SHOWN = 5


class SchemaError(DataError):
    pass


def _convert(s: pd.Series, kind: str) -> pd.Series:
    if kind == "number":
        return pd.to_numeric(s, errors="coerce").astype("float64")
    if kind == "integer":
        num = pd.to_numeric(s, errors="coerce")
        return num.where(num == num.round()).astype("Int64")
    if kind == "date":
        return pd.to_datetime(s, errors="coerce", format="mixed")
    if kind == "bool":
        low = s.astype("string").str.strip().str.lower()
        return low.map(lambda v: True if v in _TRUE else False if v in _FALSE else pd.NA).astype("boolean")
    if kind == "category":
        return s.astype("string").astype("category")
    return s.astype("string")


def coerce(df: pd.DataFrame, columns: dict[str, str], source: str) -> pd.DataFrame:
    """Return df with `columns` converted to their kinds; raise SchemaError naming every misfit."""
    missing = [c for c in columns if c not in df.columns]
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(map(repr, missing))} "
                        f"(the file has: {', '.join(map(repr, df.columns[:20]))})")
    out = df.copy()
    for col, kind in columns.items():
        if col in missing:
            continue
        raw = df[col]
        converted = _convert(raw, kind)
        bad = converted.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
        if bad.any():
            rows = list(bad[bad].index[:MAX_SHOWN])
            shown = ", ".join(f"row {i + 1}: {raw[i]!r}" for i in rows)
            problems.append(f"column {col!r} should be {kind}, but {int(bad.sum())} value(s) are not ({shown})")
            continue
        out[col] = converted
    if problems:
        raise SchemaError(f"{source} does not fit what the chapters need:\n  - " + "\n  - ".join(problems)
                          + "\nFix the export (or its column mapping under adoptkit.data.overrides) and load again.")
    return out

"""`load(name)`: a dataset as a typed DataFrame, from the verified cache or the organisation's export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..settings import DataOverride, Settings, current
from .catalog import Dataset, get
from .cache import DataError, fetch
from .schema import coerce

# German credit is coded (A11, A93, ...); decode the attributes the chapters use (codes: the UCI notes).
_GERMAN_COLUMNS = [
    "checking_status", "duration_months", "credit_history", "purpose", "credit_amount", "savings",
    "employment_since", "installment_rate", "personal_status_sex", "other_debtors", "residence_since",
    "property", "age", "other_installment_plans", "housing", "existing_credits", "job",
    "dependents", "telephone", "foreign_worker", "class",
]
_SEX = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}
_PURPOSE = {"A40": "car (new)", "A41": "car (used)", "A42": "furniture/equipment", "A43": "radio/television",
            "A44": "domestic appliances", "A45": "repairs", "A46": "education", "A47": "vacation",
            "A48": "retraining", "A49": "business", "A410": "others"}


def _read_german(paths: list[Path]) -> pd.DataFrame:
    df = pd.read_csv(paths[0], sep=" ", header=None, names=_GERMAN_COLUMNS, dtype=str)
    df["sex"] = df["personal_status_sex"].map(_SEX)
    df["purpose"] = df["purpose"].map(_PURPOSE)
    df["foreign_worker"] = df["foreign_worker"].map({"A201": "yes", "A202": "no"})
    df["good_credit"] = df["class"].map({"1": "true", "2": "false"})  # 1 = good, 2 = bad
    return df


def _read_fomc(paths: list[Path]) -> pd.DataFrame:
    rows = [{"date": p.name.split(".")[0], "text": p.read_text(encoding="utf-8", errors="replace").strip()}
            for p in sorted(paths)]
    return pd.DataFrame(rows)


_READERS = {
    "cfpb_complaints": lambda p: pd.read_csv(p[0], dtype=str, keep_default_na=False, na_values=[""]),
    "bank_marketing": lambda p: pd.read_csv(p[0], sep=";", dtype=str),
    "online_shoppers": lambda p: pd.read_csv(p[0], sep=";", dtype=str),
    "online_retail": lambda p: pd.read_csv(p[0], dtype=str, na_values=["NA"]),
    "german_credit": _read_german,
    "onet_occupations": lambda p: pd.read_csv(p[0], sep="\t", dtype=str),
    "fomc_statements": _read_fomc,
}


def _read_override(o: DataOverride, settings: Settings) -> tuple[pd.DataFrame, str]:
    if o.path:
        path = settings.path(o.path)
        try:
            df = pd.read_csv(path, sep=o.sep, dtype=str)
        except FileNotFoundError:
            raise DataError(f"the override export {path} does not exist (adoptkit.data.overrides)") from None
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
            raise DataError(f"the override export {path} is not a readable CSV: {err}") from None
        return df, str(path)
    import sqlalchemy

    engine = sqlalchemy.create_engine(o.url)
    try:
        sql = o.query or f'SELECT * FROM "{o.table}"'
        with engine.connect() as conn:
            return pd.read_sql_query(sqlalchemy.text(sql), conn), f"{engine.url!r} ({o.table or 'query'})"
    except (sqlalchemy.exc.SQLAlchemyError, pd.errors.DatabaseError) as err:
        raise DataError(f"could not read the override from {engine.url!r}: {err.__class__.__name__}: {err}") from None
    finally:
        engine.dispose()


def load(name: str, settings: Settings | None = None) -> pd.DataFrame:
    """Return dataset `name` with its chapter columns typed; the frame's `attrs["citation"]` says whence."""
    settings = settings or current()
    d: Dataset = get(name)
    override = settings.data.overrides.get(name)
    if override is not None:
        raw, source = _read_override(override, settings)
        raw = raw.rename(columns=override.rename)
        citation = f"Data: your organisation's export ({source}), standing in for {d.title}."
    elif d.package_loader is not None:
        raw, source, citation = d.package_loader(), d.title, d.citation
    else:
        raw, source, citation = _READERS[name](fetch(d, settings)), d.title, d.citation
    df = coerce(raw.reset_index(drop=True), d.columns, source)
    df.attrs["citation"] = citation
    return df


def citation(name: str) -> str:
    return get(name).citation

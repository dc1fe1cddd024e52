"""The one reader of the gateway's usage log, and the usage analytics built on it.

The gateway writes one row per request (adoptkit/gateway/db.py, table `usage`: ts, learner, cohort,
key_id, endpoint, model, backend, backend_model, stream, prompt_tokens, completion_tokens, latency_ms,
status, outcome, redactions as JSON {type: count}, flags, error). This module is the only place that
knows how those rows are stored and named: `COLUMNS` maps each column the kit uses to the names it
accepts, so following a change in the gateway's schema is an edit here and nowhere else. Only the
columns the adoption analytics use are read (a million rows cost about 0.3 s per column read); the
log's other columns (model, latency, redactions, ...) stay in the database until a report needs them.

Canonical columns (what every other module sees):

| column      | type              | from the gateway's log                                               |
|-------------|-------------------|----------------------------------------------------------------------|
| ts          | datetime (UTC)    | ts (naive UTC, or ISO 8601 with a zone, or epoch seconds)            |
| learner     | category          | learner (rows without one, e.g. a refused key, are left out)         |
| cohort      | category          | cohort                                                               |
| tokens_in   | int               | prompt_tokens                                                        |
| tokens_out  | int               | completion_tokens                                                    |
| status      | int               | status (the HTTP status sent; >= 400 is a failed request)            |
| feature     | category          | endpoint (chat, embeddings, redact), "stream" for a streamed chat    |

Storage accepted: the gateway's database (a SQLAlchemy URL such as `sqlite:///.cache/gateway.db` or
`postgresql+psycopg2://...`, or a `.db`/`.sqlite` file), or an export of its `usage` table as CSV or
JSON lines. Bad rows (unreadable time, negative or non-numeric counts, a broken line) are dropped and
counted with their row numbers in `UsageLog.problems`; they never sink the rest of the log.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import sqlread

TABLE = "usage"
# canonical column -> names accepted in a log (first match wins). Align with the gateway here.
COLUMNS: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "time", "timestamp", "created", "created_at"),
    "learner": ("learner", "user", "student", "learner_id"),
    "cohort": ("cohort",),
    "tokens_in": ("tokens_in", "prompt_tokens", "input_tokens"),
    "tokens_out": ("tokens_out", "completion_tokens", "output_tokens"),
    "status": ("status", "status_code", "http_status"),
    "feature": ("feature", "endpoint", "route"),
    "stream": ("stream",),  # read only to name the feature of a streamed chat
}
CANONICAL = ("ts", "learner", "cohort", "tokens_in", "tokens_out", "status", "feature")  # what every module sees
REQUIRED = ("ts", "learner")  # without these a row says nothing about adoption
NUMERIC = ("tokens_in", "tokens_out", "status")
DEFAULTS = {"cohort": "", "tokens_in": 0, "tokens_out": 0, "status": 200, "feature": "chat"}
MAX_EXAMPLES = 5


class UsageLogError(ValueError):
    """The log cannot be read at all (missing, wrong format, no learner/time column)."""


class UsageLogMissing(UsageLogError):
    """There is no log yet (no file, or a database without the gateway's table): not the same as a broken one."""


@dataclass
class UsageLog:
    frame: pd.DataFrame  # canonical columns, good rows only
    source: str
    rows_read: int = 0
    problems: list[str] = field(default_factory=list)  # one line per kind of bad row, with examples
    gaps: list[tuple[str, str]] = field(default_factory=list)  # weekday runs with no events at all

    @property
    def dropped(self) -> int:
        return self.rows_read - len(self.frame)


def empty() -> pd.DataFrame:
    return normalise(pd.DataFrame({c: [] for c in COLUMNS}))[0]


def read(source: str | Path) -> UsageLog:
    """Read a usage log (SQLite, CSV or JSON lines) into canonical columns; bad rows reported, not fatal."""
    src = str(source)
    if "://" in src and not src.startswith("sqlite:///"):
        raw = _read_url(src)
        frame, problems = normalise(raw, src)
        log = UsageLog(frame, src.split("@")[-1], rows_read=len(raw), problems=problems)
        log.gaps = gaps(frame)
        return log
    path = Path(src.removeprefix("sqlite:///"))
    if not path.exists():
        raise UsageLogMissing(f"usage log {path} not found. The gateway writes it (its database is "
                            f"adoptkit.gateway.db_url; adoptkit.measure.usage_log names another log): check the "
                            f"path, or run the sandbox gateway first.")
    problems: list[str] = []
    if src.startswith("sqlite:///") or path.suffix in (".db", ".sqlite", ".sqlite3"):
        raw = _read_sqlite(path)
    elif path.suffix in (".jsonl", ".ndjson", ".json"):
        raw, problems = _read_jsonl(path)
    else:
        raw, problems = _read_csv(path)
    frame, more = normalise(raw, src)
    log = UsageLog(frame, src, rows_read=len(raw) + _count_broken(problems), problems=problems + more)
    log.gaps = gaps(frame)
    return log


def _select(columns: list[str]) -> str:
    """Only the columns the kit reads (the gateway's log has more): reading 1M rows costs per column."""
    accepted = {name for names in COLUMNS.values() for name in names}
    keep = [c for c in columns if c.lower() in accepted] or columns
    return "SELECT " + ", ".join(f'"{c}"' for c in keep) + f' FROM "{TABLE}"'


def _read_sqlite(path: Path) -> pd.DataFrame:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{TABLE}")')]
            if not columns:
                raise UsageLogMissing(f"usage log {path} has no {TABLE!r} table yet: the gateway creates it on "
                                      f"its first request (or adoptkit.measure.usage_log names another log).")
            return sqlread.rows(conn.cursor(), _select(columns))
    except sqlite3.Error as err:
        raise UsageLogError(f"usage log {path} cannot be read ({err}): the file is damaged or is not the "
                            f"gateway's SQLite database. Restore it from a backup, or point "
                            f"adoptkit.measure.usage_log at the right file; no figure is computed from it "
                            f"until then.") from None


def _read_url(url: str) -> pd.DataFrame:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
        columns = [c["name"] for c in sqlalchemy.inspect(engine).get_columns(TABLE)]
        if not columns:
            raise UsageLogMissing(f"usage log {url.split('@')[-1]}: no table {TABLE!r} yet")
        return sqlread.query(engine, _select(columns))
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as err:
        raise UsageLogError(f"usage log {url.split('@')[-1]}: cannot read table {TABLE!r} "
                            f"({err.__class__.__name__}: {str(err).splitlines()[0]})") from None
    finally:
        if "engine" in locals():
            engine.dispose()


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, list[str]]:
    try:
        return pd.read_json(path, lines=True, dtype=False), []
    except ValueError:
        pass  # some line is broken: parse line by line and keep the good ones
    rows, bad = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError
                rows.append(row)
            except ValueError:
                bad.append(n)
    return pd.DataFrame(rows), [_broken(bad)] if bad else []


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = pd.read_csv(path, dtype=str, on_bad_lines="warn", keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
            raise UsageLogError(f"usage log {path} is not a readable CSV: {err}") from None
    bad = []
    for w in caught:
        for part in str(w.message).splitlines():
            if "Skipping line" in part:
                bad.append(int(part.split("Skipping line")[1].split(":")[0]))
    return df, [_broken(bad)] if bad else []


def _broken(lines: list[int]) -> str:
    return f"{len(lines)} broken line(s) skipped (not a complete record), e.g. line(s) {lines[:MAX_EXAMPLES]}"


def _count_broken(problems: list[str]) -> int:
    return sum(int(p.split()[0]) for p in problems if "broken line" in p)


def normalise(raw: pd.DataFrame, source: str = "usage log") -> tuple[pd.DataFrame, list[str]]:
    """Rename to canonical columns, type them, and drop (and describe) the rows that cannot be used."""
    names = {c.lower(): c for c in raw.columns}
    picked = {}
    for canon, accepted in COLUMNS.items():
        hit = next((names[a] for a in accepted if a in names), None)
        if hit is not None:
            picked[canon] = raw[hit]
    missing = [c for c in REQUIRED if c not in picked]
    if missing and len(raw.columns):
        raise UsageLogError(
            f"{source}: no column for {missing} (accepted names: "
            f"{', '.join(f'{c}: {COLUMNS[c]}' for c in missing)}); its columns are {list(raw.columns)}. "
            f"If the gateway names them differently, add the name to COLUMNS in adoptkit/measure/usage.py.")
    n = len(raw)
    df = pd.DataFrame(index=raw.index)
    problems: list[str] = []
    bad = pd.Series(False, index=raw.index)

    ts = picked.get("ts", pd.Series([], dtype=object))
    df["ts"] = _times(ts) if n else pd.Series([], dtype="datetime64[ns, UTC]")
    learner = _text(picked.get("learner", pd.Series([], dtype=object)))
    for reason, mask in (("time missing or unreadable", df["ts"].isna()),
                         ("no learner (e.g. a request refused before a key was recognised)",
                          learner.isna() | learner.isin([""]))):
        bad |= _note(problems, reason, mask)
    df["learner"] = learner

    for col in ("cohort", "feature"):
        df[col] = _fill(_text(picked[col]), DEFAULTS[col]) if col in picked else DEFAULTS[col]
    if "stream" in picked and "feature" in picked:  # the gateway logs endpoint + stream flag
        streamed = picked["stream"].astype(str).str.lower().isin(["1", "true", "t"]).to_numpy()
        feature = df["feature"]
        if streamed.any():
            feature = feature.cat.add_categories(["stream"]) if "stream" not in feature.cat.categories else feature
            feature = feature.where(~(streamed & (feature == "chat").to_numpy()), "stream")
        df["feature"] = feature
    for col in NUMERIC:
        if col not in picked:
            df[col] = DEFAULTS[col]
            continue
        raw_col = picked[col]
        values = pd.to_numeric(raw_col, errors="coerce")
        unreadable = values.isna() & raw_col.notna()
        if unreadable.any():  # blanks are missing values (defaults), not errors
            unreadable[unreadable] = raw_col[unreadable].astype(str).str.strip() != ""
        bad |= _note(problems, f"{col} not a number", unreadable)
        bad |= _note(problems, f"{col} negative", values < 0)
        df[col] = values.fillna(DEFAULTS[col])
    dropped = bool(bad.any())
    good = df[~bad] if dropped else df
    out = pd.DataFrame({
        "ts": good["ts"].astype("datetime64[ns, UTC]"),
        "learner": _category(good["learner"], dropped),
        "cohort": _category(good["cohort"], dropped),
        "tokens_in": good["tokens_in"].astype("int64"),
        "tokens_out": good["tokens_out"].astype("int64"),
        "status": good["status"].astype("int64"),
        "feature": _category(good["feature"], dropped),
    }).reset_index(drop=True)
    return out, problems


def _times(ts: pd.Series) -> pd.Series:
    """ISO 8601 strings (fast path) or epoch seconds; anything else is tried once more, leniently."""
    sample = ts.dropna().head(1000)  # numbers or text: a sample decides, parsing all of it as numbers is slow
    if len(sample) and pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5:
        return pd.to_datetime(pd.to_numeric(ts, errors="coerce"), unit="s", utc=True, errors="coerce")
    out = pd.to_datetime(ts, utc=True, errors="coerce", format="ISO8601")
    retry = out.isna() & ts.notna()
    if retry.any():
        out[retry] = pd.to_datetime(ts[retry].astype(str), utc=True, errors="coerce", format="mixed")
    return out


def _text(col: pd.Series) -> pd.Series:
    """Stripped text as a categorical: the cleaning runs once per distinct value, not once per row."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    cleaned = pd.Index(uniques).astype(str).str.strip()
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(cleaned)), index=col.index) \
        if cleaned.is_unique else col.astype("string").str.strip().astype("category")


def _fill(col: pd.Series, default: str) -> pd.Series:
    if not col.isna().any():
        return col
    if default not in col.cat.categories:
        col = col.cat.add_categories([default])
    return col.fillna(default)


def _category(col: pd.Series, prune: bool = True) -> pd.Series:
    """Text categories; `prune` drops the values only dropped rows had (not needed when none were)."""
    if not len(col):
        return col.astype(str).astype("category")
    col = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype(str).astype("category")
    if prune:
        col = col.cat.remove_unused_categories()
    return col.cat.rename_categories(lambda c: str(c))


def _note(problems: list[str], reason: str, mask: pd.Series) -> pd.Series:
    mask = mask.fillna(False).astype(bool)
    if mask.any():
        rows = (np.flatnonzero(mask.to_numpy())[:MAX_EXAMPLES] + 1).tolist()
        problems.append(f"{int(mask.sum())} row(s) dropped: {reason}, e.g. data row(s) {rows}")
    return mask


def gaps(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Runs of weekdays inside the log's span with no request at all: missing data, not zero use."""
    if frame.empty:
        return []
    days = frame["ts"].dt.tz_convert("UTC").dt.normalize().dt.tz_localize(None).unique()
    span = pd.date_range(days.min(), days.max(), freq="D")
    silent = span.difference(pd.DatetimeIndex(days))
    silent = silent[silent.day_of_week < 5].to_numpy().astype("datetime64[D]")
    if not len(silent):
        return []
    # Consecutive working days (a weekend in between does not split a run) form one gap.
    n = np.busday_count(np.datetime64("1970-01-01"), silent)
    breaks = np.flatnonzero(np.diff(n) != 1) + 1
    return [(str(run[0]), str(run[-1])) for run in np.split(silent, breaks)]


# --- analytics ---------------------------------------------------------------------------------------

def per_learner(frame: pd.DataFrame, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per learner: requests, active days, weeks, requests per active week, features, errors."""
    f = frame if since is None else frame[frame["ts"] >= since]
    if f.empty:
        return pd.DataFrame(columns=["requests", "active_days", "active_weeks", "requests_per_week",
                                     "features_used", "errors", "tokens", "first_seen", "last_seen"])
    day = f["ts"].dt.floor("D")
    week = week_start(f["ts"])
    g = pd.DataFrame({"learner": f["learner"].astype(str), "day": day, "week": week, "feature": f["feature"],
                      "error": f["status"] >= 400, "tokens": f["tokens_in"] + f["tokens_out"], "ts": f["ts"]})
    grouped = g.groupby("learner", observed=True, sort=True)
    out = pd.DataFrame({
        "requests": grouped.size(),
        "active_days": grouped["day"].nunique(),
        "active_weeks": grouped["week"].nunique(),
        "features_used": grouped["feature"].nunique(),
        "errors": grouped["error"].sum(),
        "tokens": grouped["tokens"].sum(),
        "first_seen": grouped["ts"].min(),
        "last_seen": grouped["ts"].max(),
    })
    out["requests_per_week"] = out["requests"] / out["active_weeks"]
    return out


def week_start(ts: pd.Series) -> pd.Series:
    """The Monday (00:00, UTC, naive) of each timestamp's ISO week."""
    day = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


def weekly(frame: pd.DataFrame) -> pd.DataFrame:
    """Requests per learner per ISO week (rows: week start; columns: learner; 0 where idle)."""
    if frame.empty:
        return pd.DataFrame()
    counts = frame.groupby([week_start(frame["ts"]), frame["learner"]], observed=True).size().unstack(fill_value=0)
    return counts.reindex(pd.date_range(counts.index.min(), counts.index.max(), freq="7D"), fill_value=0)


def features(frame: pd.DataFrame) -> pd.Series:
    """Share of active learners who used each feature at least once."""
    if frame.empty:
        return pd.Series(dtype=float)
    pairs = frame[["learner", "feature"]].astype(str).drop_duplicates()
    return (pairs["feature"].value_counts() / frame["learner"].nunique()).sort_values(ascending=False)


def daily_active(frame: pd.DataFrame) -> pd.Series:
    """Distinct learners per day: the engagement curve."""
    if frame.empty:
        return pd.Series(dtype=int)
    return frame.groupby(frame["ts"].dt.floor("D"))["learner"].nunique()

"""The gateway's database: learner keys and the usage log, in SQLite (default) or PostgreSQL.

Two tables, kept simple because the adoption reports read them directly:

`keys`   one row per issued key: key_id (public, shown in listings), sha256 of the key (the key itself
         is shown once and never stored), learner, cohort, note, created_at, revoked_at (NULL: valid).
`budget` the budget counters when several gateway processes share one PostgreSQL (budgets.py).
`usage`  one row per request: ts (UTC), learner, cohort, key_id, endpoint ("chat", "embeddings", or
         "redact" for a preview that calls no model),
         model (as asked), backend ("offline" or the upstream's name), backend_model, stream,
         prompt_tokens, completion_tokens, latency_ms, status (the HTTP status sent), outcome ("ok",
         "client_disconnected", "over_budget", "rate_limited", "blocked", "upstream_error", ...),
         redactions (JSON {type: count}), flags (JSON list, e.g. ["prompt_injection"]), error (message).
         It holds no prompt or answer text, and upstream error text is scrubbed of secrets and PII
         before it is stored. Model calls and refused model calls are logged; requests refused
         before a learner is known (a bad key, 401, or a throttled source, 429) are counted instead:
         one row per minute and error code, with no learner, saying how many. Listing models,
         reading one's own usage, /healthz and the hub exchange are not logged.

SQLite runs in WAL mode: a crash mid-write loses at most the uncommitted batch, never the file.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

keys = sa.Table(
    "keys", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("learner", sa.String(200), nullable=False, index=True),
    sa.Column("cohort", sa.String(200), nullable=False),
    sa.Column("note", sa.String(500), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
)

usage = sa.Table(
    "usage", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime, nullable=False, index=True),
    sa.Column("learner", sa.String(200), nullable=True),
    sa.Column("cohort", sa.String(200), nullable=True),
    sa.Column("key_id", sa.String(32), nullable=True),
    sa.Column("endpoint", sa.String(32), nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("backend", sa.String(100), nullable=True),
    sa.Column("backend_model", sa.String(200), nullable=True),
    sa.Column("stream", sa.Boolean, nullable=False, default=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("latency_ms", sa.Float, nullable=False, default=0.0),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("redactions", sa.Text, nullable=False, default="{}"),
    sa.Column("flags", sa.Text, nullable=False, default="[]"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_usage_learner_ts", "learner", "ts"),
)


# Budget counters shared by gateway replicas (PostgreSQL; budgets.py). One row per window (a UTC day, or
# a minute for per-minute rates), level ("learner"/"cohort") and name: requests admitted, tokens used
# by requests that ended, tokens held by requests still running.
budget = sa.Table(
    "budget", metadata,
    sa.Column("window", sa.DateTime, primary_key=True),
    sa.Column("level", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("requests", sa.Integer, nullable=False, default=0),
    sa.Column("used", sa.BigInteger, nullable=False, default=0),
    sa.Column("held", sa.BigInteger, nullable=False, default=0),
)


def insert_ignore(conn, table: sa.Table, rows: list[dict]):
    """INSERT that leaves existing rows alone (PostgreSQL ON CONFLICT DO NOTHING, SQLite OR IGNORE)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).values(rows).on_conflict_do_nothing()
    return table.insert().values(rows).prefix_with("OR IGNORE")


def resolve_url(url: str, root: Path) -> str:
    """A relative SQLite path is taken from the config file's folder; its folder is created."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))  # sqlite:////abs/file.db -> /abs/file.db
        path = path if path.is_absolute() else (root / path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a crash never corrupts
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe with WAL
    cur.execute("PRAGMA busy_timeout=5000")  # the CLI and the server share the file
    cur.close()


def connect(url: str, root: Path = Path(".")) -> sa.Engine:
    """An engine with the tables created. SQLite gets WAL; PostgreSQL wants `postgresql+psycopg2://`."""
    url = resolve_url(url, root)
    if url.startswith("postgresql://"):
        raise ValueError(f"{url.split('@')[-1]}: write the URL as postgresql+psycopg2://... "
                         "(a bare postgresql:// asks SQLAlchemy for psycopg 3, which the kit does not install)")
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine

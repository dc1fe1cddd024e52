import json
import sqlite3

import pandas as pd
import pytest

from adoptkit.measure import usage

GOOD = [
    {"ts": "2026-03-02T09:00:00Z", "learner": "ana", "cohort": "c1", "model": "m", "tokens_in": 10,
     "tokens_out": 5, "latency_ms": 120, "redactions": 0, "status": 200, "feature": "chat"},
    {"ts": "2026-03-02T10:00:00Z", "learner": "ana", "cohort": "c1", "model": "m", "tokens_in": 20,
     "tokens_out": 5, "latency_ms": 80, "redactions": 1, "status": 200, "feature": "json"},
    {"ts": "2026-03-04T10:00:00Z", "learner": "ana", "cohort": "c1", "model": "m", "tokens_in": 1,
     "tokens_out": 1, "latency_ms": 80, "redactions": 0, "status": 429, "feature": "chat"},
    {"ts": "2026-03-10T11:00:00Z", "learner": "ben", "cohort": "c1", "model": "m", "tokens_in": 3,
     "tokens_out": 3, "latency_ms": 50, "redactions": 0, "status": 200, "feature": "stream"},
]


def test_csv_jsonl_and_sqlite_give_the_same_canonical_frame(tmp_path):
    df = pd.DataFrame(GOOD)
    df.to_csv(tmp_path / "u.csv", index=False)
    (tmp_path / "u.jsonl").write_text("\n".join(json.dumps(r) for r in GOOD))
    with sqlite3.connect(tmp_path / "u.db") as c:
        df.to_sql("usage", c, index=False)
    frames = [usage.read(tmp_path / n).frame for n in ("u.csv", "u.jsonl", "u.db")]
    for f in frames:
        assert list(f.columns) == list(usage.CANONICAL)
        assert str(f["ts"].dtype) == "datetime64[ns, UTC]" and f["tokens_in"].sum() == 34
        pd.testing.assert_frame_equal(f, frames[0])


def test_gateway_style_names_are_accepted_and_missing_optional_columns_get_defaults(tmp_path):
    rows = [{"time": 1772442000, "user": "ana", "prompt_tokens": 7, "completion_tokens": 2}]
    (tmp_path / "g.jsonl").write_text(json.dumps(rows[0]))
    f = usage.read(tmp_path / "g.jsonl").frame
    assert f.loc[0, "learner"] == "ana" and f.loc[0, "tokens_in"] == 7 and f.loc[0, "status"] == 200
    assert f.loc[0, "feature"] == "chat" and f.loc[0, "ts"] == pd.Timestamp(1772442000, unit="s", tz="UTC")


def test_malformed_rows_are_dropped_counted_and_located(tmp_path):
    lines = [json.dumps(r) for r in GOOD]
    lines.insert(1, "{not json")
    lines.append(json.dumps({**GOOD[0], "ts": "yesterday-ish"}))
    lines.append(json.dumps({**GOOD[0], "learner": ""}))
    lines.append(json.dumps({**GOOD[0], "tokens_in": -5}))
    lines.append(json.dumps({**GOOD[0], "status": "fine"}))
    (tmp_path / "bad.jsonl").write_text("\n".join(lines))
    log = usage.read(tmp_path / "bad.jsonl")
    assert len(log.frame) == 4 and log.dropped == 5 and log.rows_read == 9
    text = "\n".join(log.problems)
    for reason in ("broken line", "time missing or unreadable", "no learner", "tokens_in negative",
                   "status not a number"):
        assert reason in text
    assert "line(s) [2]" in text  # where the broken line is


def test_csv_with_a_broken_line_keeps_the_rest(tmp_path):
    body = "ts,learner,tokens_in\n2026-03-02T09:00:00Z,ana,3\n2026-03-02T09:05:00Z,ana,4,EXTRA,FIELDS\n2026-03-03T09:00:00Z,ben,5\n"
    (tmp_path / "b.csv").write_text(body)
    log = usage.read(tmp_path / "b.csv")
    assert list(log.frame["learner"]) == ["ana", "ben"]
    assert any("broken line" in p and "[3]" in p for p in log.problems)


def test_gaps_report_silent_weekdays_but_not_weekends(tmp_path):
    days = ["2026-03-02", "2026-03-03", "2026-03-09", "2026-03-13", "2026-03-16"]  # Mondays .. a Friday
    rows = [{**GOOD[0], "ts": f"{d}T09:00:00Z"} for d in days]
    f = usage.normalise(pd.DataFrame(rows))[0]
    assert usage.gaps(f) == [("2026-03-04", "2026-03-06"), ("2026-03-10", "2026-03-12")]
    weekend_only = usage.normalise(pd.DataFrame([{**GOOD[0], "ts": d} for d in ("2026-03-06", "2026-03-09")]))[0]
    assert usage.gaps(weekend_only) == []


def test_unusable_logs_fail_with_a_clear_message(tmp_path):
    with pytest.raises(usage.UsageLogError, match="not found"):
        usage.read(tmp_path / "missing.db")
    (tmp_path / "x.csv").write_text("when,who\n1,2\n")
    with pytest.raises(usage.UsageLogError, match=r"no column for \['ts', 'learner'\].*COLUMNS"):
        usage.read(tmp_path / "x.csv")
    with sqlite3.connect(tmp_path / "other.db") as c:
        c.execute("CREATE TABLE t (a)")
    with pytest.raises(usage.UsageLogMissing, match="no 'usage' table yet"):
        usage.read(tmp_path / "other.db")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupted_database_is_an_error_not_an_empty_log(tmp_path, damage):
    """Missing (no log yet) and broken (damaged file) are different: a broken log is never read as no use."""
    path = tmp_path / "gateway.db"
    if damage == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    else:
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE usage (ts TEXT, learner TEXT)")
            c.executemany("INSERT INTO usage VALUES (?, ?)", [(f"2026-03-0{i % 9 + 1}T10:00:00Z", "ana")
                                                              for i in range(5000)])
        data = path.read_bytes()
        path.write_bytes(data[:4096] + b"\x00" * 100 + data[8192:])  # a damaged page in the middle
    with pytest.raises(usage.UsageLogError, match="damaged or is not the gateway's SQLite database") as err:
        usage.read(path)
    assert not isinstance(err.value, usage.UsageLogMissing)


def test_analytics_per_learner_weekly_and_features():
    f = usage.normalise(pd.DataFrame(GOOD))[0]
    pl = usage.per_learner(f)
    assert pl.loc["ana", "requests"] == 3 and pl.loc["ana", "active_days"] == 2
    assert pl.loc["ana", "active_weeks"] == 1 and pl.loc["ana", "errors"] == 1
    assert pl.loc["ana", "features_used"] == 2 and pl.loc["ben", "requests_per_week"] == 1
    w = usage.weekly(f)
    assert list(w.index) == [pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-09")]
    assert w.loc["2026-03-02", "ana"] == 3 and w.loc["2026-03-09", "ana"] == 0
    feats = usage.features(f)
    assert feats["chat"] == 0.5 and feats["stream"] == 0.5
    assert usage.per_learner(usage.empty()).empty and usage.weekly(usage.empty()).empty


def test_the_gateways_own_table_is_read_as_it_writes_it(tmp_path):
    """The columns and encodings of adoptkit/gateway/db.py's `usage` table (SQLAlchemy on SQLite)."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    table = sa.Table("usage", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("ts", sa.DateTime),
                     *(sa.Column(c, sa.String) for c in ("learner", "cohort", "key_id", "endpoint", "model",
                                                         "backend", "backend_model")),
                     sa.Column("stream", sa.Boolean), sa.Column("prompt_tokens", sa.Integer),
                     sa.Column("completion_tokens", sa.Integer), sa.Column("latency_ms", sa.Float),
                     sa.Column("status", sa.Integer), sa.Column("outcome", sa.String),
                     sa.Column("redactions", sa.Text), sa.Column("flags", sa.Text), sa.Column("error", sa.Text))
    meta.create_all(engine)
    from datetime import datetime

    def row(learner, endpoint="chat", stream=False, redactions="{}", status=200, outcome="ok"):
        return {"ts": datetime(2026, 3, 2, 9, 30), "learner": learner, "cohort": "c1", "key_id": "k",
                "endpoint": endpoint, "model": "course-default", "backend": "offline", "backend_model": "m",
                "stream": stream, "prompt_tokens": 12, "completion_tokens": 4, "latency_ms": 8.5,
                "status": status, "outcome": outcome, "redactions": redactions, "flags": "[]", "error": None}

    with engine.begin() as c:
        c.execute(table.insert(), [row("ana"), row("ana", stream=True, redactions='{"EMAIL_ADDRESS": 2, "PERSON": 1}'),
                                   row("ben", endpoint="embeddings"), row(None, status=401, outcome="unauthorised"),
                                   row("ben", redactions="{broken")])
    engine.dispose()
    for source in (url, tmp_path / "gateway.db"):
        log = usage.read(source)
        f = log.frame
        assert list(f["learner"]) == ["ana", "ana", "ben", "ben"]
        assert list(f["feature"]) == ["chat", "stream", "embeddings", "chat"]
        assert f.loc[0, "ts"] == pd.Timestamp("2026-03-02T09:30", tz="UTC") and f["tokens_in"].sum() == 48
        assert log.problems == ["1 row(s) dropped: no learner (e.g. a request refused before a key was recognised), "
                                "e.g. data row(s) [4]"]


def test_bulk_reader_keeps_each_row_and_cell_as_the_driver_gave_it(tmp_path):
    """sqlread.rows: one object column per SQL column; a cell that is a list (a PostgreSQL array) stays one cell."""
    from adoptkit.measure import sqlread

    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute("CREATE TABLE t (a INTEGER, b TEXT, c REAL)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(1, "x", 0.5), (None, "y", None)])
        df = sqlread.rows(conn.cursor(), "SELECT a, b, c FROM t")
        assert list(df.columns) == ["a", "b", "c"] and (df.dtypes == object).all()
        assert df.to_dict("list") == {"a": [1, None], "b": ["x", "y"], "c": [0.5, None]}
        assert sqlread.rows(conn.cursor(), "SELECT a FROM t WHERE a > 5").shape == (0, 1)

    class ArrayCursor:  # what psycopg2 returns for an array column
        description = [("id",), ("tags",)]

        def execute(self, sql):
            pass

        def fetchall(self):
            return [(1, ["a", "b"]), (2, ["c", "d"])]

    df = sqlread.rows(ArrayCursor(), "SELECT id, tags FROM t")
    assert df.shape == (2, 2) and df.loc[1, "tags"] == ["c", "d"]

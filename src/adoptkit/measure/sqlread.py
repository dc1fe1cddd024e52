"""Many rows from a database into pandas, fast: the reports read a million usage rows and half a million
grades, and pandas' own SQL reader spends more time typing them than the database spends finding them.

`rows(cursor, sql)` takes the driver's plain tuples into one object block with the cyclic collector paused;
the caller types each column (it knows what each should be, and how to report a value that is not).
`query(engine, sql)` does the same through a SQLAlchemy engine's driver connection (SQLite, PostgreSQL).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd


@contextmanager
def gc_paused() -> Iterator[None]:
    """Reading records makes millions of objects (a tuple a row, a string a cell) that hold no cycles; left
    on, the cyclic collector scans them, and every object column already read, again and again (about
    0.8 s a million usage rows). Nothing it could free is made meanwhile, so pausing it loses nothing."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def rows(cursor, sql: str) -> pd.DataFrame:
    """The result of `sql` on a DB-API cursor, every column of dtype object."""
    with gc_paused():
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        fetched = cursor.fetchall()
        block = _block(fetched, len(names)) if fetched else None
    return pd.DataFrame(block, columns=names, dtype=object, copy=False)


def _block(fetched: list, width: int) -> np.ndarray:
    try:
        block = np.array(fetched, dtype=object)
        if block.shape == (len(fetched), width):
            return block
    except ValueError:
        pass
    # A cell that is itself a sequence (a PostgreSQL array or JSON list) would nest: one column at a time.
    block = np.empty((len(fetched), width), dtype=object)
    for j in range(width):
        block[:, j] = [row[j] for row in fetched]
    return block


def query(engine, sql: str) -> pd.DataFrame:
    """`rows()` through a SQLAlchemy engine's own driver connection (returned to its pool after)."""
    conn = engine.raw_connection()
    try:
        return rows(conn.cursor(), sql)
    finally:
        conn.close()

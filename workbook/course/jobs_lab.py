"""Notebook 12's comparison after a savepoint and a restart: the processor's windows in PostgreSQL against one
bounded run of the same statements over the trades now in the topic, in a scratch schema.

    writes("candlesticks", solutions)      whether the processor's job has that table's INSERT (not a skeleton)
    wait_for_window(config, at_ms)         until the processor has written the window open at that time
    reference_run(config, solutions)      the bounded run into the schema REFERENCE_SCHEMA (made afresh)
    compare_windows(config, "candlesticks")  windows compared, lost, changed
    drop_reference(config)                 the scratch schema removed
"""

from __future__ import annotations

import time

import pandas as pd

from .. import pipeline
from ..config import Config
from ..database import apply_ddl, connect

REFERENCE_SCHEMA = "workbook_reference"
KEYS = ["ts_start", "currency_pair"]
REL = 1e-9  # sums of doubles added in another order (two parallel tasks) differ in their last digits


def _fetch(config: Config, sql: str) -> tuple[list, list]:
    """The rows of `sql` and its column names, on a connection of its own (libpq's search_path is the student's
    schema in shared-cluster mode: a table's plain name is theirs)."""
    conn = connect(config)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return (cur.fetchall() if cur.description else []), [d[0] for d in cur.description or ()]
    finally:
        conn.close()


def writes(table: str, solutions: bool = False) -> bool:
    """Whether the processor's job writes `table`: its statement in sql/ is an INSERT, not a skeleton."""
    return any(s.kind == "insert" and s.name == table for s in pipeline.load_statements(solutions))


def wait_for_window(config: Config, at_ms: int, timeout: float = 120, table: str = "candlesticks") -> bool:
    """Wait until the processor has written the 1-minute window that was open at `at_ms` (epoch ms, e.g. when a
    job was restarted) or a later one; False after `timeout` seconds (nothing written: a statement not done)."""
    deadline = time.monotonic() + timeout
    while True:
        newest = _fetch(config, f"SELECT EXTRACT(EPOCH FROM MAX(ts_start)) * 1000 FROM {table}")[0][0][0]
        if newest is not None and float(newest) + 60_000 > at_ms:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(2)


def drop_reference(config: Config) -> None:
    _fetch(config, f"DROP SCHEMA IF EXISTS {REFERENCE_SCHEMA} CASCADE")


def reference_run(config: Config, solutions: bool = False) -> pipeline.RunResult:
    """One bounded run of the processor over the topic as it is now (from its earliest offset to its end) into
    the scratch schema REFERENCE_SCHEMA, made afresh with the tables of sql/postgres/."""
    drop_reference(config)
    apply_ddl(connect(config), schema=REFERENCE_SCHEMA)
    url = pipeline.jdbc_url_with_schema(config, REFERENCE_SCHEMA)
    return pipeline.run(
        pipeline.RunOptions(bounded=True, solutions=solutions, jdbc_url=url), config, say=lambda *_: None
    )


def _table(config: Config, table: str, schema: str | None = None) -> pd.DataFrame:
    rows, columns = _fetch(config, f"SELECT * FROM {schema + '.' if schema else ''}{table}")
    frame = pd.DataFrame(rows, columns=columns)
    return frame.drop(columns=[c for c in ("ts_end",) if c in frame])


def compare_windows(config: Config, table: str = "candlesticks") -> dict:
    """The processor's windows of `table` (the configured schema) against the reference run's, over the minutes
    both can have: after the reference's first minute (the topic's oldest trades may have left it: retention)
    up to the newest window the processor wrote. Counts of windows compared, lost (in the reference, not in the
    processor's table) and changed (another value), and an example. (None is written twice: the table's primary
    key is the window and the pair, and the sink upserts on it.)"""
    stored = _table(config, table)
    reference = _table(config, table, REFERENCE_SCHEMA)
    if stored.empty or reference.empty:
        return {"compared": 0, "lost": 0, "changed": 0, "example": None}
    first, last = reference["ts_start"].min(), stored["ts_start"].max()
    reference = reference[(reference["ts_start"] > first) & (reference["ts_start"] <= last)]
    stored_in = stored[(stored["ts_start"] > first) & (stored["ts_start"] <= last)]
    both = reference.merge(stored_in, on=KEYS, how="left", suffixes=("", "_stored"), indicator=True)
    lost = both[both["_merge"] == "left_only"]
    values = [c for c in reference.columns if c not in KEYS and pd.api.types.is_numeric_dtype(reference[c])]
    found = both[both["_merge"] == "both"]
    differs = pd.Series(False, index=found.index)
    for column in values:
        a, b = found[column].astype(float), found[f"{column}_stored"].astype(float)
        differs |= (a - b).abs() > REL * b.abs().clip(lower=1.0)
    changed = found[differs]
    example = next((f.iloc[0][KEYS].astype(str).to_dict() for f in (lost, changed) if len(f)), None)
    return {"compared": len(reference), "lost": len(lost), "changed": len(changed), "example": example}

"""The advanced track, notebook 11: what the lookup cache costs. The table assets (sql/27_assets.sql) keeps a row
looked up for 10 minutes ('lookup.cache' = 'PARTIAL'), so a change of that row in PostgreSQL while a query runs
does not reach the query's later records: they get the cached, old row. Without the cache (a hint sets
'lookup.cache' = 'NONE') the records processed after the change get the new row."""

import threading
import time

import pandas as pd
import pytest

from workbook import database
from workbook.config import load_config
from workbook.course import feedback

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# a slow stream of bitcoin records (2 a second, 20 in all: ~10 s); asset is computed from n because Flink wants
# the lookup key to be a column of the stream, not a constant ('bitcoin' = a.asset is refused)
TICKS = """CREATE TEMPORARY TABLE IF NOT EXISTS lookup_cache_ticks (
  n INT, asset AS IF(n > 0, 'bitcoin', 'none'), proc_time AS PROCTIME()
) WITH ('connector' = 'datagen', 'rows-per-second' = '2',
  'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '20');
"""
LOOKUP = """SELECT t.n, a.symbol, t.proc_time
FROM lookup_cache_ticks AS t
LEFT JOIN assets {hint} FOR SYSTEM_TIME AS OF t.proc_time AS a ON t.asset = a.asset"""
NO_CACHE = "/*+ OPTIONS('lookup.cache' = 'NONE') */"
LOOKUP_SQL = "FROM assets WHERE"  # the JDBC lookup's statement: SELECT asset, symbol FROM assets WHERE asset = $1
AFTER_FIRST_LOOKUP_S = 2.0  # the change comes this long after the query's first lookup: ~4 records before it
MARGIN_S = 0.5  # records this close to the change are neither before nor after it (the rate sends them 2 at a time)
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine


def _execute(config, sql: str, *args):
    conn = database.connect(config)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def _lookup_backends(config) -> set:
    """PostgreSQL's backends whose last statement was a lookup of assets (a lookup join's JDBC connection)."""
    rows = _execute(config, "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database()")
    return {pid for pid, query in rows if LOOKUP_SQL in (query or "")}


def _change_bitcoin_while(config, query: str) -> tuple[pd.DataFrame, float, float]:
    """Run `query`; another thread sets bitcoin's symbol to 'XBT' AFTER_FIRST_LOOKUP_S after the query's first
    lookup (a new backend that looked up assets: the query started, whatever the cluster's start took). The rows,
    when the UPDATE was sent and when it had committed (epoch seconds)."""
    old = _lookup_backends(config)
    change: dict = {}

    def update():
        deadline = time.monotonic() + TIMEOUT_S
        while not (_lookup_backends(config) - old):
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        time.sleep(AFTER_FIRST_LOOKUP_S)
        change["sent"] = time.time()
        _execute(config, "UPDATE assets SET symbol = 'XBT' WHERE asset = 'bitcoin'")
        change["committed"] = time.time()

    thread = threading.Thread(target=update, name="update-bitcoin", daemon=True)
    thread.start()
    try:
        frame = feedback.run_answer(TICKS + query, timeout_s=TIMEOUT_S)
        thread.join(TIMEOUT_S)
        assert "committed" in change, "the UPDATE did not run: no lookup of assets was seen in PostgreSQL"
        # the change is in PostgreSQL (not undone) when the query ends
        assert _execute(config, "SELECT symbol FROM assets WHERE asset = 'bitcoin'") == [("XBT",)]
    finally:
        thread.join(TIMEOUT_S)
        _execute(config, "UPDATE assets SET symbol = 'BTC' WHERE asset = 'bitcoin'")
    return frame, change["sent"], change["committed"]


def _before_and_after(frame: pd.DataFrame, sent: float, committed: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records processed (their proc_time, the JVM's clock, the same as ours) before the UPDATE was sent and
    after it had committed, each MARGIN_S away from it."""
    processed = frame["proc_time"].map(lambda ts: ts.timestamp())
    before, after = frame[processed < sent - MARGIN_S], frame[processed > committed + MARGIN_S]
    assert len(frame) == 20 and len(before) >= 1 and len(after) >= 5, frame.to_string()
    return before, after


def test_a_cached_row_hides_a_change_until_it_expires():
    """Notebook 11: with the table's cache, bitcoin's row is looked up once and taken from the cache after that;
    the records processed after bitcoin's symbol changed in PostgreSQL still get the old one ('BTC'). The same
    query without the cache: the records processed after the change get 'XBT', those before 'BTC'."""
    config = load_config()
    assert _execute(config, "SELECT symbol FROM assets WHERE asset = 'bitcoin'") == [("BTC",)]
    try:
        frame, sent, committed = _change_bitcoin_while(config, LOOKUP.format(hint=""))
        _before_and_after(frame, sent, committed)  # records after the change too
        assert (frame["symbol"] == "BTC").all(), frame.to_string()

        frame, sent, committed = _change_bitcoin_while(config, LOOKUP.format(hint=NO_CACHE))
        before, after = _before_and_after(frame, sent, committed)
        assert (before["symbol"] == "BTC").all() and (after["symbol"] == "XBT").all(), frame.to_string()
    finally:
        feedback.session().run_cell(
            "DROP TEMPORARY TABLE IF EXISTS lookup_cache_ticks", data=feedback.data_key("check"), protected=True
        )

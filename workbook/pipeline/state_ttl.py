"""What a state TTL costs (notebook 12, tests/test_state_ttl.py): a count per key with no window, over a Kafka
topic written in two parts with a pause between them, with and without `table.exec.state.ttl`.

    counts(bootstrap_servers, topic, ttl="1 s", pause_s=4)   the rows the count emits: [("+I", "a", 1), ...]

The first part is a, b, a; after the pause, one more a. Without a TTL the count of a goes on to 3. With a TTL
shorter than the pause, Flink has dropped a's state when the second part arrives (the TTL is measured in
processing time: the time the job's machine has, not the events' times), so a's count starts again at 1: a
wrong count, in exchange for state that does not grow forever.
"""

from __future__ import annotations

import queue
import threading
import time

from .. import kafka
from . import results
from .flink_env import create_table_env

FIRST, SECOND = ["a", "b", "a"], ["a"]
QUERY = "SELECT pair, COUNT(*) AS n FROM ttl_events GROUP BY pair"


def _ddl(bootstrap_servers: str, topic: str) -> str:
    return f"""CREATE TEMPORARY TABLE ttl_events (pair STRING) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap_servers}',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json')"""


def _reader(result, rows: queue.Queue) -> None:
    try:
        with result.collect() as it:
            for row in it:
                rows.put((results.KINDS[row.get_row_kind().value], row[0], row[1]))
    except Exception as exc:  # noqa: BLE001 - the job was cancelled (the end of every run) or failed
        rows.put(exc)


def _take(rows: queue.Queue, until, timeout_s: float) -> list:
    """The rows read until `until(row)` holds; RuntimeError after `timeout_s`."""
    got, deadline = [], time.monotonic() + timeout_s
    while True:
        try:
            row = rows.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError(f"no row {until} within {timeout_s:.0f} s (rows so far: {got})") from None
        if isinstance(row, Exception):
            raise RuntimeError(f"the count's job ended: {row}") from None
        got.append(row)
        if until(row):
            return got


def counts(
    bootstrap_servers: str, topic: str, ttl: str | None = None, pause_s: float = 4.0, timeout_s: float = 120
) -> list:
    """The rows (kind, pair, n) that the count per pair emits for FIRST, then (after `pause_s` seconds of
    processing time) SECOND, written to `topic`; with `table.exec.state.ttl` = `ttl` when given."""
    kafka.fill_topic(bootstrap_servers, topic, [{"pair": p} for p in FIRST])
    t_env = create_table_env()
    if ttl:
        t_env.get_config().set("table.exec.state.ttl", ttl)
    t_env.execute_sql(_ddl(bootstrap_servers, topic))
    result = t_env.execute_sql(QUERY)
    rows: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(result, rows), daemon=True).start()
    try:
        got = _take(rows, lambda row: row[1:] == ("a", 2), timeout_s)
        time.sleep(pause_s)
        kafka.write_records(bootstrap_servers, topic, [{"pair": p} for p in SECOND], partition=0)
        got += _take(rows, lambda row: row[0] in ("+I", "+U") and row[1] == "a", timeout_s)  # a's new count
        return got
    finally:
        result.get_job_client().cancel()

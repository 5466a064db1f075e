"""The check of `source_table` (notebook 03, DDL): the student's CREATE TABLE trades with the
event-time column ts and a 5-second WATERMARK.

The check defines the student's table over the probe dataset (datasets.probe_trades: one pair, a
trade a second, and stragglers of known lags behind the newest trade) in a scratch table of the
kernel's session, reads the table's watermark declaration from Flink's schema, then reads every
probe trade through it with CURRENT_WATERMARK: which stragglers are behind the watermark tells the delay. It names
the usual mistakes: no WATERMARK, a watermark on the BIGINT `timestamp`, milliseconds read as seconds
(or the milliseconds lost), the wrong delay.
"""

from __future__ import annotations

import re

import pandas as pd

from ..pipeline import SqlFileError, sql_files
from ..pipeline.pyflink_internals import watermark_of
from ..pipeline.session import short_message
from .checks_basics import PROBE, expected, run_basics
from .feedback import CheckResult, Wrong, data_key, judged, passed, session

EXERCISE = "source_table"
_CREATE = re.compile(r"CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[\w.]+)", re.IGNORECASE)
_SCRATCH = "source_table_check"
_NOT_AN_EVENT_TIME = re.compile(
    r"time field|rowtime|TIMESTAMP\(3\)|TIMESTAMP_LTZ\(3\)|<BIGINT> - <INTERVAL", re.IGNORECASE
)


@judged(EXERCISE)
def check_source_table(sql, timeout_s: float | None = None) -> CheckResult:
    ddl = _ddl(sql)
    t_env = _create_scratch(ddl)
    try:
        wm_expr = _watermark(t_env)
        frame = _read_probe(timeout_s)
    finally:
        t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {_SCRATCH}")
    exp = expected(EXERCISE)
    _timestamps(frame, exp)
    _delay(frame, exp, wm_expr)
    return passed(EXERCISE, f"correct: ts is the event time (rowtime) and the watermark trails it by 5 s ({wm_expr}).")


def _ddl(sql) -> str:
    """The answer's first CREATE TABLE, without comments; Wrong when there is none or it has no WATERMARK."""
    if not isinstance(sql, str):
        raise Wrong("the answer is the CREATE TABLE statement (SQL text).")
    creates = [t for _, t in sql_files.split_statements(sql) if _CREATE.search(sql_files.code_of(t) or "")]
    if not creates:
        raise Wrong("there is no CREATE TABLE statement in your answer: complete the CREATE TABLE of the cell.")
    ddl = sql_files.strip_comments(creates[0])
    if not re.search(r"\bWATERMARK\b", ddl, re.IGNORECASE):
        raise Wrong(
            "no WATERMARK: without one, ts is a plain timestamp, not an event-time (rowtime) "
            "attribute, and windows over it cannot close. Declare WATERMARK FOR <column> AS ..."
        )
    return ddl


def _create_scratch(ddl: str):
    """The student's table, over the probe dataset, as the scratch table of the check session's environment."""
    try:
        text = sql_files.as_file_source(
            _CREATE.sub(f"CREATE TEMPORARY TABLE {_SCRATCH}", ddl, count=1),
            str(session().dataset_file(data_key(PROBE))),
        )
    except SqlFileError:
        raise Wrong(
            "cannot find the WITH (...) options of your table: keep the connector options of the skeleton."
        ) from None
    t_env = session().env(data_key("check"), protected=True)
    t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {_SCRATCH}")
    try:
        t_env.execute_sql(text)
    except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
        message = short_message(exc)
        problems = [f"your CREATE TABLE does not run: {message}"]
        if _NOT_AN_EVENT_TIME.search(message):
            problems.insert(
                0,
                "the WATERMARK must be declared on a column of type TIMESTAMP(3) or "
                "TIMESTAMP_LTZ(3) (an event time), not on the BIGINT `timestamp`: compute such a "
                "column from `timestamp` first.",
            )
        raise Wrong(problems) from None
    return t_env


def _watermark(t_env) -> str:
    """The scratch table's watermark expression, as Flink prints it; Wrong unless it is declared on ts, a
    timestamp."""
    watermark = watermark_of(t_env, _SCRATCH)
    if watermark is None:
        raise Wrong("no WATERMARK in the table's schema.")
    rowtime, expression, ts_type = watermark
    if rowtime != "ts":
        raise Wrong(f"the event-time column is {rowtime!r}: name it ts (the views and windows of the workbook use ts).")
    if "TIMESTAMP" not in ts_type.upper():
        raise Wrong(f"ts has type {ts_type}: it must be a TIMESTAMP(3)/TIMESTAMP_LTZ(3).")
    return expression


def _read_probe(timeout_s: float | None) -> pd.DataFrame:
    """Each probe trade through the scratch table, in arrival order: its `timestamp`, ts as text and whether it
    was behind the watermark (at or behind it) when it arrived."""
    # ts as text: a year beyond 9999 (seconds read as milliseconds) does not fit a Python datetime
    query = (
        f"SELECT `timestamp` AS ms, CAST(ts AS STRING) AS ts, "
        f"COALESCE(ts <= CURRENT_WATERMARK(ts), FALSE) AS behind FROM {_SCRATCH}"
    )
    try:
        return run_basics(query, data="check", changelog=True, timeout_s=timeout_s)  # arrival order
    except Wrong as wrong:
        if any("RowTime field should not be null" in p for p in wrong.problems):
            # the table is fine as DDL; reading it failed on its data: Flink's message is about the check's own
            # query, which the student never wrote, so only the explanation is shown
            raise Wrong(
                "ts is NULL for a trade, and an event time must never be NULL: e.g. "
                "milliseconds read as SECONDS (precision 0) are a date beyond the year 9999, "
                "which is NULL. `timestamp` counts milliseconds: precision 3."
            ) from None
        raise


def _timestamps(frame: pd.DataFrame, exp: dict) -> None:
    """Wrong unless ts is each trade's `timestamp` to the millisecond."""
    got_ms = pd.to_datetime(frame["ts"], errors="coerce")
    exp_ms = pd.Series(exp["timestamps"])
    if len(frame) != len(exp_ms):
        raise Wrong(f"the query over your table returned {len(frame)} rows, expected {len(exp_ms)}.")
    right = {"timestamp": int(exp_ms[0]), "ts": str(pd.Timestamp(int(exp_ms[0]), unit="ms"))}
    if got_ms.isna().all():
        raise Wrong(
            "ts is NULL (or out of range) in every row: compute it from `timestamp`, which holds "
            "MILLISECONDS since 1970 (TO_TIMESTAMP_LTZ takes the precision: 0 for seconds, 3 for "
            "milliseconds).",
            {"timestamp": int(exp_ms[0]), "ts": str(frame["ts"].iloc[0])},
            right,
        )
    got = (got_ms.astype("datetime64[ms]").astype("int64")).reset_index(drop=True)
    if (got == exp_ms).all():
        return
    example = ({"timestamp": int(exp_ms[0]), "ts": str(got_ms.iloc[0])}, right)
    if (got == exp_ms // 1000 * 1000).all():
        raise Wrong("ts loses the milliseconds: `timestamp` is in milliseconds; keep them (precision 3).", *example)
    if (got == exp_ms * 1000).all() or (got_ms.dt.year > 3000).all():
        raise Wrong(
            "ts is read as SECONDS (precision 0): `timestamp` holds milliseconds, so the precision is 3.", *example
        )
    raise Wrong(
        "ts is not the trade's time: TO_TIMESTAMP_LTZ(`timestamp`, <precision>) of the "
        "timestamp field, in milliseconds.",
        *example,
    )


def _probe_delay(behind_by_lag: dict[int, bool]) -> str:
    behind = sorted(lag for lag, is_behind in behind_by_lag.items() if is_behind)
    ahead = sorted(lag for lag, is_behind in behind_by_lag.items() if not is_behind)
    if not behind:
        return f"more than {max(ahead) / 1000:g} s"
    low = max([lag for lag in ahead if lag < behind[0]], default=0)
    return f"between {low / 1000:g} and {behind[0] / 1000:g} s"


def _delay(frame: pd.DataFrame, exp: dict, wm_expr: str) -> None:
    """Wrong unless exactly the stragglers 5 s or more behind the newest trade were behind the watermark."""
    behind_by_lag = {
        lag: bool(frame["behind"].iloc[i]) for lag, i in zip(exp["lags_ms"], exp["straggler_rows"], strict=True)
    }
    want = {int(k): v for k, v in exp["behind_by_lag"].items()}
    if behind_by_lag == want:
        return
    problem = (
        f"the watermark trails the newest event time by {_probe_delay(behind_by_lag)} (judged by which trades "
        f"of a test stream arrive behind it), expected exactly 5 s: a trade 5 s or more behind the newest one "
        f"is behind the watermark, one 4.999 s behind is not. Your watermark: {wm_expr}."
    )
    if all(behind_by_lag.values()):
        problem = (
            f"a watermark of 0 s: every trade behind the newest one is behind the watermark. Let it trail the "
            f"newest event time by 5 seconds. Your watermark: {wm_expr}."
        )
    wrong = next(lag for lag in sorted(want) if behind_by_lag[lag] != want[lag])
    raise Wrong(
        problem,
        {"behind the newest": f"{wrong} ms", "behind the watermark": behind_by_lag[wrong]},
        {"behind the newest": f"{wrong} ms", "behind the watermark": want[wrong]},
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {EXERCISE: check_source_table}

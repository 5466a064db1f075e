"""Check of notebook 12's sink exercise (advanced track):

- upsert_sink: the CREATE TABLE of an 'upsert-kafka' sink for QUERY (valid trades per pair and direction, an
  updating query), keyed by its PRIMARY KEY.

The check writes QUERY over the basics dataset into the student's table, on a fresh topic of the workbook's broker
(workbook.course.sinks), reads the topic's records back and compares the last value of each key with the stored
expected output (workbook/course/expected/upsert_sink.json, references/sink.py). Named mistakes (most from Flink's
own refusal): no PRIMARY KEY, the plain 'kafka' connector (append-only: it refuses updates), no key or value
format, a key of other columns (one pair's buy and sell counts overwrite each other), wrong counts.
"""

from __future__ import annotations

import uuid

from .. import kafka
from ..pipeline import sql_files
from .checks_basics import expected
from .feedback import CheckResult, Wrong, judged, passed
from .sinks import SinkError, bootstrap_servers, records, write

NAME = "upsert_sink"
QUERY = "SELECT currency_pair, direction, COUNT(*) AS num_trades FROM valid_trades GROUP BY currency_pair, direction"
KEY = ["currency_pair", "direction"]
COLUMNS = [*KEY, "num_trades"]

_KNOWN = [
    (
        "for identifier 'TODO'",
        "no connector yet.",
        "write the connector's name in 'connector' = '...': one that takes a query's updates.",
    ),
    (
        "require to define a PRIMARY KEY",
        "no PRIMARY KEY.",
        "an 'upsert-kafka' table needs a PRIMARY KEY (...) NOT ENFORCED: its columns are the Kafka record's key, "
        "and a reader keeps the last record of each key (Flink: 'upsert-kafka' tables require to define a "
        "PRIMARY KEY constraint).",
    ),
    (
        "doesn't support consuming update changes",
        "the plain 'kafka' connector: append-only.",
        "the plain 'kafka' connector appends every row as a record and cannot say that a row replaces an "
        "earlier one, so Flink refuses an updating query (its GroupAggregate updates each count): use "
        "'connector' = 'upsert-kafka'.",
    ),
    (
        "doesn't support defining PRIMARY KEY",
        "the plain 'kafka' connector: append-only.",
        "the plain 'kafka' connector with a 'format' ignores keys (Flink refuses its PRIMARY KEY): an updating "
        "query needs 'connector' = 'upsert-kafka', with 'key.format' and 'value.format'.",
    ),
    (
        "required sink format 'key.format'",
        "no key format.",
        "an 'upsert-kafka' table writes the PRIMARY KEY's columns as the record's key: say how, 'key.format' = "
        "'json' (and 'value.format' = 'json' for the value; it has no single 'format').",
    ),
    (
        "required sink format 'value.format'",
        "no value format.",
        "say how the record's value is written: 'value.format' = 'json'.",
    ),
]


def _ddl(sql) -> str:
    """The answer's first CREATE TABLE, without comments; Wrong when there is none."""
    if not isinstance(sql, str):
        raise Wrong("the answer is the CREATE TABLE statement (SQL text).")
    creates = [t for _, t in sql_files.split_statements(sql) if sql_files.kind(t) == "create"]
    if not creates:
        raise Wrong("there is no CREATE TABLE statement in your answer: complete the CREATE TABLE of the cell.")
    return sql_files.strip_comments(creates[0])


def _write(ddl: str, topic: str, timeout_s: float | None) -> None:
    try:
        write(ddl, QUERY, topic, timeout_s=timeout_s or 180)
    except ValueError as exc:
        raise Wrong(str(exc), summary="a connector option is missing.") from None
    except SinkError as exc:
        for words, summary, problem in _KNOWN:
            if words in str(exc):
                raise Wrong([problem, f"Flink: {exc}"], summary=summary, hint_level=2) from None
        raise Wrong(
            f"Flink refused your table for the query's rows: {exc}", summary="your table does not run."
        ) from None


def _last_values(recs: list) -> dict:
    """Key (a tuple of its values) -> the last value of the key; Wrong when the records are not keyed by KEY."""
    fields = list(recs[0][0]) if isinstance(recs[0][0], dict) else None
    # a value None is a tombstone: the key's row was deleted (upsert-kafka writes a retraction so)
    if fields is None or not all(isinstance(k, dict) and isinstance(v, (dict, type(None))) for k, v in recs):
        raise Wrong(
            f"the records are not JSON keys and values (e.g. key {recs[0][0]!r}): 'key.format' = 'json' and "
            "'value.format' = 'json'.",
            summary="not JSON.",
        )
    if sorted(fields) != sorted(KEY):
        merged = "a pair's buy and sell counts overwrite each other" if fields == ["currency_pair"] else ""
        raise Wrong(
            f"your records are keyed by {fields}: a reader of the topic keeps the last record per key, so the key "
            f"must be what identifies a row of the query, its GROUP BY columns {KEY} (PRIMARY KEY (currency_pair, "
            f"direction) NOT ENFORCED){': ' + merged if merged else ''}.",
            summary="the wrong key.",
            hint_level=2,
        )
    last = {tuple(k[c] for c in KEY): v for k, v in recs}
    return {key: value for key, value in last.items() if value is not None}


def _compare(last: dict, exp: list) -> None:
    if not last:
        raise Wrong("every key of the topic ends with a tombstone (deleted): no counts left.", summary="no rows.")
    got_columns = list(next(iter(last.values())))
    if got_columns != COLUMNS:
        raise Wrong(
            f"the records' values have the columns {got_columns}, expected {COLUMNS}: the table's columns, in the "
            "query's order.",
            summary="wrong columns.",
        )
    for pair, direction, count in exp:
        got = last.get((pair, direction))
        expected_row = dict(zip(COLUMNS, [pair, direction, count], strict=True))
        if got != expected_row:
            raise Wrong(
                f"the last record of key ({pair}, {direction}) is {got}, expected {expected_row}.",
                got,
                expected_row,
                summary="other counts.",
            )
    if len(last) != len(exp):
        raise Wrong(f"{len(last)} keys in the topic, expected {len(exp)}.", summary="other keys.")


@judged(NAME)
def check(sql, timeout_s: float | None = None) -> CheckResult:
    ddl = _ddl(sql)
    topic = f"workbook-check-{NAME}-{uuid.uuid4().hex[:8]}"
    try:
        _write(ddl, topic, timeout_s)
        recs = records(topic)
    finally:
        kafka.delete_topic(bootstrap_servers(), topic)
    if not recs:
        raise Wrong("the query wrote no record to your table's topic.", summary="no records.")
    exp = expected(NAME)["rows"]
    _compare(_last_values(recs), exp)
    return passed(
        NAME,
        f"correct: the topic holds {len(recs)} records, one per update of a count; the last of each key "
        f"(currency_pair, direction) are the {len(exp)} final counts.",
    )


CHECKS = {NAME: check}

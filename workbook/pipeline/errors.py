"""The processor's error, and Flink's Java exceptions turned into a readable message."""

from __future__ import annotations

import re


class ProcessorError(RuntimeError):
    """The job or a query could not run; the message says why, without a Java stack trace."""


class SinkMismatch(ProcessorError):
    """A query's columns do not fit its sink table; the message names the column (sink_mismatch)."""


def flink_message(exc: BaseException) -> str:
    """The useful part of a Py4J/Flink exception: the first Java exception's message and,
    if it says something else, the root cause's."""
    text = str(exc)
    found = re.findall(
        r"^\s*(?:Caused by: |: )?((?:[a-z0-9_]+\.)+[A-Za-z0-9_$]*(?:Exception|Error)): (.+)$", text, re.MULTILINE
    )
    if not found:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("at ")]
        return "\n  ".join(lines[:6]) if lines else text[:500]
    first, root = found[0][1].strip(), found[-1][1].strip()
    message = first if root in first else f"{first}\n  caused by: {root}"
    mismatch = sink_mismatch(text)
    return f"{message}\n  {mismatch}" if mismatch else message


def one_line(text, limit: int = 300) -> str:
    """flink_message of `text` (a Java stack trace as Flink's REST API gives it, or an exception) on one line: the
    first message and its root cause joined with ' / ', at most `limit` characters."""
    parts = flink_message(text).split("\n")
    return " / ".join(p.strip().removeprefix("caused by: ") for p in parts if p.strip())[:limit]


_SINK = re.compile(r"Column types of query result and sink for '(?:[\w`]+\.)*`?(\w+)`?' do not match")
_INCOMPATIBLE = re.compile(r"Incompatible types for sink column '(\w+)' at position (\d+)")


def _schema(text: str, which: str) -> list[tuple[str, str]]:
    """(name, type) of each column of Flink's "Query schema: [...]" or "Sink schema: [...]" line."""
    m = re.search(rf"{which} schema:\s*\[(.*)\]", text)
    if not m:
        return []
    columns, depth, start, body = [], 0, 0, m.group(1)
    for i, c in enumerate(body + ","):  # commas inside DECIMAL(10, 2) or ROW<...> do not separate columns
        if c in "(<":
            depth += 1
        elif c in ")>":
            depth -= 1
        elif c == "," and depth == 0:
            name, _, kind = body[start:i].strip().partition(": ")
            columns.append((name, kind.replace(" NOT NULL", "")))
            start = i + 1
    return columns


def mismatched_sink(text: str) -> str | None:
    """The sink table of Flink's "Column types of query result and sink ... do not match", if that is the error."""
    table = _SINK.search(text)
    return table.group(1) if table else None


def sink_mismatch(text: str) -> str | None:
    """What Flink's "Column types of query result and sink ... do not match" means, column by name: the
    column whose type the table cannot take (with the CAST that fixes it), or the columns it expects."""
    table = _SINK.search(text)
    query, sink = _schema(text, "Query"), _schema(text, "Sink")
    if not table or not sink:
        return None
    bad = _INCOMPATIBLE.search(text)
    if bad and query and sink:
        column, position = bad.group(1), int(bad.group(2))
        got, want = query[position][1], sink[position][1]
        return (
            f"{column} (column {position + 1}) is {got}, the table {table.group(1)} wants {want}: "
            f"CAST(... AS {want}) AS {column}"
        )
    return (
        f"your query has {len(query)} columns, the table {table.group(1)} has {len(sink)}: "
        f"{', '.join(name for name, _ in sink)}, in this order"
    )


def empty_topic_note(topic: str, servers: str, meaning: str, again: str) -> str:
    """What an empty topic means for a query (`meaning`) and what to do, then `again` (run what, again)."""
    return (
        f"the topic {topic!r} on {servers} is empty: {meaning}. Start the trade stream with "
        f"`python -m workbook up --stream` (or run `python -m producer`), then run {again} again."
    )

"""Unreadable records at the edges of a partition, counted at the end of a bounded run.

sql/44_unreadable_records.sql counts a record Flink cannot read (not a JSON object) by the
gap it leaves between two records that Flink read. Before the first and after the last
readable record of a partition there is no such gap. A bounded run knows where each
partition starts and ends, so the processor reads the records at both edges itself (usually
one record each) and, when the job has finished, adds them to the job's count in bad_records.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..config import Config

PROBLEM = "not a JSON object"  # the problem of sql/44_unreadable_records.sql


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Flink's JSON parser refuses them too


def readable(value) -> bool:
    """Whether Flink's JSON format reads this record value as a row: a JSON object."""
    if value is None:
        return False
    try:
        text = value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)
        obj, _ = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(text.lstrip())
    except ValueError:  # includes UnicodeDecodeError and json.JSONDecodeError
        return False
    return isinstance(obj, dict)


@dataclass(frozen=True)
class Edge:
    partition: int
    start: int  # the partition's first offset (when the run started)
    end: int  # offset after its last record (the bounded run's end)
    first_readable: int | None  # None: no readable record at all
    last_readable: int | None

    @property
    def before(self) -> int:
        """Unreadable records before the first readable one (all of them if there is none)."""
        return (self.end if self.first_readable is None else self.first_readable) - self.start

    @property
    def after(self) -> int:
        return 0 if self.last_readable is None else self.end - 1 - self.last_readable

    @property
    def latest_unreadable(self) -> int | None:
        if self.after or self.first_readable is None:
            return self.end - 1
        return self.first_readable - 1 if self.before else None


def scan(bootstrap_servers: str, topic: str, ends: dict, timeout_s: float = 20.0) -> list:
    """The edges of every partition up to `ends` ({partition: end offset})."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=100
    )
    deadline = time.monotonic() + timeout_s
    try:
        out = []
        for partition, end in sorted(ends.items()):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            start = consumer.beginning_offsets([tp])[tp]
            if end <= start:
                continue
            first = _find(consumer, tp, start, end, deadline, last=False)
            last = (
                None
                if first is None
                else _find(consumer, tp, max(first, end - 64), end, deadline, last=True, floor=first)
            )
            out.append(Edge(partition, start, end, first, last))
        return out
    finally:
        consumer.close()


def _find(consumer, tp, lo: int, hi: int, deadline: float, last: bool, floor: int = 0):
    """The first (or last) readable offset in [lo, hi); `last` widens the range back to `floor`."""
    while True:
        found = None
        consumer.seek(tp, lo)
        position = lo
        while position < hi:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {tp.topic}[{tp.partition}] offsets {lo}..{hi - 1} took too long")
            for record in consumer.poll(timeout_ms=200).get(tp, []):
                if record.offset >= hi:
                    position = hi
                    break
                position = record.offset + 1
                if readable(record.value):
                    found = record.offset
                    if not last:
                        return found
        if found is not None or not last or lo <= floor:
            return found
        lo, hi = max(floor, lo - 4 * (hi - lo)), lo


def _connect(config: Config, jdbc_url: str):
    """psycopg2 connection to the database of `jdbc_url`, its ?currentSchema= first on the search path."""
    import psycopg2

    url = urlsplit(jdbc_url[len("jdbc:") :] if jdbc_url.startswith("jdbc:") else jdbc_url)
    kwargs = config.psycopg2_kwargs()
    kwargs.update(
        {k: v for k, v in (("host", url.hostname), ("port", url.port), ("dbname", url.path.lstrip("/"))) if v}
    )
    schema = parse_qs(url.query).get("currentSchema", [None])[0]
    if schema:
        kwargs["options"] = f"-c search_path={schema}"
    return psycopg2.connect(**kwargs)


def forget(config: Config, jdbc_url: str, partitions) -> None:
    """Delete the 'not a JSON object' rows of these partitions before a bounded job writes its own:
    afterwards the row (if any) is this job's count, to which add() adds the edges."""
    with _connect(config, jdbc_url) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM bad_records WHERE problem = %s AND kafka_partition = ANY(%s)", (PROBLEM, list(partitions))
        )
    conn.close()


def add(config: Config, jdbc_url: str, edges) -> list:
    """Add the edges' unreadable records to the job's rows; returns the rows written."""
    written = []
    with _connect(config, jdbc_url) as conn, conn.cursor() as cur:
        for e in edges:
            if not (e.before or e.after):
                continue
            cur.execute(
                "SELECT num_records, last_offset FROM bad_records WHERE kafka_partition = %s AND problem = %s",
                (e.partition, PROBLEM),
            )
            row = cur.fetchone()
            count = (row[0] if row else 0) + e.before + e.after
            last = e.end - 1 if e.after else (row[1] if row else e.latest_unreadable)
            cur.execute(
                "INSERT INTO bad_records (kafka_partition, problem, num_records, last_offset) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (kafka_partition, problem) DO UPDATE "
                "SET num_records = EXCLUDED.num_records, last_offset = EXCLUDED.last_offset",
                (e.partition, PROBLEM, count, last),
            )
            written.append((e.partition, PROBLEM, count, last))
    conn.close()
    return written

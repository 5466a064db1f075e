"""An updating query written to a Kafka topic and read back (notebook 12, exercise upsert_sink), in the kernel's
Flink session over a fixed dataset.

    write(ddl, query, topic)          the sink table `ddl` (its topic and servers replaced by `topic`, emptied, and
                                      the workbook's broker) as a scratch table, and INSERT INTO it `query`; SinkError
                                      with Flink's words when Flink refuses
    records(topic)                    the topic's records as (key, value), each decoded from JSON
    read_back(topic, columns, key)    the topic read by Flink as a table: 'upsert-kafka' with PRIMARY KEY `key`
                                      (a changelog: +I, -U, +U), or plain 'kafka' when `key` is None (every record
                                      an insert), up to the topic's true end (Tansu under-reports it: workbook.kafka)
"""

from __future__ import annotations

import json
import re

from .. import kafka
from ..pipeline import results
from ..pipeline.session import planned_again, short_message
from .feedback import data_key, session

SCRATCH = "upsert_sink_scratch"
READER = "upsert_sink_reader"
_CREATE = re.compile(r"CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[\w.]+)", re.IGNORECASE)
_OPTION = "'{}'\\s*=\\s*'(?:[^']|'')*'"


class SinkError(RuntimeError):
    """Flink refused the sink table or the INSERT into it: its message, shortened."""


def bootstrap_servers() -> str:
    return session().config.kafka_bootstrap_servers


def scratch_ddl(ddl: str, topic: str) -> str:
    """`ddl` as the scratch table, writing to `topic` of the workbook's broker; ValueError naming an option the
    table lacks."""
    text = _CREATE.sub(f"CREATE TEMPORARY TABLE {SCRATCH}", ddl, count=1)
    for option, value in (("topic", topic), ("properties.bootstrap.servers", bootstrap_servers())):
        if not re.search(_OPTION.format(re.escape(option)), text):
            raise ValueError(f"your table has no '{option}' option: keep the skeleton's options")
        text = re.sub(_OPTION.format(re.escape(option)), f"'{option}' = '{value}'", text)
    return text


def write(ddl: str, query: str, topic: str, data: str = "basics", timeout_s: float = 180) -> None:
    """Create `topic` afresh (its records, if any, deleted), define the table `ddl` over it as the scratch table
    and run INSERT INTO it `query` over dataset `data` to its end."""
    text = scratch_ddl(ddl, topic)
    kafka.delete_topic(bootstrap_servers(), topic)
    kafka.create_topic(bootstrap_servers(), topic)
    t_env = session().env(data_key(data), protected=True)
    t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {SCRATCH}")
    try:
        t_env.execute_sql(text)
        result = planned_again(lambda: t_env.execute_sql(f"INSERT INTO {SCRATCH} {query}"))
        result.wait(int(timeout_s * 1000))
    except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
        raise SinkError(short_message(exc)) from None
    finally:
        t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {SCRATCH}")


def _decoded(raw: bytes | None):
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def records(topic: str) -> list[tuple]:
    """The records of `topic` as (key, value), each decoded from JSON (text if it is not JSON, None if absent)."""
    return [(_decoded(k), _decoded(v)) for k, v in kafka.read_keyed(bootstrap_servers(), topic)]


def read_back(topic: str, columns: str, key: str | None = None, where: str = "", data: str = "basics") -> list:
    """The rows Flink reads from `topic` as a table of `columns` (SQL column definitions), as (kind, *values):
    'upsert-kafka' keyed by `key`, or plain 'kafka' (JSON values) without one; `where`: a condition on them."""
    ends = kafka.specific_offsets_option(kafka.true_end_offsets(bootstrap_servers(), topic))
    if key:
        columns, options = (
            f"{columns}, PRIMARY KEY ({key}) NOT ENFORCED",
            "'key.format' = 'json', 'value.format' = 'json'",
        )
    else:
        options = "'format' = 'json', 'scan.startup.mode' = 'earliest-offset'"
    t_env = session().env(data_key(data), protected=True)
    t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {READER}")
    t_env.execute_sql(
        f"CREATE TEMPORARY TABLE {READER} ({columns}) WITH ('connector' = '{'upsert-kafka' if key else 'kafka'}', "
        f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap_servers()}', {options}, "
        f"'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '{ends}')"
    )
    try:
        select = f"SELECT * FROM {READER}{f' WHERE {where}' if where else ''}"
        with planned_again(lambda: t_env.execute_sql(select)).collect() as rows:
            return [(results.KINDS[row.get_row_kind().value], *row) for row in rows]
    finally:
        t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {READER}")

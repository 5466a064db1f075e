"""One query over a fixed list of trades or a topic, run bounded, as a pandas
DataFrame: the notebooks' and the exercise checks' way to run SQL."""

from __future__ import annotations

import uuid

from .. import kafka
from ..config import Config, load_config
from . import results, sql_files
from .errors import ProcessorError, flink_message
from .flink_env import create_table_env
from .runner import measure_end_offsets
from .statements import define, load_statements, sql_values


def resolve_query(sql: str, solutions: bool) -> str:
    text = sql.strip()
    if text and len(text.split()) == 1:  # a file name such as '40_candlesticks' or 'candlesticks'
        return sql_files.load_sql(text, solutions)
    return sql


def query(
    sql: str,
    trades=None,
    *,
    config: Config | None = None,
    topic: str | None = None,
    solutions: bool = False,
    partitions: int = 1,
    parallelism: int = 1,
):
    """Run one query bounded and return its final result as a pandas DataFrame.

    `sql`: a SELECT, an `INSERT INTO <table> SELECT ...` (the SELECT part is run), or a
    statement file's name ('40_candlesticks', 'volumes'). It reads the views of sql/
    (trades, checked_trades, valid_trades) over either `trades` (a list of trade dicts,
    written to a fresh topic in list order = arrival order) or an existing `topic`
    (default: the configured one), up to its current end."""
    config = config or load_config()
    text = resolve_query(sql, solutions)
    scratch = None
    if trades is not None:
        scratch = topic = f"workbook-query-{uuid.uuid4().hex[:12]}"
        kafka.write_records(config.kafka_bootstrap_servers, topic, trades, partitions)
    topic = topic or config.kafka_topic
    try:
        measuring = measure_end_offsets(config, topic)
        t_env = create_table_env(parallelism=parallelism, pipeline_name="workbook query")
        ends = measuring()
        statements = [s for s in load_statements(solutions) if s.kind == "create" and not s.is_sink]
        define(t_env, statements, sql_values(config, topic), end_offsets=ends)
        select = sql_files.render(sql_files.select_part(text), sql_values(config, topic))
        try:
            table = t_env.sql_query(select)
        except Exception as exc:  # noqa: BLE001 - Py4J raises Flink errors as plain Exceptions
            raise ProcessorError(f"the query does not compile: {flink_message(exc)}") from None
        # the final rows, collected as one Arrow stream that drops retracted rows on the Java side (row by row
        # through collect(), an updating result of 34,000 trades took minutes); naive UTC timestamps, as before
        return results.to_pandas(without_ltz(table))
    finally:
        if scratch:
            kafka.delete_topic(config.kafka_bootstrap_servers, scratch)


def without_ltz(table):
    """TIMESTAMP_LTZ columns cast to TIMESTAMP(3) (UTC): query()'s naive timestamps."""
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col

    ltz = results.ltz_columns(table)
    if not any(ltz):
        return table
    names = table.get_schema().get_field_names()
    return table.select(
        *[(col(n).cast(DataTypes.TIMESTAMP(3)) if is_ltz else col(n)).alias(n) for n, is_ltz in zip(names, ltz)]
    )

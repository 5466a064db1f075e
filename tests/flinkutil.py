"""Helpers of the tests that run the processor against the real services
(test_processor_flink.py, test_processor_bad_inputs.py, test_processor_outages.py,
test_watermarks_flink.py): trade records, a scratch PostgreSQL schema per test and its
result tables read back, topics written in batches, the processor run bounded or streaming
into a schema, and the per-window aggregation of the tests' own pandas references.

A plain module, not a test file: tests/ is on sys.path (no __init__.py, pytest's default
`prepend` import mode), so the tests `from flinkutil import ...`.
"""

from __future__ import annotations

import contextlib
import uuid

import pandas as pd
import psycopg2

from workbook import kafka, pipeline
from workbook.config import PROJECT_ROOT

MINUTE = 60_000
DELAY = 5_000  # the watermark delay of sql/10_trades.sql
QUIET = dict(say=lambda *a, **k: None)


def trade(rng, base, quote, ts, price=None, direction=None, volume=None) -> dict:
    """A JSON trade as the producer writes it; what is not given is drawn from `rng`."""
    return {
        "exchange": "test",
        "base": base,
        "quote": quote,
        "direction": direction or rng.choice(["buy", "sell"]),
        "price": price if price is not None else round(rng.uniform(10, 1000), 2),
        "volume": volume if volume is not None else round(rng.uniform(0.001, 5), 4),
        "timestamp": ts,
        "priceUsd": 1.0,
    }


# --- a scratch PostgreSQL schema and its tables ---------------------------------------------------


def new_schema(config) -> str:
    """A fresh schema with the tables of sql/postgres/ (drop_schema removes it)."""
    schema = f"test_{uuid.uuid4().hex[:10]}"
    with psycopg2.connect(**config.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
        cur.execute(f"SET search_path TO {schema}")
        for path in sorted((PROJECT_ROOT / "sql" / "postgres").glob("*.sql")):
            cur.execute(path.read_text())
    return schema


def drop_schema(config, schema: str) -> None:
    with psycopg2.connect(**config.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextlib.contextmanager
def scratch_schema(config):
    """new_schema for the block, dropped at its end (also when the block fails)."""
    schema = new_schema(config)
    try:
        yield schema
    finally:
        drop_schema(config, schema)


def read_table(config, schema: str, table: str) -> pd.DataFrame:
    """Every row of a result table, in key order; ts_start and ts_end as epoch ms."""
    order = "kafka_partition, problem" if table == "bad_records" else "ts_start, currency_pair"
    with psycopg2.connect(**config.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {schema}.{table} ORDER BY {order}")
        cols = [d[0] for d in cur.description]
        df = pd.DataFrame(cur.fetchall(), columns=cols)
    for col in ("ts_start", "ts_end"):
        if col in df:  # TIMESTAMP WITH TIME ZONE -> epoch ms
            df[col] = [int(v.timestamp() * 1000) for v in df[col]]
    return df


# --- the topic and the processor -----------------------------------------------------------------


def write_in_batches(config, topic, records, partitions=1, partition=None, batches=4) -> None:
    """Several produce batches, so the topic ends with a multi-record batch (Tansu under-reports it)."""
    step = -(-len(records) // batches)
    for k in range(0, len(records), step):
        kafka.write_records(
            config.kafka_bootstrap_servers, topic, records[k : k + step], partitions=partitions, partition=partition
        )


def run_bounded(config, topic: str, schema: str, **options) -> pipeline.RunResult:
    """One bounded run of the processor with the solutions, from `topic` into `schema`
    (finished when this returns); `options` are more RunOptions, or replace these."""
    defaults = dict(bounded=True, solutions=True, topic=topic, jdbc_url=pipeline.jdbc_url_with_schema(config, schema))
    return pipeline.run(pipeline.RunOptions(**{**defaults, **options}), config, **QUIET)


@contextlib.contextmanager
def streaming_job(config, topic: str, schema: str | None = None, *, partitions=1, jdbc_url=None, say=None, **options):
    """`topic` created empty with `partitions` partitions and a streaming job of the processor
    (with the solutions) on it, writing into `schema` (or to `jdbc_url`): running when the block
    starts, cancelled at its end. `options` are more RunOptions."""
    kafka.write_records(config.kafka_bootstrap_servers, topic, [], partitions=partitions)
    result = pipeline.run(
        pipeline.RunOptions(
            topic=topic,
            wait=False,
            solutions=True,
            jdbc_url=jdbc_url or pipeline.jdbc_url_with_schema(config, schema),
            **options,
        ),
        config,
        say=say or QUIET["say"],
    )
    try:
        yield result
    finally:
        result.cancel()


# --- the tests' own reference (independent of workbook.course.references) --------------------------


def candles_of(trades: pd.DataFrame) -> pd.DataFrame:
    """The candle of every (ts_start, currency_pair) of `trades` (columns ts_start, currency_pair,
    price, volume), open and close by row order: sort the trades by event time first."""
    g = trades.assign(pv=trades["price"] * trades["volume"]).groupby(["ts_start", "currency_pair"], sort=True)
    return pd.DataFrame(
        {
            "price_avg": g["pv"].sum() / g["volume"].sum(),
            "price_open": g["price"].first(),
            "price_min": g["price"].min(),
            "price_max": g["price"].max(),
            "price_close": g["price"].last(),
            "volume": g["volume"].sum(),
            "num_trades": g.size(),
        }
    ).reset_index()

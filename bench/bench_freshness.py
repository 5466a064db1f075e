"""Freshness of the streaming processor: how long after the watermark passes a window's
end its candlestick rows are visible in PostgreSQL.

    python bench/bench_freshness.py [--windows 8] [--trades-per-window 300]

A streaming job (MiniCluster, all statements of sql/ with the solutions) reads a fresh
topic. For each 1-minute window (event time, so no need to wait a real minute) the
bench writes its trades, lets Flink read them, then writes one trade 5 s (the watermark
delay) after the window's end: reading it moves the watermark past the window's end.
Freshness = from that record being acknowledged by the broker to the window's row being
visible in PostgreSQL (polled every 10 ms); it includes Kafka's fetch, the window
firing, the JDBC sink's flush (every 200 ms) and the commit. Figures only, no asserts.
Results go to PostgreSQL schema bench_freshness.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid

from bench_processor import prepare_schema  # bench/ is the script's folder, first on sys.path

from workbook.config import load_config

SCHEMA = "bench_freshness"
T0 = 1_735_732_800_000  # 2025-01-01 12:00 UTC
MINUTE = 60_000
DELAY = 5_000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--trades-per-window", type=int, default=300)
    args = p.parse_args()
    import psycopg2
    from kafka import KafkaProducer

    from workbook import kafka, pipeline

    config = load_config()
    prepare_schema(config, SCHEMA)
    topic = f"bench-freshness-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(config.kafka_bootstrap_servers, topic, 1)
    job = pipeline.run(
        pipeline.RunOptions(
            topic=topic, solutions=True, wait=False, jdbc_url=pipeline.jdbc_url_with_schema(config, SCHEMA)
        ),
        config,
        say=lambda *a: None,
    )
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap_servers, linger_ms=0, acks=1)
    conn = psycopg2.connect(**config.psycopg2_kwargs())
    conn.autocommit = True
    cur = conn.cursor()
    rng = random.Random(3)
    pairs = [("bitcoin", "tether"), ("ethereum", "euro"), ("xrp", "tether")]

    def send(ts):
        base, quote = rng.choice(pairs)
        t = {
            "exchange": "bench",
            "base": base,
            "quote": quote,
            "direction": rng.choice(["buy", "sell"]),
            "price": round(rng.uniform(10, 100), 2),
            "volume": 1.0,
            "timestamp": ts,
            "priceUsd": 1.0,
        }
        return producer.send(topic, key=kafka.record_key(t), value=json.dumps(t).encode())

    def visible(start_ms) -> bool:
        cur.execute(
            f"SELECT count(*) FROM {SCHEMA}.candlesticks WHERE ts_start = to_timestamp(%s / 1000.0)", (start_ms,)
        )
        return cur.fetchone()[0] > 0

    results = []
    try:
        for k in range(args.windows + 1):  # window 0 warms the job up (JIT, JDBC connection)
            start = T0 + k * MINUTE
            # this window's trades, after the previous trigger (which sits 5 s into this window)
            for i in range(args.trades_per_window):
                send(start + DELAY + 1 + (MINUTE - DELAY - 2) * i // args.trades_per_window)
            producer.flush()
            time.sleep(1.0)  # let Flink read them
            send(start + MINUTE + DELAY).get(timeout=10)  # the watermark passes start + MINUTE
            t_sent = time.monotonic()
            while not visible(start):
                if time.monotonic() - t_sent > 30:
                    print(f"window {k}: not visible after 30 s", file=sys.stderr)
                    return 1
                time.sleep(0.01)
            if k > 0:
                results.append(time.monotonic() - t_sent)
    finally:
        job.cancel()
        producer.close()
        conn.close()
        kafka.delete_topic(config.kafka_bootstrap_servers, topic)
    print(
        f"freshness over {len(results)} windows (watermark passes the window's end -> row visible in "
        f"PostgreSQL): median {statistics.median(results):.3f} s, min {min(results):.3f} s, "
        f"max {max(results):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

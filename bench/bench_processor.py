"""Bounded throughput of the processor: N synthetic trades already in the broker,
Flink (MiniCluster, all statements of sql/ with the solutions) -> PostgreSQL.

    python bench/bench_processor.py [--trades 1000000] [--partitions 1] [--parallelism 1] [--runs 1]

Each run is a fresh Python process (fresh JVM), as `python -m workbook.processor
--bounded` would be. It prints, per run:
  start-up       process start -> Flink's source task running, i.e. reading (JVM,
                 planning, MiniCluster, deployment)
  incl. start-up N / (process start -> job finished)
  excl. start-up N / (first trade read -> job finished)
  warm           the second half of the trades / the time it took (JIT warmed up)
Progress comes from the source's numRecordsIn metric through the MiniCluster's REST
API (polled every 50 ms, metrics refreshed every 100 ms). Figures only, no asserts.
The trades go to topic bench-processor-<N>-p<P> (kept and reused when complete) and
the results to PostgreSQL schema bench_processor (emptied before each run).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from workbook import kafka
from workbook.config import load_config

T_PROCESS = time.time()  # the imports above are light; the JVM starts later

SCHEMA = "bench_processor"


def fill_topic(config, topic: str, n: int, partitions: int) -> float:
    """Write n synthetic trades (keyed by pair); returns seconds taken."""
    from producer.synthetic import generate_trades

    kafka.delete_topic(config.kafka_bootstrap_servers, topic)
    time.sleep(0.5)
    t = time.time()
    trades = generate_trades(count=n)
    try:
        from confluent_kafka import Producer
    except ImportError:  # kafka-python: ~10x slower (about 35 s for a million)
        kafka.write_records(config.kafka_bootstrap_servers, topic, list(trades), partitions=partitions)
        return time.time() - t
    kafka.create_topic(config.kafka_bootstrap_servers, topic, partitions)
    producer = Producer(
        {
            "bootstrap.servers": config.kafka_bootstrap_servers,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 2_000_000,
            "partitioner": "murmur2_random",
        }
    )
    for tr in trades:  # same key as the producer: all trades of a pair in one partition
        producer.produce(topic, json.dumps(tr).encode(), kafka.record_key(tr))
        producer.poll(0)
    producer.flush()
    return time.time() - t


def prepare_schema(config, schema: str = SCHEMA) -> None:
    """The result tables, empty, in a schema of the benchmark's own (the DDL of sql/postgres/)."""
    import psycopg2

    from workbook.database import apply_ddl
    from workbook.stack.postgres import Postgres

    apply_ddl(Postgres(config).connect(), schema=schema)
    with psycopg2.connect(**config.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {schema}.candlesticks, {schema}.volumes, {schema}.late_trades, {schema}.bad_records")


def counts(config) -> dict:
    import psycopg2

    with psycopg2.connect(**config.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*), coalesce(sum(num_trades), 0) FROM {SCHEMA}.candlesticks")
        rows, trades = cur.fetchone()
        cur.execute(f"SELECT coalesce(sum(num_trades), 0) FROM {SCHEMA}.late_trades")
        late = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM {SCHEMA}.volumes")
        vol_rows = cur.fetchone()[0]
    return {"candle_rows": rows, "trades_in_windows": int(trades), "late": int(late), "volume_rows": vol_rows}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Progress(threading.Thread):
    """Polls the MiniCluster's REST API: job start time and the source's records read."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.base = f"http://127.0.0.1:{port}"
        self.samples = []  # (wall time, records read)
        self.job_start = None
        self.source_running = None  # when the source task switched to RUNNING (it reads right away)
        self.stop = False

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=2) as r:
            return json.loads(r.read())

    def run(self):
        jid = vid = None
        while not self.stop:
            try:
                if jid is None:
                    jobs = self.get("/jobs").get("jobs", [])
                    if jobs:
                        jid = jobs[0]["id"]
                if jid and vid is None:
                    job = self.get(f"/jobs/{jid}")
                    self.job_start = job["start-time"] / 1000
                    vid = next(v["id"] for v in job["vertices"] if v["name"].startswith("Source"))
                if vid and self.source_running is None:
                    times = self.get(f"/jobs/{jid}/vertices/{vid}/subtasktimes")
                    running = [st["timestamps"].get("RUNNING", 0) for st in times.get("subtasks", [])]
                    if running and min(running) > 0:
                        self.source_running = min(running) / 1000
                if vid:
                    m = self.get(f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get=numRecordsIn&agg=sum")
                    if m:
                        self.samples.append((time.time(), float(m[0]["sum"])))
            except (OSError, ValueError, KeyError, StopIteration):
                pass
            time.sleep(0.2)

    def time_at(self, n: float):
        """When n records had been read (linear between samples)."""
        prev = (None, 0.0)
        for t, c in self.samples:
            if c >= n:
                if prev[0] is None or c == prev[1]:
                    return t
                return prev[0] + (t - prev[0]) * (n - prev[1]) / (c - prev[1])
            prev = (t, c)
        return None


def child(args) -> None:
    """One measured run, in this (fresh) process."""
    from workbook import pipeline

    config = load_config()
    port = free_port()
    progress = Progress(port)
    progress.start()
    result = pipeline.run(
        pipeline.RunOptions(
            bounded=True,
            solutions=True,
            topic=args.topic,
            parallelism=args.parallelism,
            only=args.only.split(",") if args.only else None,
            jdbc_url=pipeline.jdbc_url_with_schema(config, SCHEMA),
            flink_options={
                "rest.port": str(port),
                "metrics.fetcher.update-interval": "200",
                **dict(kv.split("=", 1) for kv in args.set),
            },
        ),
        config,
        say=lambda *a: None,
    )
    progress.stop = True
    if os.environ.get("BENCH_DEBUG"):
        print(
            [(round(t - T_PROCESS, 2), c) for t, c in progress.samples],
            progress.job_start - T_PROCESS if progress.job_start else None,
            file=sys.stderr,
        )
    n = result.num_records
    end = (progress.job_start + result.net_runtime_s) if progress.job_start else time.time()
    first = progress.source_running
    half = progress.time_at(n / 2)
    print(
        json.dumps(
            {
                "n": n,
                "wall": end - T_PROCESS,
                "startup": (first - T_PROCESS) if first else None,
                "reading": (end - first) if first else None,
                "warm": (n / 2) / (end - half) if half else None,
                "net_runtime": result.net_runtime_s,
                "counts": counts(config),
            }
        )
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trades", type=int, default=1_000_000)
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("--parallelism", type=int, default=1)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument(
        "--only",
        default="",
        metavar="TABLES",
        help="fill only these result tables, e.g. candlesticks (default: all statements)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra Flink option for the job (repeatable), to try settings",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--topic", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return 0
    config = load_config()
    topic = f"bench-processor-{args.trades}-p{args.partitions}"
    try:
        have = sum(kafka.true_end_offsets(config.kafka_bootstrap_servers, topic).values())
    except ValueError:
        have = None
    if have != args.trades:
        print(f"writing {args.trades:,} synthetic trades to {topic} ({args.partitions} partition(s))...", flush=True)
        print(f"  written in {fill_topic(config, topic, args.trades, args.partitions):.1f} s", flush=True)
    else:
        print(f"reusing topic {topic} ({have:,} trades)")
    what = (f"only {args.only}" if args.only else "all statements") + "".join(f", {kv}" for kv in args.set)
    print(
        f"bounded run ({what}): {args.trades:,} trades, Flink MiniCluster parallelism {args.parallelism} -> "
        f"PostgreSQL schema {SCHEMA}; {os.cpu_count()} CPUs"
    )
    for k in range(args.runs):
        prepare_schema(config)
        sets = [a for kv in args.set for a in ("--set", kv)]
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--topic",
                topic,
                "--only",
                args.only,
                "--parallelism",
                str(args.parallelism),
                *sets,
            ],
            capture_output=True,
            text=True,
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not lines:
            print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
            return 1
        r = json.loads(lines[-1])
        n, c = r["n"], r["counts"]
        ok = "all trades in windows" if c["trades_in_windows"] + c["late"] == n else "TRADES MISSING"
        if c["trades_in_windows"] == 0:
            ok = "candlesticks not computed"
        print(
            f"run {k + 1}: {n:,} trades in {r['wall']:.1f} s wall: start-up {r['startup']:.1f} s, "
            f"{n / r['wall']:,.0f} trades/s incl. start-up, {n / r['reading']:,.0f} trades/s excl. start-up, "
            f"{r['warm']:,.0f} trades/s warm (2nd half); {c['candle_rows']:,} candlesticks, "
            f"{c['volume_rows']:,} volumes rows ({ok})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

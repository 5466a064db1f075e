#!/usr/bin/env python3
"""Producer throughput into a Kafka broker: trades/s of the synthetic and the
replay source at --speed max, per client library, median of a few runs.

    python bench/bench_producer.py                     # broker from .env / environment
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092 python bench/bench_producer.py --runs 5

Each run is the real command line (`python -m producer ... --speed max
--max-trades N`) into a fresh topic; the rate is the producer's own count of
acknowledged trades divided by the time from its first trade to the end of its
final flush (process start-up and topic creation excluded). Replay loops over
data/sample-trades.jsonl.gz with --rebase-time. The goal (150,000 trades/s on
the 2-core course machine) is reachable with --client confluent; kafka-python,
the default client, is pure Python and tops out near 35,000/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT_ROOT / "data" / "sample-trades.jsonl.gz"
GOAL = 150_000
DEFAULT_TRADES = {"kafka-python": 100_000, "confluent": 500_000}


def run_once(bootstrap: str, source: str, client: str, trades: int) -> dict:
    topic = f"bench-{source}-{client}-{uuid.uuid4().hex[:8]}"
    cmd = [
        sys.executable,
        "-m",
        "producer",
        "--source",
        source,
        "--speed",
        "max",
        "--max-trades",
        str(trades),
        "--topic",
        topic,
        "--client",
        client,
        "--bootstrap-servers",
        bootstrap,
        "--log-level",
        "warning",
        "--broker-timeout",
        "10",
    ]
    if source == "replay":
        cmd += ["--file", str(SAMPLE), "--loop", "--rebase-time"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    if p.returncode != 0:
        raise SystemExit(f"producer failed ({p.returncode}):\n{p.stderr}")
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("counts: ")][-1]
    counts = json.loads(line[len("counts: ") :])
    if counts["sent"] != trades or counts["failed"]:
        raise SystemExit(f"not every trade was acknowledged: {counts}")
    return counts


def main(argv=None) -> int:
    from producer.settings import load_settings

    cfg = load_settings()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap-servers", default=cfg.kafka_bootstrap_servers)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sources", nargs="+", default=["synthetic", "replay"], choices=["synthetic", "replay"])
    ap.add_argument(
        "--clients", nargs="+", default=["kafka-python", "confluent"], choices=["kafka-python", "confluent"]
    )
    ap.add_argument(
        "--trades", type=int, default=None, help="trades per run (default: 100k kafka-python, 500k confluent)"
    )
    args = ap.parse_args(argv)

    print(f"broker {args.bootstrap_servers}, {args.runs} runs each, --speed max", flush=True)
    print(f"{'source':<10} {'client':<13} {'trades':>8} {'median/s':>10} {'min/s':>10} {'max/s':>10}", flush=True)
    best = 0.0
    for source in args.sources:
        for client in args.clients:
            n = args.trades or DEFAULT_TRADES[client]
            rates = [run_once(args.bootstrap_servers, source, client, n)["per_second"] for _ in range(args.runs)]
            med = statistics.median(rates)
            best = max(best, med)
            print(
                f"{source:<10} {client:<13} {n:>8} {med:>10,.0f} {min(rates):>10,.0f} {max(rates):>10,.0f}", flush=True
            )
    print(f"goal {GOAL:,}/s: {'reached' if best >= GOAL else 'NOT reached'} (best median {best:,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

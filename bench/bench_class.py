"""A class on one machine: N students' notebook kernels (each its own Flink session), all checking their answers
at the same moments; prints the median and 95th percentile of a check's latency, and each kernel's warm-up.

    python bench/bench_class.py [--students 5] [--rounds 6]

Each student is a process with an IPython shell and the workbook's magic, as a notebook kernel has; once all are
warm, every round starts at the same instant in all of them and runs the SQL exercises' checks on their
solutions (tumble_counts, candle_stats, candlesticks, volumes, hop_vwap, in turn). Baseline in the same run: one
student alone, the same rounds. Goal (issue 25): say what a class costs; the figures go to docs/classroom.md."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ("tumble_counts", "candle_stats", "candlesticks", "volumes", "hop_vwap")

STUDENT = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
from workbook.course import exercises, feedback
from workbook.course.magic import ErrorBlock

ip = InteractiveShell.instance()
started = time.perf_counter()
ip.run_line_magic("load_ext", "workbook")
feedback.session().warming.join()
print(json.dumps({"warm": time.perf_counter() - started}), flush=True)
names = sys.argv[1].split(",")
for line in sys.stdin:  # one line per round, from the bench: all students start it at once
    start_at, round_number = line.split()
    time.sleep(max(0.0, float(start_at) - time.time()))
    name = names[int(round_number) % len(names)]
    t = time.perf_counter()
    out = ip.run_cell_magic("flinksql", f"--exercise {name}", exercises.solution(name))
    seconds = time.perf_counter() - t
    ok = out is not None and not isinstance(out, ErrorBlock) and bool(out)
    print(json.dumps({"check": name, "seconds": seconds, "ok": ok}), flush=True)
"""


def start_students(n: int) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k != "WORKBOOK_SOLUTIONS"}
    return [
        subprocess.Popen(
            [sys.executable, "-c", STUDENT, ",".join(EXERCISES)],
            cwd=ROOT / "notebooks",
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(n)
    ]


def read_json(proc: subprocess.Popen) -> dict:
    """The next JSON line of a student (the magic's own progress lines are skipped)."""
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("a student's process ended early")
        if line.startswith("{"):
            return json.loads(line)


def run_class(n: int, rounds: int) -> tuple[list[float], list[float]]:
    """(warm-up seconds per student, check latencies of every student and round)."""
    students = start_students(n)
    try:
        warm = [read_json(p)["warm"] for p in students]
        latencies = []
        for r in range(rounds):
            start_at = time.time() + 1.0  # every student starts the round at this instant
            for p in students:
                p.stdin.write(f"{start_at} {r}\n")
                p.stdin.flush()
            for p in students:
                result = read_json(p)
                if not result["ok"]:
                    raise RuntimeError(f"the check of {result['check']} failed on its solution")
                latencies.append(result["seconds"])
        return warm, latencies
    finally:
        for p in students:
            p.stdin.close()
            p.wait(timeout=120)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    print(f"one student alone, {args.rounds} rounds ...", flush=True)
    warm1, alone = run_class(1, args.rounds)
    print(f"{args.students} students at once, {args.rounds} rounds ...", flush=True)
    warm_n, together = run_class(args.students, args.rounds)
    print(f"\nload average (1 min) now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"warm-up of a kernel (%load_ext to ready): alone {warm1[0]:.1f} s; {args.students} at once: median "
          f"{statistics.median(warm_n):.1f} s, slowest {max(warm_n):.1f} s")  # fmt: skip
    print(f"check latency alone:               median {statistics.median(alone):.2f} s, p95 {p95(alone):.2f} s")
    print(
        f"check latency, {args.students} students at once: median {statistics.median(together):.2f} s, "
        f"p95 {p95(together):.2f} s  ({statistics.median(together) / statistics.median(alone):.1f}x alone)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

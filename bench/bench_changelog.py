"""`%%flinksql --changelog` in bulk: the changelog of the notebooks' running count per pair over the check
dataset (about 18,000 rows: every valid trade updates its pair's count), against the same query without
--changelog (its final rows through one Arrow stream), in one session, alternating; and, once, PyFlink's own
row-by-row collect() as the baseline it replaces.

    python bench/bench_changelog.py [--runs 5]

Goal (issue 20): the changelog in at most 1.5x the time of the same query without --changelog."""

from __future__ import annotations

import argparse
import os
import statistics
import time

import pandas as pd

from workbook.course import feedback

QUERY = "SELECT currency_pair, COUNT(*) AS n FROM valid_trades GROUP BY currency_pair"


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    session = feedback.session()
    for _ in range(3):  # the JVM, the cluster and the first plans: warm
        session.run_cell(QUERY)
        session.run_cell(QUERY, changelog=True)
    plain, bulk = [], []
    for _ in range(args.runs):
        seconds, _ = timed(lambda: session.run_cell(QUERY))
        plain.append(seconds)
        seconds, cell = timed(lambda: session.run_cell(QUERY, changelog=True))
        bulk.append(seconds)
    rows = len(cell.frame)
    # the baseline: PyFlink's collect(), three Py4J calls a row (once: it takes half a minute)
    os.environ["WORKBOOK_ARROW_COLLECT"] = "0"
    try:
        row_by_row, old = timed(lambda: session.run_cell(QUERY, changelog=True))
    finally:
        del os.environ["WORKBOOK_ARROW_COLLECT"]
    pd.testing.assert_frame_equal(old.frame, cell.frame, check_dtype=False)  # the same changelog, row by row
    p, b = statistics.median(plain), statistics.median(bulk)
    print(f"changelog rows: {rows}")
    print(f"without --changelog (final rows), median of {args.runs}: {p:.3f} s")
    print(f"--changelog in batches, median of {args.runs}:          {b:.3f} s ({b / p:.2f}x the plain query)")
    print(f"--changelog row by row (PyFlink's collect), once:  {row_by_row:.3f} s ({row_by_row / b:.1f}x the batches)")


if __name__ == "__main__":
    main()

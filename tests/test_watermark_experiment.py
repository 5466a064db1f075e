"""Notebook 04's experiment, on Flink itself: a trade behind the watermark whose 1-minute window is still
open is counted by Flink's TUMBLE; one that arrives after its window fired is dropped. The simulation and the
processor's rule (is_late in sql/20_checked_trades.sql) say the same, record by record."""

from __future__ import annotations

import pytest

from workbook.course import feedback
from workbook.course.watermark_lab import flink_windows
from workbook.course.watermark_sim import simulate

pytestmark = pytest.mark.flink
T = 1_735_776_000_000  # 2025-01-02 00:00:00 UTC
# seconds after T, in arrival order; the price is the trade's number, to see which ones a window counts
SECONDS = (10, 12, 6, 7, 7.001, 66, 30, 59.999, 66.1, 121, 60)


def tiny():
    return [
        {"timestamp": T + round(s * 1000), "pair": "bitcoin / tether", "price": float(i + 1)}
        for i, s in enumerate(SECONDS)
    ]


def test_flink_counts_a_trade_behind_the_watermark_and_drops_one_whose_window_fired():
    sim = simulate(tiny())
    assert list(sim.records["behind"]) == [False, False, True, True, False, False, True, True, False, False, True]
    assert list(sim.records["late"]) == [False, False, False, False, False, False, True, True, False, False, False]
    windows = flink_windows(tiny(), name="experiment")
    counted = {str(r.window_start)[11:16]: sorted(map(int, r.prices.split())) for r in windows.itertuples()}
    # trades 3 and 4 (6 s and 7.000 s, behind the watermark of 7 s) are counted: [00:00, 00:01) is still open;
    # trade 7 (30 s) and 8 (59.999 s) arrive after it fired (the watermark 61 >= 59.999): dropped.
    # trade 11 (60 s) is behind the watermark of 116 s, in [00:01, 00:02), which fires at 119.999: counted
    assert counted == {"00:00": [1, 2, 3, 4, 5], "00:01": [6, 9, 11], "00:02": [10]}


def test_the_processor_rule_marks_exactly_the_dropped_trades_late():
    session = feedback.session()
    session.datasets["experiment"] = lambda: [
        dict(t, base="bitcoin", quote="tether", direction="buy", volume=1.0) for t in tiny()
    ]
    rows = session.run_cell("SELECT CAST(price AS INT) AS n, is_late FROM checked_trades", data="experiment").frame
    late = sorted(int(n) for n, is_late in zip(rows["n"], rows["is_late"], strict=True) if is_late)
    assert late == [7, 8] == [i + 1 for i, x in enumerate(simulate(tiny()).records["late"]) if x]

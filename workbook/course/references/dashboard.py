"""The expected result of the dashboard exercise `panel_sql`, computed with pandas from the
sample trades (what the notebook's bounded processor run writes to `candlesticks`).

Not in the student release. `python -m workbook.course.references.dashboard` rewrites
workbook/course/expected/panel_sql.json, which the check reads (tests/test_ladder_dashboard.py
checks that it is up to date)."""

from __future__ import annotations

import json

import pandas as pd

from ..checks_dashboard import panel_params
from ..datasets import expected_path, sample_trades
from . import main, write_json
from .candles import reference_candlesticks


def candles(trades=None) -> pd.DataFrame:
    """The columns of the processor's `candlesticks` rows that panels read, per pair and minute of the sample
    (no sample trade is late, so the processor writes exactly these): the candlestick reference's, without
    open/close (no panel exercise needs them)."""
    frame = reference_candlesticks(trades if trades is not None else sample_trades())
    return frame[["ts_start", "ts_end", "currency_pair", "price_avg", "price_min", "price_max", "volume", "num_trades"]]


def expected() -> dict:
    """For the pair and time range of the active data (the grading data checks another pair and range of the
    same candles: the sample's, which the notebook's processor run writes)."""
    p = panel_params()
    frame = candles()
    t0 = pd.Timestamp(p["time_from"]).tz_localize(None)
    t1 = pd.Timestamp(p["time_to"]).tz_localize(None)
    # $__timeFilter(ts_start) is BETWEEN: both ends included
    frame = frame[(frame["ts_start"] >= t0) & (frame["ts_start"] <= t1)]
    mine = frame[frame["currency_pair"] == p["pair"]].sort_values("ts_start")
    everyone = frame.groupby("ts_start").agg(hi=("price_max", "max"), lo=("price_min", "min"))
    rows = [
        {
            "time": f"{r.ts_start:%Y-%m-%dT%H:%M:%SZ}",
            "price_range": float(r.price_max - r.price_min),
            # what the check needs to name mistakes: a relative range, and every pair's range together
            "price_avg": float(r.price_avg),
            "all_pairs_range": float(everyone.loc[r.ts_start, "hi"] - everyone.loc[r.ts_start, "lo"]),
        }
        for r in mine.itertuples()
    ]
    return {
        "exercise": "panel_sql",
        "pair": p["pair"],
        "time_from": p["time_from"],
        "time_to": p["time_to"],
        "columns": ["time", "price_range"],
        "pairs_in_range": int(frame["currency_pair"].nunique()),
        "rows": rows,
    }


def write_expected() -> dict:
    return write_json(expected_path("panel_sql.json"), expected(), indent=1)


if __name__ == "__main__":
    main(write_expected, lambda values: json.dumps(values, indent=1)[:600])

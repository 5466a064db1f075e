"""The expected result of the dashboard exercise `panel_sql`, computed with pandas from the
sample trades (what the notebook's bounded processor run writes to `candlesticks`).

Not in the student release. `python -m workbook.course.references.dashboard` rewrites
workbook/course/expected/panel_sql.json, which the check reads (tests/test_ladder_dashboard.py
checks that it is up to date)."""

from __future__ import annotations

import json

import pandas as pd

from ..checks import reference_candlesticks
from ..checks_dashboard import CHECK_FROM, CHECK_TO, EXPECTED_PATH, PAIR
from ..datasets import sample_trades


def expected() -> dict:
    candles = reference_candlesticks(sample_trades())
    t0 = pd.Timestamp(CHECK_FROM).tz_localize(None)
    t1 = pd.Timestamp(CHECK_TO).tz_localize(None)
    # $__timeFilter(ts_start) is BETWEEN: both ends included
    candles = candles[(candles["ts_start"] >= t0) & (candles["ts_start"] <= t1)]
    mine = candles[candles["currency_pair"] == PAIR].sort_values("ts_start")
    everyone = candles.groupby("ts_start").agg(hi=("price_max", "max"), lo=("price_min", "min"))
    rows = [{"time": f"{r.ts_start:%Y-%m-%dT%H:%M:%SZ}",
             "price_range": float(r.price_max - r.price_min),
             # what the check needs to name mistakes: a relative range, and every pair's range together
             "price_avg": float(r.price_avg),
             "all_pairs_range": float(everyone.loc[r.ts_start, "hi"] - everyone.loc[r.ts_start, "lo"])}
            for r in mine.itertuples()]
    return {"exercise": "panel_sql", "pair": PAIR, "time_from": CHECK_FROM, "time_to": CHECK_TO,
            "columns": ["time", "price_range"], "pairs_in_range": int(candles["currency_pair"].nunique()),
            "rows": rows}


def write_expected() -> dict:
    values = expected()
    EXPECTED_PATH.parent.mkdir(parents=True, exist_ok=True)
    EXPECTED_PATH.write_text(json.dumps(values, indent=1) + "\n")
    return values


if __name__ == "__main__":
    print(json.dumps(write_expected(), indent=1)[:600])

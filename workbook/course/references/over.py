"""Expected result of notebook 10's OVER-window exercise (moving_vwap), computed with pandas from the check
dataset, independent of Flink; and the variants the check needs to name mistakes.

Flink's event-time OVER window emits a row's aggregate when the watermark passes the row's time, over the rows of
its partition whose time is within the range (both ends included: [ts - 5 min, ts]); rows of the same time get
the same value. A row that arrives when its partition has already emitted a row of the same or a later time (the
watermark passed it) is dropped: the OVER operator cannot go back. A window aggregation counts such a row while
its window is open; the OVER window does not (the grading data has such trades: tests/test_ladder_rows.py shows
Flink drops them).

Not in the student release. `python -m workbook.course.references.over [--grading]` rewrites
workbook/course/expected/moving_vwap.csv (or the grading data's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..datasets import DELAY_MS, expected_path, records
from ..watermark_sim import simulate
from . import main, problem_of

RANGE_MS = 5 * 60_000


def accepted(trades: list[dict], key=lambda t: f"{t['base']} / {t['quote']}") -> pd.DataFrame:
    """The valid trades an OVER window partitioned by `key` takes, in arrival order, with their pair: late trades
    (valid_trades drops them) and trades whose partition had emitted a row of the same or a later time are out."""
    sim = simulate(trades, DELAY_MS).records
    fired: dict = {}  # partition -> event times of its accepted rows, not yet passed by the watermark
    last: dict = {}  # partition -> the latest time it emitted (Flink's lastTriggeringTs)
    rows = []
    for t, late, watermark in zip(trades, sim["late"], sim["watermark"], strict=True):
        if late or problem_of(t) is not None:
            continue
        k = key(t)
        pending = fired.setdefault(k, [])
        passed = [ts for ts in pending if ts <= watermark]
        if passed:
            last[k] = max(last.get(k, -1), *passed)
            fired[k] = pending = [ts for ts in pending if ts > watermark]
        if t["timestamp"] <= last.get(k, -1):
            continue  # behind the watermark, and its partition has moved past it: Flink drops it
        pending.append(t["timestamp"])
        rows.append({**t, "currency_pair": f"{t['base']} / {t['quote']}", "partition": k})
    return pd.DataFrame(rows)


def _range_sums(df: pd.DataFrame, range_ms: int | None) -> pd.DataFrame:
    """Per row: the sums over the rows of its partition with a time in [ts - range_ms, ts] (None: unbounded)."""
    out = []
    for _, g in df.groupby("partition", sort=False):
        g = g.sort_values("timestamp", kind="stable")
        ts = g["timestamp"].to_numpy()
        pv = np.concatenate([[0.0], np.cumsum((g["price"] * g["volume"]).to_numpy())])
        v = np.concatenate([[0.0], np.cumsum(g["volume"].to_numpy())])
        p = np.concatenate([[0.0], np.cumsum(g["price"].to_numpy())])
        hi = np.searchsorted(ts, ts, side="right")  # ties: every row of the same time
        lo = np.zeros_like(hi) if range_ms is None else np.searchsorted(ts, ts - range_ms, side="left")
        out.append(
            pd.DataFrame({"pv": pv[hi] - pv[lo], "v": v[hi] - v[lo], "p": p[hi] - p[lo], "n": hi - lo}, index=g.index)
        )
    return pd.concat(out).loc[df.index]


def moving_vwap() -> pd.DataFrame:
    """One row per trade: currency_pair, ts, price, vwap (5 minutes up to the trade); avg_price and vwap_all (since
    the first trade) for the check's named mistakes."""
    trades = records("check")
    df = accepted(trades)
    s = _range_sums(df, RANGE_MS)
    everything = _range_sums(df, None)
    out = pd.DataFrame(
        {
            "currency_pair": df["currency_pair"],
            "ts": pd.to_datetime(df["timestamp"], unit="ms"),
            "price": df["price"],
            "vwap": s["pv"] / s["v"],
            "avg_price": s["p"] / s["n"],
            "vwap_all": everything["pv"] / everything["v"],
        }
    )
    return out.sort_values(["currency_pair", "ts", "price"], kind="stable").reset_index(drop=True)


def write_expected() -> dict:
    frame = moving_vwap()
    path = expected_path("moving_vwap.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S.%f")
    return {"moving_vwap": len(frame)}


if __name__ == "__main__":
    main(write_expected)

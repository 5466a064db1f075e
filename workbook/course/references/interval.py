"""Expected result of notebook 11's interval-join exercise (quick_reversals), computed with pandas from the check
dataset, independent of Flink: each buy of valid_trades with every sell of its pair whose time is within 2 seconds
of the buy's (before or after, both ends included), one row per (buy, sell).

What Flink 2.0's interval join (RowTimeIntervalJoin) drops as late. The query reads the source twice (one scan
for the buys, one for the sells), and the join's watermark is the smaller of its two inputs': at most the
source's watermark when the row was read, and how far behind it is depends on how fast each scan ran. A row keeps
the other side's rows of time t in its state until the join's watermark passes t + 2 s (the bound), then drops
them; a row that comes in is kept for the other side's later rows unless the watermark has passed its time + 2 s.
So a pair of trades that were both ahead of the watermark when they arrived is always joined (the first one
waits in the state until the second comes); a trade BEHIND the watermark (valid_trades keeps it when its
1-minute window is still open: the grading data has such buys) is joined for sure with a partner only when
both its time and the partner's are within 2 s of the watermark it arrived under (time >= watermark - 2 s):
an older partner may have been dropped from the state already, or not, depending on the two scans' pace
(tests/test_ladder_interval.py compares Flink's rows with these). Such rows are flagged `may_drop`: the check
takes them whether they are there or not.

Not in the student release. `python -m workbook.course.references.interval [--grading]` rewrites
workbook/course/expected/quick_reversals.csv (or the grading data's).
"""

from __future__ import annotations

import pandas as pd

from ..datasets import DELAY_MS, expected_path, records
from ..watermark_sim import simulate
from . import main, problem_of

NAME = "quick_reversals"
BOUND_MS = 2_000
COLUMNS = ["currency_pair", "buy_ts", "sell_ts", "buy_price", "sell_price"]


def arrivals(trades: list[dict]) -> pd.DataFrame:
    """The trades of valid_trades, in arrival order, with the source's watermark when each arrived (None before
    the first) and whether it was behind it; late trades (their window had fired) and bad records are out."""
    sim = simulate(trades, DELAY_MS).records
    rows = [
        {
            "currency_pair": f"{t['base']} / {t['quote']}",
            "direction": t["direction"],
            "price": t["price"],
            "timestamp": t["timestamp"],
            "watermark": None if pd.isna(wm) else int(wm),
        }
        for t, late, wm in zip(trades, sim["late"], sim["watermark"], strict=True)
        if not late and problem_of(t) is None
    ]
    df = pd.DataFrame(rows)
    df["behind"] = df["watermark"].notna() & (df["timestamp"] <= df["watermark"].fillna(-1))
    return df


def _sure(own_ts, own_wm, own_behind, other_ts):
    """Whether the join surely pairs a trade with its partner (see the module's docstring): yes unless the trade
    was behind the watermark and it, or the partner, is more than the bound behind that watermark."""
    floor = own_wm.fillna(0) - BOUND_MS
    return ~own_behind | ((own_ts > floor) & (other_ts >= floor))


def quick_reversals() -> pd.DataFrame:
    """One row per (buy, sell) of a pair with the sell's time within 2 s of the buy's; `may_drop`: Flink's
    interval join may leave the row out (a trade behind the watermark, its partner forgotten already)."""
    df = arrivals(records("check"))
    buys, sells = df[df["direction"] == "buy"], df[df["direction"] == "sell"]
    m = buys.merge(sells, on="currency_pair", suffixes=("_b", "_s"))
    m = m[(m["timestamp_s"] - m["timestamp_b"]).abs() <= BOUND_MS].copy()
    both_behind = m["behind_b"] & m["behind_s"]
    sure = (
        _sure(m["timestamp_b"], m["watermark_b"], m["behind_b"], m["timestamp_s"])
        & _sure(m["timestamp_s"], m["watermark_s"], m["behind_s"], m["timestamp_b"])
        & ~both_behind
    )
    out = pd.DataFrame(
        {
            "currency_pair": m["currency_pair"],
            "buy_ts": pd.to_datetime(m["timestamp_b"], unit="ms"),
            "sell_ts": pd.to_datetime(m["timestamp_s"], unit="ms"),
            "buy_price": m["price_b"],
            "sell_price": m["price_s"],
            "may_drop": ~sure,
        }
    )
    return out.sort_values(COLUMNS, kind="stable").reset_index(drop=True)


def write_expected() -> dict:
    frame = quick_reversals()
    path = expected_path(f"{NAME}.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S.%f")
    return {NAME: len(frame), "may be dropped as late": int(frame["may_drop"].sum())}


if __name__ == "__main__":
    main(write_expected)

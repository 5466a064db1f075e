"""Expected results of notebook 08's window exercises (hop_vwap, cumulate_volume, top_pairs),
computed with pandas from the check dataset (workbook.course.datasets.check_trades), independent of Flink.

Not in the student release. `python -m workbook.course.references.windows` rewrites the CSV files
workbook/course/expected/<exercise>.csv that the checks read (tests/test_ladder_windows.py checks that
they are up to date and that Flink's results for the solutions equal them). Besides the answer, a file
holds what the check needs to name mistakes: the simple average of the prices (hop_vwap) and every
pair's rank in each minute (top_pairs).
"""

from __future__ import annotations

import pandas as pd

from ..checks_windows import CUMULATE_MAX, CUMULATE_STEP, HOP_SIZE, HOP_SLIDE, TOP_N
from ..datasets import expected_path, records
from . import main, valid

MINUTE = 60_000


def _trades() -> pd.DataFrame:
    df = pd.DataFrame(valid(records("check")))
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    return df[["currency_pair", "timestamp", "price", "volume"]]


def _ts(ms) -> pd.Series:
    return pd.to_datetime(ms, unit="ms")


def hop_vwap() -> pd.DataFrame:
    """Every window [start, start + size) with start a multiple of the slide that holds a trade."""
    df = _trades()
    size, slide = HOP_SIZE * MINUTE, HOP_SLIDE * MINUTE
    parts = []
    for k in range(size // slide):  # a trade is in size/slide windows
        part = df.copy()
        part["start"] = (df["timestamp"] // slide - k) * slide
        parts.append(part)
    df = pd.concat(parts)
    df["pv"] = df["price"] * df["volume"]
    g = df.groupby(["start", "currency_pair"], sort=True)
    out = pd.DataFrame({"vwap": g["pv"].sum() / g["volume"].sum(), "avg_price": g["price"].mean()}).reset_index()
    out.insert(0, "window_end", _ts(out["start"] + size))
    out.insert(0, "window_start", _ts(out["start"]))
    return out[["window_start", "window_end", "currency_pair", "vwap", "avg_price"]]


def cumulate_volume() -> pd.DataFrame:
    """For each max-size period with trades, a window [period start, step end) at every step, as Flink
    emits them (also the steps after a pair's last trade, up to the period's end)."""
    df = _trades()
    size, step = CUMULATE_MAX * MINUTE, CUMULATE_STEP * MINUTE
    df["period"] = df["timestamp"] // size * size
    rows = []
    for (period, pair), g in df.groupby(["period", "currency_pair"], sort=True):
        for end in range(period + step, period + size + 1, step):
            inside = g[g["timestamp"] < end]
            if len(inside):
                rows.append((period, end, pair, float(inside["volume"].sum())))
    out = pd.DataFrame(rows, columns=["start", "end", "currency_pair", "volume"])
    return pd.DataFrame(
        {
            "window_start": _ts(out["start"]),
            "window_end": _ts(out["end"]),
            "currency_pair": out["currency_pair"],
            "volume": out["volume"],
        }
    )


def top_pairs() -> pd.DataFrame:
    """Every pair's volume in each 1-minute window and its place (1 = most volume); the answer is
    pair_rank <= TOP_N."""
    df = _trades()
    df["start"] = df["timestamp"] // MINUTE * MINUTE
    out = df.groupby(["start", "currency_pair"], sort=True)["volume"].sum().reset_index()
    out["pair_rank"] = out.groupby("start")["volume"].rank(method="first", ascending=False).astype("int64")
    out["pairs_in_window"] = out.groupby("start")["currency_pair"].transform("size").astype("int64")
    out.insert(0, "window_end", _ts(out["start"] + MINUTE))
    out.insert(0, "window_start", _ts(out["start"]))
    assert TOP_N < out["pairs_in_window"].min(), "the check data needs more pairs per minute than TOP_N"
    return out[["window_start", "window_end", "currency_pair", "volume", "pair_rank", "pairs_in_window"]]


REFERENCES = {"hop_vwap": hop_vwap, "cumulate_volume": cumulate_volume, "top_pairs": top_pairs}


def write_expected() -> dict:
    written = {}
    for name, make in REFERENCES.items():
        frame = make()
        path = expected_path(f"{name}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S")
        written[name] = len(frame)
    return written


if __name__ == "__main__":
    main(write_expected)

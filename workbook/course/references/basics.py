"""The expected results of the checks of part L1 (notebooks 02 and 03), computed with pandas,
independently of Flink: which trades are valid, which are late (the watermark lab's simulation of
Flink's rule), and the counts the exercises ask for.

Not in the student release. `python -m workbook.course.references.basics` rewrites
workbook/course/expected/{stream_counts,source_table,filter_project,changelog_counts,tumble_counts}.json,
which the checks read (tests/test_ladder_L1.py checks that they are up to date)."""

from __future__ import annotations

import pandas as pd

from ..checks_basics import PAIR
from ..datasets import EXPECTED_DIR, PROBE_LAGS_MS, basics_trades, probe_trades, sample_trades
from ..watermark_sim import DELAY_MS, simulate
from . import write_json

NAMES = ("stream_counts", "source_table", "filter_project", "changelog_counts", "tumble_counts")


def problem_of(t: dict) -> str | None:
    """sql/20_checked_trades.sql's rules, as far as the basics dataset needs them."""
    if any(t.get(k) is None for k in ("base", "quote", "direction", "price", "volume", "timestamp")):
        return "missing field"
    if t["price"] <= 0 or t["volume"] <= 0:
        return "price or volume not positive"
    if t["direction"] not in ("buy", "sell"):
        return "unknown direction"
    return None


def basics_frame() -> pd.DataFrame:
    trades = basics_trades()
    df = pd.DataFrame(trades)
    df["pair"] = df["base"].fillna("") + " / " + df["quote"].fillna("")
    df["problem"] = [problem_of(t) for t in trades]
    late = simulate(trades, DELAY_MS).records["late"]
    df.loc[late.values & df["problem"].isna().values, "problem"] = "late"
    return df


def stream_counts() -> dict:
    df = pd.DataFrame(sample_trades())
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    out = (
        df.groupby(["currency_pair", "direction"]).agg(trades=("price", "size"), volume=("volume", "sum")).reset_index()
    )
    return {"rows": out.values.tolist()}


def source_table() -> dict:
    trades = probe_trades()
    behind = simulate(trades, DELAY_MS).records["behind"].tolist()
    rows = [i for i, t in enumerate(trades) if t["direction"] == "sell"]  # the stragglers
    assert len(rows) == len(PROBE_LAGS_MS)
    return {
        "timestamps": [t["timestamp"] for t in trades],
        "lags_ms": list(PROBE_LAGS_MS),
        "straggler_rows": rows,
        "behind_by_lag": {str(lag): bool(behind[i]) for lag, i in zip(PROBE_LAGS_MS, rows, strict=True)},
    }


def filter_project() -> dict:
    df = basics_frame()
    valid = df[df["problem"].isna() & (df["pair"] == PAIR)]
    return {"rows": valid[["timestamp", "direction", "price", "volume"]].values.tolist()}


def changelog_counts() -> dict:
    df = basics_frame()
    valid = df[df["problem"].isna()]
    out = valid.groupby("pair").size().rename("num_trades").reset_index()
    return {"rows": out.values.tolist()}


def tumble_counts() -> dict:
    df = basics_frame()
    valid = df[df["problem"].isna()].copy()
    start = valid["timestamp"] // 60_000 * 60_000
    valid["window_start"] = pd.to_datetime(start, unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S")
    valid["window_end"] = pd.to_datetime(start + 60_000, unit="ms").dt.strftime("%Y-%m-%d %H:%M:%S")
    out = valid.groupby(["window_start", "window_end", "pair"]).size().rename("num_trades").reset_index()
    return {"rows": out.values.tolist()}


def expected() -> dict:
    return {name: globals()[name]() for name in NAMES}


def write_expected() -> dict:
    values = expected()
    for name, value in values.items():
        write_json(EXPECTED_DIR / f"{name}.json", value, separators=(",", ":"))
    return values


if __name__ == "__main__":
    for name, value in write_expected().items():
        print(name, {k: len(v) for k, v in value.items() if isinstance(v, list)})

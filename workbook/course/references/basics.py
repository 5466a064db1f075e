"""The expected results of the checks of part L1 (notebooks 02 and 03), computed with pandas,
independently of Flink: which trades are valid, which are late (the watermark lab's simulation of
Flink's rule), and the counts the exercises ask for.

Not in the student release. `python -m workbook.course.references.basics` rewrites
workbook/course/expected/{stream_counts,source_table,filter_project,changelog_counts,tumble_counts}.json,
which the checks read (tests/test_ladder_L1.py checks that they are up to date)."""

from __future__ import annotations

import pandas as pd

from ..checks_basics import PAIR
from ..datasets import expected_path, records
from ..watermark_sim import DELAY_MS, simulate
from . import main, problem_of, write_json

NAMES = ("stream_counts", "source_table", "filter_project", "changelog_counts", "tumble_counts")


def basics_frame() -> pd.DataFrame:
    trades = records("basics")
    df = pd.DataFrame(trades)
    df["pair"] = df["base"].fillna("") + " / " + df["quote"].fillna("")
    df["problem"] = [problem_of(t) for t in trades]
    late = simulate(trades, DELAY_MS).records["late"]
    df.loc[late.values & df["problem"].isna().values, "problem"] = "late"
    return df


def stream_counts() -> dict:
    df = pd.DataFrame(records("sample"))
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    out = (
        df.groupby(["currency_pair", "direction"]).agg(trades=("price", "size"), volume=("volume", "sum")).reset_index()
    )
    return {"rows": out.values.tolist()}


def source_table() -> dict:
    trades = records("probe")
    behind = simulate(trades, DELAY_MS).records["behind"].tolist()
    rows = [i for i, t in enumerate(trades) if t["direction"] == "sell"]  # the stragglers, each its lag as price
    lags = [int(trades[i]["price"]) for i in rows]
    return {
        "timestamps": [t["timestamp"] for t in trades],
        "lags_ms": lags,
        "straggler_rows": rows,
        "behind_by_lag": {str(lag): bool(behind[i]) for lag, i in zip(lags, rows, strict=True)},
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
        write_json(expected_path(f"{name}.json"), value, separators=(",", ":"))
    return values


if __name__ == "__main__":
    main(
        write_expected,
        lambda values: {n: {k: len(v) for k, v in d.items() if isinstance(v, list)} for n, d in values.items()},
    )

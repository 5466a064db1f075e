"""The expected results of the candlestick and volume exercises, computed with pandas
(independent of Flink), and the variants the checks need to name known mistakes.

Not in the student release. `python -m workbook.course.references.candles` rewrites
workbook/course/expected/{candlesticks,volumes,candlesticks_sample}.json, which the checks
(workbook/course/checks_candles.py) and the notebooks read; tests/test_ladder_candles.py checks
that they are up to date."""

from __future__ import annotations

import pandas as pd

from ..checks_candles import CANDLE_COLUMNS, KEY, VOLUME_COLUMNS, fingerprint
from ..datasets import WINDOW_MS, active, expected_path, records
from . import main, valid, write_json


def _frame(trades: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(trades)
    df["arrival"] = range(len(df))  # Kafka offset order (of the valid trades: the same order): the tie-break
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    start = df["timestamp"] // WINDOW_MS * WINDOW_MS
    df["ts_start"] = pd.to_datetime(start, unit="ms")
    df["ts_end"] = pd.to_datetime(start + WINDOW_MS, unit="ms")
    return df


def reference_candlesticks(trades: list[dict], by_arrival: bool = False) -> pd.DataFrame:
    """Open/close = earliest/latest trade by event time, same-ms ties by arrival order.
    by_arrival=True gives what FIRST_VALUE/LAST_VALUE compute (arrival order), for feedback."""
    df = _frame(trades)
    df = df.sort_values("arrival" if by_arrival else ["timestamp", "arrival"])
    df["pv"] = df["price"] * df["volume"]
    g = df.groupby(KEY, sort=True)
    out = pd.DataFrame(
        {
            "price_avg": g["pv"].sum() / g["volume"].sum(),
            "price_open": g["price"].first(),
            "price_min": g["price"].min(),
            "price_max": g["price"].max(),
            "price_close": g["price"].last(),
            "volume": g["volume"].sum(),
            "num_trades": g["price"].size().astype("int64"),
        }
    ).reset_index()
    return out[CANDLE_COLUMNS]


def reference_volumes(trades: list[dict]) -> pd.DataFrame:
    df = _frame(trades)
    df["volume_buy"] = df["volume"].where(df["direction"] == "buy", 0.0)
    df["volume_sell"] = df["volume"].where(df["direction"] == "sell", 0.0)
    out = df.groupby(KEY, sort=True)[["volume_buy", "volume_sell"]].sum().reset_index()
    return out[VOLUME_COLUMNS]


def _edge_prices(trades: list[dict]) -> pd.DataFrame:
    """Per window and pair: every price at the earliest / latest millisecond (a same-ms tie may be
    broken either way by a correct query), and the plain (not volume-weighted) mean price."""
    df = _frame(trades)
    g = df.groupby(KEY, sort=True)
    first_ts, last_ts = g["timestamp"].transform("min"), g["timestamp"].transform("max")
    opens = df[df["timestamp"] == first_ts].groupby(KEY)["price"].apply(lambda s: sorted(set(s)))
    closes = df[df["timestamp"] == last_ts].groupby(KEY)["price"].apply(lambda s: sorted(set(s)))
    return pd.DataFrame({"open_ok": opens, "close_ok": closes, "price_mean": g["price"].mean()}).reset_index()


def _rows(df: pd.DataFrame) -> list[dict]:
    out = df.copy()
    for col in ("ts_start", "ts_end"):
        out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3]
    return out.to_dict("records")


def expected_candlesticks(trades: list[dict], variants: bool = True) -> dict:
    """The candles of a dataset's valid trades (its fingerprint is of the whole dataset, bad records included)."""
    good = valid(trades)
    ref = reference_candlesticks(good)
    if variants:
        arrival = reference_candlesticks(good, by_arrival=True)
        ref = ref.assign(open_arrival=arrival["price_open"], close_arrival=arrival["price_close"])
        ref = ref.merge(_edge_prices(good), on=KEY)
    return {"columns": CANDLE_COLUMNS, "fingerprint": fingerprint(trades), "rows": _rows(ref)}


def expected_volumes(trades: list[dict]) -> dict:
    ref = reference_volumes(valid(trades))
    ref["volume"] = ref["volume_buy"] + ref["volume_sell"]  # to name 'every trade counted'
    return {"columns": VOLUME_COLUMNS, "fingerprint": fingerprint(trades), "rows": _rows(ref)}


def write_expected() -> dict:
    trades = records("check")
    files = {"candlesticks": expected_candlesticks(trades), "volumes": expected_volumes(trades)}
    if active().name == "practice":  # the notebooks' sample (notebook 09 compares the cluster's candles)
        files["candlesticks_sample"] = expected_candlesticks(records("sample"), variants=False)
    for name, values in files.items():
        write_json(expected_path(f"{name}.json"), values, indent=1)
    return {name: len(v["rows"]) for name, v in files.items()}


if __name__ == "__main__":
    main(write_expected)

"""Expected result of notebook 11's temporal-join exercise (trades_usd), computed with pandas from the check
dataset and its rates (datasets.market_rates), independent of Flink: each valid trade with its price in US
dollars, price x the USD rate of its QUOTE asset as of the trade's time (the rate's latest record at or before
the trade's time: producer.assets.UsdPricer's rule, priceUsd = price x the quote's USD price). A trade whose
quote has no rate yet at its time (a feed that joins late) gets no row: the join is an inner join.

The stored file has more columns than the answer: rate_usd and rate_ts (the quote's rate and its time),
base_rate_usd (the base's rate then, which names an answer joined on the wrong asset) and `behind`, which marks
the trades that arrive behind the watermark of the trades (the grading data's stragglers): Flink
joins them only if the rates' side has not moved on yet, which depends on how fast its two sources read, so
the check takes such a row present (with its rate as of its time) or missing.

Not in the student release. `python -m workbook.course.references.temporal [--grading]` rewrites
workbook/course/expected/trades_usd.csv (or the grading data's).
"""

from __future__ import annotations

import pandas as pd

from ..datasets import DELAY_MS, active, expected_path, records
from ..watermark_sim import simulate
from . import main, valid

COLUMNS = ["currency_pair", "ts", "price", "price_usd"]


def rates_frame() -> pd.DataFrame:
    """The check dataset's rates: asset, rate_usd, ts."""
    rates = pd.DataFrame(active().rates["check"]())
    rates["ts"] = pd.to_datetime(rates["timestamp"], unit="ms")
    return rates[["asset", "rate_usd", "ts"]]


def trades_usd() -> pd.DataFrame:
    trades = records("check")
    behind = simulate(trades, DELAY_MS).records["behind"].tolist()
    valid_ids = {id(t) for t in valid(trades)}
    kept = [dict(t, behind=b) for t, b in zip(trades, behind, strict=True) if id(t) in valid_ids]
    df = pd.DataFrame(kept)
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    df["ts"] = pd.to_datetime(df["timestamp"], unit="ms")
    rates = rates_frame().sort_values("ts", kind="stable")
    # each trade with the quote's last rate at or before its time (a rate of the same millisecond holds)
    joined = pd.merge_asof(
        df.sort_values("ts", kind="stable"),
        rates.rename(columns={"asset": "quote", "ts": "rate_ts"}),
        left_on="ts",
        right_on="rate_ts",
        by="quote",
        direction="backward",
        allow_exact_matches=True,
    )
    joined = joined[joined["rate_usd"].notna()].copy()
    joined["price_usd"] = joined["price"] * joined["rate_usd"]
    # the BASE's rate as of the trade (NaN: none yet): what an answer joined on the wrong asset takes
    joined = pd.merge_asof(
        joined,
        rates.rename(columns={"asset": "base", "rate_usd": "base_rate_usd", "ts": "base_rate_ts"}),
        left_on="ts",
        right_on="base_rate_ts",
        by="base",
        direction="backward",
    )
    out = joined[[*COLUMNS, "rate_usd", "rate_ts", "base_rate_usd", "behind"]]
    return out.sort_values(COLUMNS, kind="stable").reset_index(drop=True)


def write_expected() -> dict:
    frame = trades_usd()
    path = expected_path("trades_usd.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S.%f")
    valid_count = len(valid(records("check")))
    return {
        "trades_usd": len(frame),
        "without a rate yet": valid_count - len(frame),
        "behind": int(frame["behind"].sum()),
    }


if __name__ == "__main__":
    main(write_expected)

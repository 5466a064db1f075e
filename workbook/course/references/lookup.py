"""Expected result of notebook 11's lookup-join exercise (trade_assets), computed with pandas from the check
dataset and the reference rows of the PostgreSQL table assets (sql/postgres/04_assets.sql), independent of
Flink: each valid trade with the symbol and category of its BASE asset, NULL for a base the table does not list
(xrp, dogecoin: a LEFT JOIN keeps their trades).

The stored file has two more columns than the answer: quote_symbol and quote_category (the QUOTE's row), which
name an answer that looked up the wrong asset.

Not in the student release. `python -m workbook.course.references.lookup [--grading]` rewrites
workbook/course/expected/trade_assets.csv (or the grading data's).
"""

from __future__ import annotations

import pandas as pd

from ..datasets import expected_path, records
from . import main, valid

COLUMNS = ["currency_pair", "ts", "price", "symbol", "category"]
# the rows of sql/postgres/04_assets.sql (tests/test_ladder_lookup.py keeps them equal): asset -> symbol, category
ASSETS = {
    "bitcoin": ("BTC", "Bitcoin", "cryptocurrency"),
    "ethereum": ("ETH", "Ethereum", "cryptocurrency"),
    "solana": ("SOL", "Solana", "cryptocurrency"),
    "tether": ("USDT", "Tether", "stablecoin"),
    "usd-coin": ("USDC", "USD Coin", "stablecoin"),
    "euro": ("EUR", "Euro", "fiat"),
    "united-states-dollar": ("USD", "US Dollar", "fiat"),
}


def assets_frame() -> pd.DataFrame:
    rows = [(asset, symbol, name, category) for asset, (symbol, name, category) in ASSETS.items()]
    return pd.DataFrame(rows, columns=["asset", "symbol", "name", "category"])


def trade_assets() -> pd.DataFrame:
    df = pd.DataFrame(valid(records("check")))
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    df["ts"] = pd.to_datetime(df["timestamp"], unit="ms")
    assets = assets_frame()[["asset", "symbol", "category"]]
    out = df.merge(assets.rename(columns={"asset": "base"}), on="base", how="left")
    quote = assets.rename(columns={"asset": "quote", "symbol": "quote_symbol", "category": "quote_category"})
    out = out.merge(quote, on="quote", how="left")
    out = out[[*COLUMNS, "quote_symbol", "quote_category"]]
    return out.sort_values(COLUMNS, kind="stable", na_position="last").reset_index(drop=True)


def write_expected() -> dict:
    frame = trade_assets()
    path = expected_path("trade_assets.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S.%f")
    missing = frame[frame["symbol"].isna()]
    return {"trade_assets": len(frame), "without an asset row": missing["currency_pair"].value_counts().to_dict()}


if __name__ == "__main__":
    main(write_expected)

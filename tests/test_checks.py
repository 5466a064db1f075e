"""The exercise checks' comparison and feedback, on the pandas side alone (the Flink side is
exercised against the real skeletons and solutions in test_exercises.py and test_ladder_candles.py)."""

import pandas as pd
import pytest

from workbook.course import datasets
from workbook.course.checks_candles import VOLUME_COLUMNS, compare, expected_result, normalize
from workbook.course.references.candles import reference_candlesticks, reference_volumes


@pytest.fixture(scope="module")
def trades():
    return datasets.check_trades()


@pytest.fixture(scope="module")
def candles(trades):
    return reference_candlesticks(trades)


@pytest.fixture(scope="module")
def volumes(trades):
    return reference_volumes(trades)


def test_dataset_has_disorder_and_ties_but_no_late_trades(trades):
    ts = [t["timestamp"] for t in trades]
    assert any(b < a for a, b in zip(ts, ts[1:])), "arrival order differs from event time"
    assert len(ts) != len(set(ts)), "same-millisecond ties"
    # and disorder changes open/close somewhere: the lesson of notebook 5 is visible in the data
    by_arrival = reference_candlesticks(trades, by_arrival=True)
    assert (by_arrival["price_open"] != reference_candlesticks(trades)["price_open"]).any()


def test_reference_passes_itself_and_matches_the_stored_output(candles, volumes):
    assert compare("candlesticks", candles) == []
    assert compare("volumes", volumes) == []
    pd.testing.assert_frame_equal(normalize(candles), normalize(expected_result("candlesticks")))


def test_boundary_trade_opens_the_next_window():
    t = {"exchange": "x", "base": "bitcoin", "quote": "tether", "direction": "buy", "volume": 1.0, "priceUsd": None}
    trades = [dict(t, price=1.0, timestamp=1_735_689_659_999), dict(t, price=2.0, timestamp=1_735_689_660_000)]
    c = reference_candlesticks(trades)
    assert list(c["ts_start"].astype(str)) == ["2025-01-01 00:00:00", "2025-01-01 00:01:00"]
    assert list(c["price_open"]) == [1.0, 2.0]


def test_feedback_wrong_columns(volumes):
    got = volumes.rename(columns={"volume_buy": "bought"})
    (msg,) = compare("volumes", got)
    assert "missing ['volume_buy']" in msg and "unexpected ['bought']" in msg


def test_feedback_buy_sell_swapped(volumes):
    got = volumes.rename(columns={"volume_buy": "volume_sell", "volume_sell": "volume_buy"})[VOLUME_COLUMNS]
    assert compare("volumes", got) == [
        "buy and sell are swapped: volume_buy must sum the volume of the trades with direction = 'buy', "
        "volume_sell those with direction = 'sell'."
    ]


def test_feedback_missing_pair(volumes):
    got = volumes[volumes["currency_pair"] != "solana / tether"]
    (msg,) = compare("volumes", got)
    assert msg.startswith("missing currency pairs: ['solana / tether']")


def test_feedback_pair_without_spaces(volumes):
    got = volumes.assign(currency_pair=volumes["currency_pair"].str.replace(" / ", "/"))
    assert "expected 'base / quote' with spaces" in compare("volumes", got)[0]


def test_feedback_windows_off_by_one(volumes):
    got = volumes.assign(
        ts_start=volumes["ts_start"] + pd.Timedelta(minutes=1), ts_end=volumes["ts_end"] + pd.Timedelta(minutes=1)
    )
    assert compare("volumes", got)[0].startswith("windows off by one: every window starts one minute too late")


def test_feedback_open_close_by_arrival(trades):
    got = reference_candlesticks(trades, by_arrival=True)
    found = compare("candlesticks", got)
    assert [p.split(" follows")[0] for p in found] == ["price_open", "price_close"], found
    assert all("arrival order" in p for p in found)


def test_feedback_wrong_value_and_type(candles):
    got = candles.assign(price_max=candles["price_max"] * 1.01)
    (msg,) = compare("candlesticks", got)
    assert msg.startswith(f"price_max: {len(candles)} of {len(candles)} rows differ")
    got = candles.assign(num_trades=candles["num_trades"].astype(float) / 2)
    assert "whole number" in compare("candlesticks", got)[0]

"""The exercise checks' comparison and feedback, on the pandas side alone
(the Flink side is exercised against the real skeletons and solutions in
test_exercises.py)."""
import pandas as pd
import pytest

from workbook.course import checks


@pytest.fixture(scope="module")
def trades():
    return checks.check_trades()


@pytest.fixture(scope="module")
def candles(trades):
    return checks.reference_candlesticks(trades)


@pytest.fixture(scope="module")
def volumes(trades):
    return checks.reference_volumes(trades)


def test_dataset_has_disorder_and_ties_but_no_late_trades(trades):
    ts = [t["timestamp"] for t in trades]
    assert any(b < a for a, b in zip(ts, ts[1:])), "arrival order differs from event time"
    assert len(ts) != len(set(ts)), "same-millisecond ties"
    # and disorder changes open/close somewhere: the lesson of notebook 5 is visible in the data
    by_arrival = checks.reference_candlesticks(trades, by_arrival=True)
    assert (by_arrival["price_open"] != checks.reference_candlesticks(trades)["price_open"]).any()


def test_reference_passes_itself(candles, volumes, trades):
    assert checks.compare(candles, candles, trades) == []
    assert checks.compare(volumes, volumes, trades) == []
    assert "correct" in checks.verdict(volumes, volumes, trades, "volumes")


def test_boundary_trade_opens_the_next_window():
    t = {"exchange": "x", "base": "bitcoin", "quote": "tether", "direction": "buy", "volume": 1.0, "priceUsd": None}
    trades = [dict(t, price=1.0, timestamp=1_735_689_659_999), dict(t, price=2.0, timestamp=1_735_689_660_000)]
    c = checks.reference_candlesticks(trades)
    assert list(c["ts_start"].astype(str)) == ["2025-01-01 00:00:00", "2025-01-01 00:01:00"]
    assert list(c["price_open"]) == [1.0, 2.0]


def test_feedback_wrong_columns(volumes, trades):
    got = volumes.rename(columns={"volume_buy": "bought"})
    (msg,) = checks.compare(got, volumes, trades)
    assert "missing ['volume_buy']" in msg and "unexpected ['bought']" in msg


def test_feedback_buy_sell_swapped(volumes, trades):
    got = volumes.rename(columns={"volume_buy": "volume_sell", "volume_sell": "volume_buy"})[checks.VOLUME_COLUMNS]
    assert checks.compare(got, volumes, trades) == [
        "buy and sell are swapped: volume_buy must sum the volume of trades with direction = 'buy'."]


def test_feedback_missing_pair(volumes, trades):
    got = volumes[volumes["currency_pair"] != "solana / tether"]
    (msg,) = checks.compare(got, volumes, trades)
    assert msg.startswith("missing currency pairs: ['solana / tether']")


def test_feedback_pair_without_spaces(volumes, trades):
    got = volumes.assign(currency_pair=volumes["currency_pair"].str.replace(" / ", "/"))
    assert "expected 'base / quote' with spaces" in checks.compare(got, volumes, trades)[0]


def test_feedback_windows_off_by_one(volumes, trades):
    got = volumes.assign(ts_start=volumes["ts_start"] + pd.Timedelta(minutes=1),
                         ts_end=volumes["ts_end"] + pd.Timedelta(minutes=1))
    assert checks.compare(got, volumes, trades)[0].startswith("windows off by one: every window starts one minute too late")


def test_feedback_open_close_by_arrival(candles, trades):
    got = checks.reference_candlesticks(trades, by_arrival=True)
    assert "follow arrival order (FIRST_VALUE/LAST_VALUE)" in checks.compare(got, candles, trades)[0]


def test_feedback_wrong_value_and_type(candles, trades):
    got = candles.assign(price_max=candles["price_max"] * 1.01)
    (msg,) = checks.compare(got, candles, trades)
    assert msg.startswith(f"price_max: {len(candles)} of {len(candles)} rows differ")
    got = candles.assign(num_trades=candles["num_trades"].astype(float))
    assert "whole number" in checks.compare(got, candles, trades)[0]
    with pytest.raises(checks.CheckFailed, match="candlesticks: not yet"):
        checks.verdict(got, candles, trades, "candlesticks")

"""The rates stream (producer/rates.py, producer.synthetic.generate_rates): a pure function of the synthetic
market that agrees with its trades, the replay rule, and the producer writing both topics into the embedded
broker (integration)."""

from __future__ import annotations

import bisect
import collections
import gzip
import json

import pytest

from producer import SAMPLE_FILE
from producer.rates import RatesFromTrades, rates_from_trades, with_rates
from producer.synthetic import DEFAULT_START_MS, generate_rates, generate_trades, rate_value

START = DEFAULT_START_MS


def test_generate_rates_is_deterministic_and_a_prefix_of_a_longer_run():
    short = list(generate_rates(seed=3, start_ms=START, duration_s=120))
    assert short == list(generate_rates(seed=3, start_ms=START, duration_s=120))
    longer = list(generate_rates(seed=3, start_ms=START, duration_s=300))
    assert longer[: len(short)] == short and len(longer) > len(short)
    assert short != list(generate_rates(seed=4, start_ms=START, duration_s=120))
    assert [r["timestamp"] for r in short] == sorted(r["timestamp"] for r in short)
    assert set(short[0]) == {"asset", "rate_usd", "timestamp"}


def test_every_asset_at_least_every_5_s_and_usd_is_one():
    rates = list(generate_rates(seed=3, start_ms=START, duration_s=120))
    by = collections.defaultdict(list)
    for r in rates:
        by[r["asset"]].append(r)
    assert set(by) == {"bitcoin", "ethereum", "euro", "solana", "tether", "united-states-dollar", "xrp"}
    for asset, rs in by.items():
        times = [r["timestamp"] for r in rs]
        assert times[0] == START and max(b - a for a, b in zip(times, times[1:])) <= 5_000, asset
    assert {r["rate_usd"] for r in by["united-states-dollar"]} == {1.0}


def test_rates_agree_with_the_trades_price_usd():
    """price x the quote's rate as of the trade is its priceUsd within the spread, basis and impact (< 0.5%)."""
    trades = list(generate_trades(seed=5, start_ms=START, duration_s=180))
    rates = collections.defaultdict(list)
    for r in generate_rates(seed=5, start_ms=START, duration_s=180):
        rates[r["asset"]].append(r)
    worst = 0.0
    for t in trades:
        if t["priceUsd"] is None:
            continue
        rs = rates[t["quote"]]
        i = bisect.bisect_right([r["timestamp"] for r in rs], t["timestamp"]) - 1
        worst = max(worst, abs(t["price"] * rs[i]["rate_usd"] / t["priceUsd"] - 1))
    assert 0 < worst < 0.005


def test_generate_rates_leaves_the_trades_as_they_were():
    before = list(generate_trades(seed=9, start_ms=START, count=2000))
    list(generate_rates(seed=9, start_ms=START, duration_s=60))
    assert list(generate_trades(seed=9, start_ms=START, count=2000)) == before


def test_replay_rule_follows_usd_pricer():
    rule = RatesFromTrades(keep_alive_ms=5_000)
    t = {"base": "bitcoin", "quote": "tether", "price": 95_000.0, "timestamp": START}
    assert rule(t) == [
        {"asset": "tether", "rate_usd": 1.0, "timestamp": START},
        {"asset": "bitcoin", "rate_usd": 95_000.0, "timestamp": START},
    ]
    assert rule(dict(t, price=95_000.0, timestamp=START + 100)) == []  # unchanged: nothing new
    euro = rule({"base": "tether", "quote": "euro", "price": 0.92, "timestamp": START + 200})
    assert euro == [{"asset": "euro", "rate_usd": rate_value(1 / 0.92), "timestamp": START + 200}]
    assert rule({"base": "ethereum", "quote": "bitcoin", "price": 0.03, "timestamp": START + 300}) == []
    later = rule({"base": "ethereum", "quote": "bitcoin", "price": 0.03, "timestamp": START + 6_000})
    assert {r["asset"] for r in later} == {"tether", "bitcoin", "euro"}  # kept alive: 5 s without a record
    assert rule({"base": None, "quote": "tether", "price": 1.0, "timestamp": START + 7_000}) == []


def test_with_rates_merges_by_time_and_ends_with_the_trades():
    trades = [{"timestamp": 10}, {"timestamp": 20}]
    rates = ({"asset": "x", "timestamp": ms} for ms in range(0, 10**9, 5))
    merged = [x["timestamp"] for x in with_rates(iter(trades), rates)]
    assert merged == [0, 5, 10, 10, 15, 20, 20]


@pytest.mark.integration
@pytest.mark.parametrize("client", ("kafka-python", "confluent"))
def test_synthetic_writes_trades_and_rates(stack, client):
    from test_producer_kafka import fresh_topic, produce, read_topic

    topic, rates_topic, n = fresh_topic("trades"), fresh_topic("rates"), 3000
    counts = produce(
        stack,
        *("--source", "synthetic", "--seed", 11, "--start-ms", START, "--speed", "max", "--max-trades", n),
        *("--topic", topic, "--rates-topic", rates_topic, "--client", client),
    )
    trades = list(generate_trades(seed=11, start_ms=START, count=n))
    last = trades[-1]["timestamp"]
    expected = [r for r in generate_rates(seed=11, start_ms=START, duration_s=(last - START) / 1000 + 1)]
    expected = [r for r in expected if r["timestamp"] <= last]
    assert counts["sent"] == n and counts["rates"] == {"received": len(expected), "sent": len(expected), "failed": 0}
    got = read_topic(stack, rates_topic, len(expected))
    assert [json.loads(v) for _, _, v in got] == expected
    assert [k.decode() for _, k, _ in got] == [r["asset"] for r in expected]
    assert [json.loads(v) for _, _, v in read_topic(stack, topic, n)] == trades  # the trades as before


@pytest.mark.integration
def test_replay_writes_rates_derived_from_the_trades(stack):
    from test_producer_kafka import fresh_topic, produce, read_topic

    topic, rates_topic, n = fresh_topic("replay"), fresh_topic("replay-rates"), 2000
    with gzip.open(SAMPLE_FILE, "rt") as f:
        trades = [json.loads(next(f)) for _ in range(n)]
    counts = produce(
        stack,
        *("--source", "replay", "--file", SAMPLE_FILE, "--speed", "max", "--max-trades", n),
        *("--topic", topic, "--rates-topic", rates_topic),
    )
    expected = rates_from_trades(trades)
    assert counts["sent"] == n and counts["rates"]["sent"] == len(expected) > 0
    assert [json.loads(v) for _, _, v in read_topic(stack, rates_topic, len(expected))] == expected


@pytest.mark.integration
def test_no_rates_and_dry_run_write_none(stack):
    from test_producer_kafka import fresh_topic, produce, topic_exists

    topic, rates_topic = fresh_topic("norates"), fresh_topic("norates-rates")
    counts = produce(
        stack,
        "--source",
        "synthetic",
        "--speed",
        "max",
        "--max-trades",
        50,
        "--topic",
        topic,
        "--rates-topic",
        rates_topic,
        "--no-rates",
    )
    assert counts["sent"] == 50 and "rates" not in counts and not topic_exists(stack, rates_topic)

"""Bad inputs against the Flink processor: a trade far in the future must not hold the
event-time clock (watermark) hostage; values Flink reads but no trade has (Infinity, NaN,
overflowing products, an empty currency) and unreadable records anywhere in a partition get
a reason in bad_records, with exact counts; the unreadable-records count writes a row only
when it changes (no churn in --dry-run).

Every test writes its own topic and PostgreSQL schema (helpers of flinkutil.py).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid

import pytest
from flinkutil import DELAY, MINUTE, read_table, run_bounded, scratch_schema, streaming_job, trade, write_in_batches

from workbook import kafka, pipeline
from workbook.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

YEAR = 365 * 24 * 3600 * 1000
AHEAD = "timestamp ahead of the clock"


# --- watermark poisoning ----------------------------------------------------------------------------


def poisoned_stream(now_ms: int):
    """3 minutes of trades, one trade a year ahead (and one 10 minutes ahead on another pair),
    3 more minutes; then one trade that moves the watermark past the 6th minute (a streaming
    job writes a window when the watermark passes its end). All in the past but the two."""
    rng = random.Random(3)
    t0 = (now_ms - 20 * MINUTE) // MINUTE * MINUTE
    pairs = [("bitcoin", "tether"), ("ethereum", "euro")]
    first = [trade(rng, b, q, t0 + k * 2_000) for k in range(90) for b, q in pairs]  # minutes 0..2
    future = [
        trade(rng, "bitcoin", "tether", now_ms + YEAR),
        trade(rng, "ethereum", "euro", now_ms + 10 * MINUTE),
    ]
    later = [trade(rng, b, q, t0 + 3 * MINUTE + k * 2_000) for k in range(90) for b, q in pairs]  # minutes 3..5
    closer = [trade(rng, "bitcoin", "tether", t0 + 6 * MINUTE + DELAY + 1)]
    expected = {(t0 + m * MINUTE, f"{b} / {q}"): 30 for m in range(6) for b, q in pairs}
    return t0, first + future + later + closer, expected


def check_poisoning_results(stack, schema, t0, expected):
    candles = read_table(stack, schema, "candlesticks")
    got = {(r.ts_start, r.currency_pair): r.num_trades for r in candles.itertuples() if r.ts_start < t0 + 6 * MINUTE}
    assert got == expected, candles
    assert (candles["ts_start"] < t0 + 7 * MINUTE).all(), "a window in the future was written"
    assert read_table(stack, schema, "late_trades").empty
    bad = read_table(stack, schema, "bad_records")
    assert [(r.problem, r.num_records, r.last_offset) for r in bad.itertuples()] == [(AHEAD, 2, 181)]


def test_a_trade_far_ahead_does_not_poison_a_bounded_run(stack):
    t0, records, expected = poisoned_stream(int(time.time() * 1000))
    topic = f"test-poison-{uuid.uuid4().hex[:10]}"
    try:
        with scratch_schema(stack) as schema:
            write_in_batches(stack, topic, records)
            result = run_bounded(stack, topic, schema)
            assert result.status == "FINISHED"
            check_poisoning_results(stack, schema, t0, expected)
            got = read_table(stack, schema, "candlesticks")  # the end of a bounded run closes every window
            assert got[got["ts_start"] == t0 + 6 * MINUTE]["num_trades"].tolist() == [1]
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def test_a_trade_far_ahead_does_not_poison_a_streaming_run(stack):
    t0, records, expected = poisoned_stream(int(time.time() * 1000))
    topic = f"test-poison-{uuid.uuid4().hex[:10]}"
    try:
        with scratch_schema(stack) as schema, streaming_job(stack, topic, schema, partitions=1):
            write_in_batches(stack, topic, records)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if len(read_table(stack, schema, "candlesticks")) >= 12 and len(
                    read_table(stack, schema, "bad_records")
                ):
                    break
                time.sleep(0.5)
            time.sleep(1)  # anything wrong (a bogus window, late trades) would be written by now too
            check_poisoning_results(stack, schema, t0, expected)
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


# --- values Flink reads but no trade has, and unreadable records at the edges -------------------------


def bad_values_stream(t0: int):
    """(records, expected bad_records rows {problem: (count, last offset)}, expected candles {minute: n})."""
    rng = random.Random(7)
    good = lambda ts: trade(rng, "bitcoin", "tether", ts, price=100.0, volume=1.0)  # noqa: E731
    raw = lambda **kw: json.dumps(  # noqa: E731
        dict(
            {
                "base": "bitcoin",
                "quote": "tether",
                "direction": "buy",  # noqa: E731
                "price": 100.0,
                "volume": 1.0,
                "timestamp": t0 + 30_000,
            },
            **kw,
        )
    )
    records = ["not JSON at the start", "[1, 2]"]  # 0, 1
    records += [good(t0 + k * 1_000) for k in range(20)]  # 2..21
    records += [
        raw(price="1e400").replace('"1e400"', "1e400"),  # 22: read as Infinity
        raw(price="NaN"),  # 23: read as NaN
        raw(price=1e200, volume=1e200),  # 24: product overflows
        raw(price=1e308, volume=1e308),  # 25
        raw(base=""),  # 26: pair ' / tether'
        raw(quote="  "),  # 27
        "garbage",
        "42",
        "",  # 28, 29, 30
        raw(timestamp=int(time.time() * 1000) + YEAR),
    ]  # 31
    records += [good(t0 + 40_000 + k * 1_000) for k in range(30)]  # 32..61
    records += ["{truncated", "[3]"]  # 62, 63
    expected_bad = {
        "not a JSON object": (7, 63),
        "price or volume not a finite number": (2, 23),
        "price, volume or their product above 1e300": (2, 25),
        "empty base or quote": (2, 27),
        AHEAD: (1, 31),
    }
    return records, expected_bad, {t0: 40, t0 + MINUTE: 10}


@pytest.fixture(scope="module")
def bad_values(stack):
    t0 = 1_735_776_000_000  # 2025-01-02 00:00 UTC
    records, expected_bad, expected_candles = bad_values_stream(t0)
    topic = f"test-badvalues-{uuid.uuid4().hex[:10]}"
    write_in_batches(stack, topic, records)
    yield topic, records, expected_bad, expected_candles
    kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def test_bad_values_get_a_reason_and_exact_counts(stack, bad_values):
    topic, _, expected_bad, expected_candles = bad_values
    with scratch_schema(stack) as schema:
        for _ in range(2):  # a second run leaves the same counts (the edges are not added twice)
            run_bounded(stack, topic, schema)
            bad = read_table(stack, schema, "bad_records")
            assert {r.problem: (r.num_records, r.last_offset) for r in bad.itertuples()} == expected_bad
            assert set(bad["kafka_partition"]) == {0}
            candles = read_table(stack, schema, "candlesticks")
            assert dict(zip(candles["ts_start"], candles["num_trades"], strict=True)) == expected_candles
            assert (candles["price_max"] == 100.0).all() and (candles["price_avg"] == 100.0).all()
            assert set(candles["currency_pair"]) == {"bitcoin / tether"}


def test_dry_run_prints_results_not_bookkeeping(stack, bad_values):
    """--dry-run prints the candlesticks and volumes, and a bad_records row only when a count
    changes (not one update per trade, as the unreadable-records count used to)."""
    topic, _, expected_bad, _ = bad_values
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "workbook.processor", "--bounded", "--dry-run", "--solutions", "--topic", topic],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    candles = [ln for ln in lines if ln.startswith("candlesticks>")]
    volumes = [ln for ln in lines if ln.startswith("volumes>")]
    bad = [ln for ln in lines if ln.startswith("bad_records>")]
    assert len(candles) == 2 and len(volumes) == 2, out.stdout
    # inserts and updates of the counts as they change: 5 problems, 'not a JSON object' in the middle
    # (3 records: one row), at the edges (printed once at the end); no -U/+U per trade
    assert 5 <= len(bad) <= 12, "\n".join(bad)
    assert not any("+U[0, not a JSON object, 0," in ln for ln in bad)
    assert any(ln.startswith("bad_records> partition 0: 4 record(s)") for ln in bad), "\n".join(bad)


def test_a_bounded_run_over_an_empty_topic_says_so(stack):
    """`python -m workbook.processor --bounded` on a topic with no trades ran for ~30 s and wrote nothing, saying
    only '(0 records)': it now says the topic is empty and how to fill it."""
    topic = f"empty-{uuid.uuid4().hex[:8]}"
    kafka.write_records(stack.kafka_bootstrap_servers, topic, [])
    said = []
    result = pipeline.run(pipeline.RunOptions(bounded=True, dry_run=True, topic=topic), stack, say=said.append)
    assert result.num_records == 0
    assert f"NOTE: the topic '{topic}' on {stack.kafka_bootstrap_servers} is empty: this bounded run has no trades" in (
        "\n".join(said)
    ), said
    assert "Start the trade stream with `python -m workbook up --stream`" in "\n".join(said)

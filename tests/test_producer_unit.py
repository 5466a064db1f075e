"""The producer without Kafka: symbol table, priceUsd rule, record validation,
the synthetic market, replay files, recording and the command line (--dry-run)."""
from __future__ import annotations

import gzip
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

from producer import SAMPLE_FILE  # noqa: E402
from producer.assets import UsdPricer, asset_id, split_symbol  # noqa: E402
from producer.record import FIELDS, Rejected, iso_to_ms, make_trade, seconds_to_ms, validate_record  # noqa: E402
from producer.synthetic import DEFAULT_START_MS, generate_trades  # noqa: E402

SAMPLE_COUNT = 30_000  # as documented in data/README.md
SAMPLE_SEED = 42


def run_producer(*args, timeout=60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "producer", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_ROOT, **kw)


def counts_of(stderr: str) -> dict:
    line = [ln for ln in stderr.splitlines() if ln.startswith("counts: ")][-1]
    return json.loads(line[len("counts: "):])


def lines_of(stdout: str) -> list[dict]:
    return [json.loads(ln) for ln in stdout.splitlines() if ln.strip()]


# --- symbols and priceUsd -------------------------------------------------------

def test_asset_ids_and_unknown_symbols_lowercased():
    assert asset_id("BTC") == asset_id("XBT") == asset_id("btc") == "bitcoin"
    assert asset_id("USDT") == "tether" and asset_id("USD") == "united-states-dollar" and asset_id("EUR") == "euro"
    assert asset_id("PENGU") == "pengu"  # unknown: lower-cased, never dropped


@pytest.mark.parametrize("symbol,parts", [
    ("BTCUSDT", ("BTC", "USDT")), ("ethbtc", ("eth", "btc")), ("BTC-USD", ("BTC", "USD")),
    ("XBT/EUR", ("XBT", "EUR")), ("FDUSDUSDT", ("FDUSD", "USDT")), ("btcusd", ("btc", "usd")),
    ("PENGUUSDC", ("PENGU", "USDC")), ("NOSUCHPAIR", None),
])
def test_split_symbol(symbol, parts):
    assert split_symbol(symbol) == parts


def test_price_usd_rule():
    p = UsdPricer()
    assert p("ethereum", "bitcoin", 0.035) is None  # no bitcoin/USD trade seen yet
    assert p("bitcoin", "tether", 95000.0) == 95000.0  # USD stablecoin quote: the price
    assert p("ethereum", "bitcoin", 0.035) == 0.035 * 95000.0  # x latest bitcoin/USD
    assert p("bitcoin", "united-states-dollar", 96000.0) == 96000.0
    assert p("ethereum", "bitcoin", 0.035) == 0.035 * 96000.0  # the latest one
    assert p("xrp", "euro", 2.0) is None
    assert p("tether", "euro", 0.96) == 1.0  # a USD-like base prices the quote by inversion
    assert p("xrp", "euro", 2.0) == 2.0 * (1 / 0.96)


# --- the record -------------------------------------------------------------------

def test_make_trade_and_rejections():
    r = make_trade("x", "bitcoin", "tether", "buy", "95000.5", "0.01", 1735689600000)
    assert r == {"exchange": "x", "base": "bitcoin", "quote": "tether", "direction": "buy", "price": 95000.5,
                 "volume": 0.01, "timestamp": 1735689600000, "priceUsd": None}
    assert tuple(r) == FIELDS
    cases = [
        (dict(price=0), "non-positive price"), (dict(price="-1"), "non-positive price"),
        (dict(price="abc"), "invalid price"), (dict(price=float("nan")), "invalid price"),
        (dict(price=math.inf), "invalid price"), (dict(volume=0), "non-positive volume"),
        (dict(volume=None), "invalid volume"), (dict(side="hold"), "unknown side"), (dict(side="BUY"), "unknown side"),
        (dict(ts=-5), "invalid timestamp"), (dict(ts="1735689600000"), "invalid timestamp"),
    ]
    for change, reason in cases:
        args = dict(price=1.0, volume=1.0, side="sell", ts=1735689600000) | change
        with pytest.raises(Rejected) as e:
            make_trade("x", "a", "b", args["side"], args["price"], args["volume"], args["ts"])
        assert e.value.reason == reason, change


def test_validate_record_and_time_parsing():
    ok = {"exchange": "e", "base": "b", "quote": "q", "direction": "sell", "price": 2, "volume": 3,
          "timestamp": 1651687003450.0, "priceUsd": "x", "extra": 1}
    assert validate_record(ok) == {"exchange": "e", "base": "b", "quote": "q", "direction": "sell", "price": 2.0,
                                   "volume": 3.0, "timestamp": 1651687003450, "priceUsd": None}
    with pytest.raises(Rejected, match="missing field"):
        validate_record({k: v for k, v in ok.items() if k != "volume"})
    assert iso_to_ms("2021-04-17T16:43:37.089723Z") == 1618677817089
    assert iso_to_ms("2025-01-01T00:00:01Z") == 1735689601000
    assert seconds_to_ms("1618678133.123999") == 1618678133123
    assert seconds_to_ms("1618678133") == 1618678133000


# --- the synthetic market ------------------------------------------------------------

def test_synthetic_is_deterministic_and_prefix_stable():
    a = list(generate_trades(seed=7, start_ms=DEFAULT_START_MS, count=3000))
    assert a == list(generate_trades(seed=7, start_ms=DEFAULT_START_MS, count=3000))
    assert a[:500] == list(generate_trades(seed=7, start_ms=DEFAULT_START_MS, count=500))
    assert a != list(generate_trades(seed=8, start_ms=DEFAULT_START_MS, count=3000))
    shifted = list(generate_trades(seed=7, start_ms=DEFAULT_START_MS + 1000, count=3000))
    assert [dict(r, timestamp=r["timestamp"] - 1000) for r in shifted] == a
    by_duration = list(generate_trades(seed=7, start_ms=DEFAULT_START_MS, duration_s=90))
    assert by_duration and all(r["timestamp"] < DEFAULT_START_MS + 90_000 for r in by_duration)
    assert by_duration == a[:len(by_duration)]


def test_synthetic_market_is_realistic():
    hour = list(generate_trades(seed=SAMPLE_SEED, start_ms=DEFAULT_START_MS, duration_s=3600))
    for r in hour[:2000]:
        assert validate_record(r) == r
    ts = [r["timestamp"] for r in hour]
    assert ts == sorted(ts)
    markets = Counter((r["exchange"], r["base"], r["quote"]) for r in hour)
    assert len({(b, q) for _, b, q in markets}) >= 6 and len({e for e, _, _ in markets}) >= 3
    for m, n in markets.items():
        assert 0.3 <= n / 3600 <= 6, (m, n / 3600)  # a few trades per second per market
    btc = [r for r in hour if (r["base"], r["quote"]) == ("bitcoin", "tether")]
    assert all(60_000 < r["price"] < 130_000 for r in btc)
    eth_btc = [r["price"] for r in hour if (r["base"], r["quote"]) == ("ethereum", "bitcoin")]
    assert all(0.02 < p < 0.05 for p in eth_btc)
    assert 0.3 < sum(r["direction"] == "buy" for r in hour) / len(hour) < 0.7
    notional = sorted(r["volume"] * r["priceUsd"] for r in btc)
    median = notional[len(notional) // 2]
    assert 50 < median < 5000 and notional[-1] / median > 100  # heavy tail
    # Poisson arrivals: gaps of one market have coefficient of variation ~1
    gaps = [b["timestamp"] - a["timestamp"] for a, b in zip(btc, btc[1:])]
    mean = sum(gaps) / len(gaps)
    sd = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
    assert 0.8 < sd / mean < 1.2
    # priceUsd: USD(-like) quotes carry the price; others follow the rule (never null after the start)
    assert all(r["priceUsd"] == r["price"] for r in hour if r["quote"] in ("tether", "united-states-dollar"))
    assert all(r["priceUsd"] is not None for r in hour[200:])


def test_synthetic_buy_pressure_moves_the_price():
    trades = list(generate_trades(seed=3, start_ms=DEFAULT_START_MS, duration_s=4 * 3600,
                                  pairs=["binance:bitcoin/tether"]))
    flow, first, last = defaultdict(float), {}, {}
    for r in trades:
        minute = r["timestamp"] // 60_000
        flow[minute] += r["volume"] if r["direction"] == "buy" else -r["volume"]
        first.setdefault(minute, r["price"])
        last[minute] = r["price"]
    xs = [flow[m] for m in sorted(flow)]
    ys = [math.log(last[m] / first[m]) for m in sorted(flow)]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    corr = cov / (sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5
    assert corr > 0.25, corr  # per-minute bought-sold volume vs. price change (the lab's exercise)


def test_synthetic_pairs_selection():
    trades = list(generate_trades(seed=1, count=500, pairs=["BTC/USDT", "kraken:xrp/euro", "doge/tether"]))
    assert {(r["exchange"], r["base"], r["quote"]) for r in trades} == {
        ("binance", "bitcoin", "tether"), ("kraken", "xrp", "euro"), ("synthetic", "dogecoin", "tether")}


def test_shipped_sample_is_the_documented_generation():
    assert SAMPLE_FILE.stat().st_size < 2_000_000
    with gzip.open(SAMPLE_FILE, "rt") as f:
        records = [json.loads(line) for line in f]
    assert len(records) == SAMPLE_COUNT
    assert records == list(generate_trades(seed=SAMPLE_SEED, start_ms=DEFAULT_START_MS, count=SAMPLE_COUNT))


# --- command line, dry run ------------------------------------------------------------

def test_cli_synthetic_dry_run_stdout_is_records_only(tmp_path):
    rec = tmp_path / "rec.jsonl.gz"
    p = run_producer("--source", "synthetic", "--seed", 5, "--start-ms", DEFAULT_START_MS, "--speed", "max",
                     "--max-trades", 1000, "--dry-run", "--record", rec)
    assert p.returncode == 0, p.stderr
    out = lines_of(p.stdout)
    assert out == list(generate_trades(seed=5, start_ms=DEFAULT_START_MS, count=1000))
    with gzip.open(rec, "rt") as f:
        assert [json.loads(x) for x in f] == out
    c = counts_of(p.stderr)
    assert (c["received"], c["sent"], c["skipped"], c["failed"], c["recorded"]) == (1000, 1000, 0, 0, 1000)
    m = subprocess.run([sys.executable, "-m", "producer", "--help"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert m.returncode == 0 and "--source" in m.stdout and "--rebase-time" in m.stdout


def _write(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_replay_file_with_bad_lines(tmp_path, suffix):
    good = list(generate_trades(seed=2, count=50))
    lines = [json.dumps(r) for r in good]
    lines[10:10] = ["{not json", json.dumps(dict(good[0], price=-1)), json.dumps(dict(good[0], direction="x")),
                    json.dumps({k: v for k, v in good[0].items() if k != "timestamp"}), ""]
    f = _write(tmp_path / f"t{suffix}", lines)
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert lines_of(p.stdout) == good
    c = counts_of(p.stderr)
    assert c["received"] == 54 and c["sent"] == 50
    assert c["skipped_reasons"] == {"malformed JSON": 1, "non-positive price": 1, "unknown side": 1,
                                    "missing field": 1}


def test_replay_loop_rebase_and_speed(tmp_path):
    recs = list(generate_trades(seed=2, start_ms=DEFAULT_START_MS, count=40))  # spans a few seconds
    f = _write(tmp_path / "t.jsonl", [json.dumps(r) for r in recs])
    span = recs[-1]["timestamp"] - recs[0]["timestamp"]
    # --loop: passes follow each other in time
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--loop", "--max-trades", 100, "--dry-run")
    out = lines_of(p.stdout)
    assert len(out) == 100
    ts = [r["timestamp"] for r in out]
    assert ts == sorted(ts) and ts[40] > ts[39]
    assert [dict(r, timestamp=0) for r in out[40:80]] == [dict(r, timestamp=0) for r in recs]
    # --rebase-time: looks live; --speed 10 takes span/10 of wall time
    t = time.time()
    p = run_producer("--source", "replay", "--file", f, "--speed", 10, "--rebase-time", "--dry-run")
    took = time.time() - t
    out = lines_of(p.stdout)
    assert abs(out[0]["timestamp"] - t * 1000) < 5000
    assert out[-1]["timestamp"] - out[0]["timestamp"] == pytest.approx(span / 10, abs=2)
    assert took >= span / 10 / 1000 * 0.9
    assert [dict(r, timestamp=0) for r in out] == [dict(r, timestamp=0) for r in recs]


def test_sigterm_flushes_and_reports(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "producer", "--source", "synthetic", "--speed", "50", "--dry-run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    c = counts_of(err)
    assert c["sent"] == len(lines_of(out)) > 10
    assert "interrupted" in err


def test_unreachable_broker_exits_nonzero_in_bounded_time():
    t = time.monotonic()
    p = run_producer("--source", "synthetic", "--max-trades", 10, "--bootstrap-servers", "127.0.0.1:9",
                     "--broker-timeout", 2, env={**os.environ})
    assert p.returncode == 3
    assert time.monotonic() - t < 15
    assert "unreachable" in p.stderr and "python -m workbook up" in p.stderr
    assert "counts:" not in p.stderr  # nothing was reported as sent

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
import zlib
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
    return subprocess.run(
        [sys.executable, "-m", "producer", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        **kw,
    )


def counts_of(stderr: str) -> dict:
    line = [ln for ln in stderr.splitlines() if ln.startswith("counts: ")][-1]
    return json.loads(line[len("counts: ") :])


def lines_of(stdout: str) -> list[dict]:
    return [json.loads(ln) for ln in stdout.splitlines() if ln.strip()]


# --- symbols and priceUsd -------------------------------------------------------


def test_asset_ids_and_unknown_symbols_lowercased():
    assert asset_id("BTC") == asset_id("XBT") == asset_id("btc") == "bitcoin"
    assert asset_id("USDT") == "tether" and asset_id("USD") == "united-states-dollar" and asset_id("EUR") == "euro"
    assert asset_id("PENGU") == "pengu"  # unknown: lower-cased, never dropped


@pytest.mark.parametrize(
    "symbol,parts",
    [
        ("BTCUSDT", ("BTC", "USDT")),
        ("ethbtc", ("eth", "btc")),
        ("BTC-USD", ("BTC", "USD")),
        ("XBT/EUR", ("XBT", "EUR")),
        ("FDUSDUSDT", ("FDUSD", "USDT")),
        ("btcusd", ("btc", "usd")),
        ("PENGUUSDC", ("PENGU", "USDC")),
        ("NOSUCHPAIR", None),
    ],
)
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
    assert r == {
        "exchange": "x",
        "base": "bitcoin",
        "quote": "tether",
        "direction": "buy",
        "price": 95000.5,
        "volume": 0.01,
        "timestamp": 1735689600000,
        "priceUsd": None,
    }
    assert tuple(r) == FIELDS
    cases = [
        (dict(price=0), "non-positive price"),
        (dict(price="-1"), "non-positive price"),
        (dict(price="abc"), "invalid price"),
        (dict(price=float("nan")), "invalid price"),
        (dict(price=math.inf), "invalid price"),
        (dict(volume=0), "non-positive volume"),
        (dict(volume=None), "invalid volume"),
        (dict(side="hold"), "unknown side"),
        (dict(side="BUY"), "unknown side"),
        (dict(ts=-5), "invalid timestamp"),
        (dict(ts="1735689600000"), "invalid timestamp"),
    ]
    for change, reason in cases:
        args = dict(price=1.0, volume=1.0, side="sell", ts=1735689600000) | change
        with pytest.raises(Rejected) as e:
            make_trade("x", "a", "b", args["side"], args["price"], args["volume"], args["ts"])
        assert e.value.reason == reason, change


def test_validate_record_and_time_parsing():
    ok = {
        "exchange": "e",
        "base": "b",
        "quote": "q",
        "direction": "sell",
        "price": 2,
        "volume": 3,
        "timestamp": 1651687003450.0,
        "priceUsd": "x",
        "extra": 1,
    }
    assert validate_record(ok) == {
        "exchange": "e",
        "base": "b",
        "quote": "q",
        "direction": "sell",
        "price": 2.0,
        "volume": 3.0,
        "timestamp": 1651687003450,
        "priceUsd": None,
    }
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
    assert by_duration == a[: len(by_duration)]


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
    trades = list(
        generate_trades(seed=3, start_ms=DEFAULT_START_MS, duration_s=4 * 3600, pairs=["binance:bitcoin/tether"])
    )
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
        ("binance", "bitcoin", "tether"),
        ("kraken", "xrp", "euro"),
        ("synthetic", "dogecoin", "tether"),
    }


def test_shipped_sample_is_the_documented_generation():
    assert SAMPLE_FILE.stat().st_size < 2_000_000
    with gzip.open(SAMPLE_FILE, "rt") as f:
        records = [json.loads(line) for line in f]
    assert len(records) == SAMPLE_COUNT
    assert records == list(generate_trades(seed=SAMPLE_SEED, start_ms=DEFAULT_START_MS, count=SAMPLE_COUNT))


# --- command line, dry run ------------------------------------------------------------


def test_cli_synthetic_dry_run_stdout_is_records_only(tmp_path):
    rec = tmp_path / "rec.jsonl.gz"
    p = run_producer(
        "--source",
        "synthetic",
        "--seed",
        5,
        "--start-ms",
        DEFAULT_START_MS,
        "--speed",
        "max",
        "--max-trades",
        1000,
        "--dry-run",
        "--record",
        rec,
    )
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
    lines[10:10] = [
        "{not json",
        json.dumps(dict(good[0], price=-1)),
        json.dumps(dict(good[0], direction="x")),
        json.dumps({k: v for k, v in good[0].items() if k != "timestamp"}),
        "",
    ]
    f = _write(tmp_path / f"t{suffix}", lines)
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert lines_of(p.stdout) == good
    c = counts_of(p.stderr)
    assert c["received"] == 54 and c["sent"] == 50
    assert c["skipped_reasons"] == {"malformed JSON": 1, "non-positive price": 1, "unknown side": 1, "missing field": 1}


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
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer", "--source", "synthetic", "--speed", "50", "--dry-run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    c = counts_of(err)
    assert c["sent"] == len(lines_of(out)) > 10
    assert "interrupted" in err


def test_unreachable_broker_exits_nonzero_in_bounded_time():
    t = time.monotonic()
    p = run_producer(
        "--source",
        "synthetic",
        "--max-trades",
        10,
        "--bootstrap-servers",
        "127.0.0.1:9",
        "--broker-timeout",
        2,
        env={**os.environ},
    )
    assert p.returncode == 3
    assert time.monotonic() - t < 15
    assert "unreachable" in p.stderr and "python -m workbook up" in p.stderr
    assert "counts:" not in p.stderr  # nothing was reported as sent


# --- bad inputs: a clear message, nothing lost ----------------------------------------


def _gz_records(n: int, seed: int = 3) -> tuple[list[dict], bytes]:
    recs = list(generate_trades(seed=seed, start_ms=DEFAULT_START_MS, count=n))
    return recs, gzip.compress(("\n".join(json.dumps(r) for r in recs) + "\n").encode(), mtime=0)


def _readable_prefix(data: bytes) -> bytes:
    """What zlib can decompress of a damaged gzip stream, independently of the producer."""
    return zlib.decompressobj(wbits=31).decompress(data)


@pytest.mark.parametrize("cut", ["middle", "trailer"])
def test_truncated_gz_replay_sends_every_readable_record(tmp_path, cut):
    recs, data = _gz_records(5000)
    keep = len(data) // 2 if cut == "middle" else len(data) - 4  # "trailer": every record whole, CRC/size cut
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[:keep])
    text = _readable_prefix(data[:keep])
    whole = text.count(b"\n")
    partial = 1 if not text.endswith(b"\n") else 0
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--dry-run")
    assert p.returncode == 4, p.stderr
    assert "Traceback" not in p.stderr
    assert lines_of(p.stdout) == recs[:whole]  # every readable record, in order
    assert f"replay file {f} is truncated after {whole} complete lines" in p.stderr
    assert f"Sent the {whole} records read before it" in p.stderr
    c = counts_of(p.stderr)
    assert (c["received"], c["sent"], c["skipped"], c["failed"]) == (whole + partial, whole, partial, 0)
    if partial:
        assert c["skipped_reasons"] == {"incomplete last line of a truncated file": 1}
    else:
        assert whole == len(recs)


def test_gz_replay_with_trailing_garbage_is_corrupt_after_the_records(tmp_path):
    recs, data = _gz_records(300)
    f = tmp_path / "junk.jsonl.gz"
    f.write_bytes(data + b"this is not gzip")
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--dry-run")
    assert p.returncode == 4, p.stderr
    assert "Traceback" not in p.stderr and f"replay file {f} is corrupt after 300 complete lines" in p.stderr
    assert lines_of(p.stdout) == recs
    c = counts_of(p.stderr)
    assert (c["received"], c["sent"], c["skipped"]) == (300, 300, 0)


def test_replay_file_whose_name_and_content_disagree_about_gzip(tmp_path):
    recs, data = _gz_records(20)
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    p = run_producer("--source", "replay", "--file", plain, "--speed", "max", "--dry-run")
    assert p.returncode == 2, p.stderr
    assert f"replay file {plain} is not gzip-compressed" in p.stderr and "rename it without .gz" in p.stderr
    assert "Traceback" not in p.stderr and "counts:" not in p.stderr and p.stdout == ""
    packed = tmp_path / "packed.jsonl"
    packed.write_bytes(data)
    p = run_producer("--source", "replay", "--file", packed, "--speed", "max", "--dry-run")
    assert p.returncode == 2, p.stderr
    assert "rename it to packed.jsonl.gz" in p.stderr and p.stdout == ""


@pytest.mark.parametrize(
    "args,message",
    [
        (["--speed", "nan", "--rebase-time"], "argument --speed: 'nan': give a positive number"),
        (["--speed", "inf", "--rebase-time"], "argument --speed: 'inf': for no pauses between trades give 'max'"),
        (["--speed", "1e999"], "argument --speed: '1e999': for no pauses between trades give 'max'"),
        (["--speed", "-2"], "argument --speed: '-2': give a positive number"),
        (
            ["--speed", "0"],
            "argument --speed: 0 would mean no progress at all: for no pauses between trades give 'max'",
        ),
        (["--speed", "fast"], "argument --speed: 'fast' is not a number"),
        (["--max-trades", "-1"], "argument --max-trades: -1 is less than 0"),
        (["--partitions", "0"], "argument --partitions: 0 is less than 1: a topic needs at least one partition"),
        (["--retention-ms", "0"], "argument --retention-ms: 0 would delete records at once"),
        (["--start-ms", "1735689600"], "argument --start-ms: epoch milliseconds between 2009 and 2286"),
        (["--ping-interval", "0"], "argument --ping-interval: '0': give a positive number of seconds"),
        (["--flush-timeout", "nan"], "argument --flush-timeout: 'nan': give a non-negative number of seconds"),
    ],
)
def test_bad_numeric_arguments_are_refused(args, message):
    p = run_producer("--source", "synthetic", "--max-trades", 5, "--dry-run", *args)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert "Traceback" not in p.stderr and "counts:" not in p.stderr and p.stdout == ""


def test_max_trades_zero_sends_nothing():
    p = run_producer("--source", "synthetic", "--max-trades", 0, "--dry-run")
    assert p.returncode == 0 and p.stdout == ""
    assert counts_of(p.stderr)["sent"] == 0


def test_speed_max_is_the_way_to_say_no_pauses():
    p = run_producer(
        "--source", "synthetic", "--speed", "MAX", "--start-ms", DEFAULT_START_MS, "--max-trades", 50, "--dry-run"
    )
    assert p.returncode == 0 and len(lines_of(p.stdout)) == 50


def test_record_into_a_missing_folder_is_refused_before_sending(tmp_path):
    target = tmp_path / "no" / "such" / "rec.jsonl.gz"
    p = run_producer("--source", "synthetic", "--max-trades", 5, "--dry-run", "--record", target)
    assert p.returncode == 2, p.stderr
    assert f"the folder {target.parent} does not exist; create it first (mkdir -p {target.parent})" in p.stderr
    assert p.stdout == "" and "counts:" not in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "no").exists()  # not created behind the user's back
    p = run_producer("--source", "synthetic", "--max-trades", 5, "--dry-run", "--record", tmp_path)
    assert p.returncode == 2 and f"--record {tmp_path} is a folder" in p.stderr and p.stdout == ""


def test_record_onto_the_replay_file_is_refused(tmp_path):
    data = _gz_records(30)[1]
    f = tmp_path / "r.jsonl.gz"
    f.write_bytes(data)
    p = run_producer("--source", "replay", "--file", f, "--dry-run", "--record", f)
    assert p.returncode == 2 and "is the replay file itself" in p.stderr and p.stdout == ""
    assert f.read_bytes() == data  # untouched


def _ts_records(now_ms: int) -> tuple[list[dict], dict]:
    """Five records around now: one in seconds, one in microseconds, one a year ahead."""
    recs = list(generate_trades(seed=4, count=6))
    for i, r in enumerate(recs):
        r["timestamp"] = now_ms - 10_000 + i
    recs[1]["timestamp"] //= 1000
    recs[2]["timestamp"] *= 1000
    recs[3]["timestamp"] += 365 * 86_400_000
    return recs, {"seconds": recs[1], "micro": recs[2], "future": recs[3]}


def test_implausible_and_far_future_timestamps_are_said_and_counted(tmp_path):
    recs, bad = _ts_records(int(time.time() * 1000))
    f = _write(tmp_path / "ts.jsonl", [json.dumps(r) for r in recs])
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--dry-run")
    assert p.returncode == 0, p.stderr
    # seconds and microseconds: not sent, counted; the year-ahead trade: sent (the processor rejects it), counted
    assert lines_of(p.stdout) == [r for r in recs if r not in (bad["seconds"], bad["micro"])]
    c = counts_of(p.stderr)
    assert (c["received"], c["sent"], c["skipped"], c["warned"]) == (6, 4, 2, 1)
    assert c["skipped_reasons"] == {"timestamp before 2009": 1, "timestamp after 2286": 1}
    assert c["warned_reasons"] == {"timestamp ahead of the clock": 1}
    src = f"replay ({f})"
    assert f"{src}: skipped (timestamp before 2009): line 2: {bad['seconds']['timestamp']} ms = 1970-" in p.stderr
    assert "seconds instead of milliseconds?" in p.stderr and "microseconds instead of milliseconds?" in p.stderr
    assert f"{src}: trade 3153" in p.stderr and "ahead of this machine's clock" in p.stderr
    assert json.dumps(bad["future"], separators=(",", ":")) in p.stderr  # the example record
    assert "1 trade(s) were sent more than 60 s ahead of this machine's clock" in p.stderr


def test_synthetic_at_max_speed_runs_ahead_and_says_so():
    n = 3000  # about 160 s of market from now: the last ~100 s are more than 60 s ahead
    p = run_producer("--source", "synthetic", "--speed", "max", "--max-trades", n, "--dry-run")
    assert p.returncode == 0, p.stderr
    out = lines_of(p.stdout)
    assert len(out) == n
    c = counts_of(p.stderr)
    now = time.time() * 1000
    ahead = sum(r["timestamp"] > now + 60_000 for r in out)
    assert c["sent"] == n and abs(c["warned"] - ahead) <= 200  # the trades of the seconds between the two clocks
    assert c["warned"] > 1000 and "give --start-ms in the past, or --speed 1" in p.stderr
    q = run_producer(
        "--source", "synthetic", "--speed", "max", "--max-trades", n, "--dry-run", "--start-ms", int(now) - 3_600_000
    )
    assert counts_of(q.stderr)["warned"] == 0 and "ahead of this machine's clock" not in q.stderr


def test_zero_partitions_from_the_environment_is_refused():
    p = run_producer(
        "--source", "synthetic", "--max-trades", 5, "--dry-run", env={**os.environ, "KAFKA_TOPIC_PARTITIONS": "0"}
    )
    assert p.returncode == 2
    assert "environment: KAFKA_TOPIC_PARTITIONS=0: expected a whole number, 1-10000" in p.stderr
    assert p.stdout == "" and "counts:" not in p.stderr


def test_damaged_gz_data_is_corrupt_not_a_traceback(tmp_path):
    recs, data = _gz_records(5000)
    damaged = bytearray(data)
    for i in range(len(data) // 2, len(data) // 2 + 64):
        damaged[i] ^= 0xFF
    f = tmp_path / "damaged.jsonl.gz"
    f.write_bytes(bytes(damaged))
    p = run_producer("--source", "replay", "--file", f, "--speed", "max", "--dry-run")
    assert p.returncode == 4, p.stderr
    assert "Traceback" not in p.stderr and f"replay file {f} is corrupt after" in p.stderr
    out = lines_of(p.stdout)
    assert 0 < len(out) < len(recs) and out == recs[: len(out)]  # the records before the damage, exactly
    c = counts_of(p.stderr)
    assert c["received"] == c["sent"] + c["skipped"] and c["sent"] == len(out)

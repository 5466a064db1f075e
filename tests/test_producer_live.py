"""Live exchange sources of the producer against real local websocket servers
(127.0.0.1, the `websockets` package) that speak each exchange's documented
format, from the fixtures in tests/fixtures/producer/<source>.json; plus the
adapters over real exchange captures in tests/fixtures/exchange-captures/
when that folder exists (skipped otherwise). No Kafka needed: --dry-run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from websockets.asyncio.server import serve

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "producer"
CAPTURES = Path(__file__).resolve().parent / "fixtures" / "exchange-captures"  # with their licence
LIVE = ("binance", "coinbase", "kraken", "bitstamp", "coincap", "gemini")

from producer.record import Skip  # noqa: E402
from producer.sources import LIVE_SOURCES  # noqa: E402


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class WsServer:
    """A websocket server on 127.0.0.1 in a background thread.

    `plan(index)` says what connection number `index` (0, 1, ...) gets:
    {"subscribe": n messages to read first, "send": [text, ...],
     "then": "hold" | "drop" (TCP close, no websocket close) | "close" (close frame)
             | "silent" (stop reading: no pong, nothing sent)}.
    """

    def __init__(self, plan):
        self.plan = plan
        self.received: list[list] = []  # per connection: the client's messages
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop = None
        self.port = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handler(self, ws):
        index = self.connections
        self.connections += 1
        got: list = []
        self.received.append(got)
        plan = self.plan(index)
        for _ in range(plan.get("subscribe", 0)):
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        for text in plan.get("send", []):
            await ws.send(text)
        then = plan.get("then", "hold")
        if then == "drop":
            await asyncio.sleep(0.05)  # let the data reach the socket, then cut the TCP connection
            ws.transport.close()
        elif then == "close":
            await ws.close()
        elif then == "silent":
            ws.transport.pause_reading()
            await self._stop.wait()
            ws.transport.abort()
        else:
            await ws.wait_closed()

    def _run(self):
        asyncio.set_event_loop(self._loop)

        async def main():
            self._stop = asyncio.Event()
            async with serve(self._handler, "127.0.0.1", 0, ping_interval=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(main())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def run_producer(*args, timeout=30, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "producer", *map(str, args)]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}
    )


def counts_of(stderr: str) -> dict:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("counts: ")]
    assert lines, f"no counts line in stderr:\n{stderr}"
    return json.loads(lines[-1][len("counts: ") :])


def records_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def binance_btc(server, *more) -> list:
    """The producer's arguments for BTC/USDT from the local Binance `server`, printed (--dry-run), and `more`."""
    return ["--source", "binance", "--url", server.url, "--pairs", "BTC/USDT", "--dry-run", *more]


# --- the adapters, in process -------------------------------------------------


@pytest.mark.parametrize("name", LIVE)
def test_adapter_normalizes_fixture(name):
    fx = load_fixture(name)
    source = LIVE_SOURCES[name](pairs=fx["pairs"])
    assert source.subscribe_messages() == fx["subscribe"]
    records, skipped, ignored = [], {}, 0
    for text in fx["messages"]:
        items = source.handle(text)
        if not items:
            ignored += 1
        for item in items:
            if isinstance(item, Skip):
                skipped[item.reason] = skipped.get(item.reason, 0) + 1
            else:
                records.append(item)
    assert records == fx["expected"]
    assert skipped == fx["skipped"]
    assert ignored == fx["ignored"]
    for r in records:
        assert list(r) == ["exchange", "base", "quote", "direction", "price", "volume", "timestamp", "priceUsd"]


# --- each live source against a local server, through the CLI ----------------


@pytest.mark.parametrize("name", LIVE)
def test_live_source_against_local_server(name):
    fx = load_fixture(name)
    plan = {"subscribe": len(fx["subscribe"]), "send": fx["messages"], "then": "hold"}
    with WsServer(lambda i: plan) as server:
        args = ["--source", name, "--url", server.url, "--dry-run", "--max-trades", len(fx["expected"])]
        if fx["pairs"]:
            args += ["--pairs", *fx["pairs"]]
        proc = run_producer(*args)
    assert proc.returncode == 0, proc.stderr
    assert records_of(proc.stdout) == fx["expected"]
    assert server.received[0] == fx["subscribe"]
    counts = counts_of(proc.stderr)
    n_skipped = sum(fx["skipped"].values())
    assert counts["received"] == len(fx["expected"]) + n_skipped
    assert counts["sent"] == len(fx["expected"])
    assert counts["skipped_reasons"] == fx["skipped"]
    assert counts["failed"] == 0
    assert counts["ignored"] == fx["ignored"]


def _binance_trades(n: int, t0: int = 1735689600000) -> tuple[list[str], list[dict]]:
    msgs, expected = [], []
    for i in range(n):
        price, qty, maker = 94000 + i * 0.5, 0.001 * (i + 1), i % 3 == 0
        msgs.append(
            json.dumps(
                {
                    "e": "trade",
                    "E": t0 + i * 10 + 1,
                    "s": "BTCUSDT",
                    "t": 1000 + i,
                    "p": f"{price:.8f}",
                    "q": f"{qty:.8f}",
                    "T": t0 + i * 10,
                    "m": maker,
                    "M": True,
                }
            )
        )
        expected.append(
            {
                "exchange": "binance",
                "base": "bitcoin",
                "quote": "tether",
                "direction": "sell" if maker else "buy",
                "price": float(f"{price:.8f}"),
                "volume": float(f"{qty:.8f}"),
                "timestamp": t0 + i * 10,
                "priceUsd": float(f"{price:.8f}"),
            }
        )
    return msgs, expected


def test_reconnect_after_drop_mid_stream():
    msgs, expected = _binance_trades(40)
    ack = json.dumps({"result": None, "id": 1})
    plans = [
        {"subscribe": 1, "send": [ack] + msgs[:15], "then": "drop"},
        {"subscribe": 1, "send": [ack] + msgs[15:27], "then": "close"},
        {"subscribe": 1, "send": [ack] + msgs[27:], "then": "hold"},
    ]
    with WsServer(lambda i: plans[min(i, 2)]) as server:
        proc = run_producer(*binance_btc(server, "--max-trades", 40, "--backoff", 0.1))
    assert proc.returncode == 0, proc.stderr
    assert records_of(proc.stdout) == expected  # exact: nothing lost, nothing repeated
    assert server.connections == 3
    sub = {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}
    assert server.received == [[sub], [sub], [sub]]  # resubscribed after each reconnect
    assert len(re.findall(r"reconnecting to ws://127\.0\.0\.1:\d+: attempt 1", proc.stderr)) == 2
    counts = counts_of(proc.stderr)
    assert (counts["received"], counts["sent"], counts["skipped"], counts["ignored"]) == (40, 40, 0, 3)


def test_silent_connection_is_detected_by_heartbeat():
    msgs, expected = _binance_trades(3)
    plans = [{"subscribe": 1, "send": [], "then": "silent"}, {"subscribe": 1, "send": msgs, "then": "hold"}]
    with WsServer(lambda i: plans[min(i, 1)]) as server:
        t = time.monotonic()
        proc = run_producer(
            *binance_btc(server, "--max-trades", 3, "--ping-interval", 0.3, "--ping-timeout", 0.3, "--backoff", 0.1)
        )
        took = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr
    assert records_of(proc.stdout) == expected
    assert "is silent" in proc.stderr
    assert server.connections == 2
    assert took < 10


def test_backoff_grows_with_jitter_and_is_capped():
    import random

    from producer.sources.base import backoff_delay

    rng = random.Random(1)
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 30.0), (30, 30.0)]:
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1  # jitter


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_then_stop(args: list, after_s: float) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer", *map(str, args)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(after_s)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err


def test_unreachable_exchange_keeps_retrying_says_so_and_exits_nonzero():
    # a port with nothing listening: connection refused, retried with backoff until SIGTERM
    url = f"ws://127.0.0.1:{_free_port()}"
    code, out, err = _run_then_stop(["--source", "kraken", "--url", url, "--dry-run", "--backoff", "0.05"], 2.5)
    assert code == 4, err  # nothing was ever received
    assert len(re.findall(r"reconnecting to .*: attempt \d+", err)) >= 5  # kept retrying after the message
    assert (
        f"kraken: 5 connection attempts in a row to {url} delivered nothing (last: cannot connect: "
        "[Errno 111] Connection refused): the exchange or the network is unreachable"
    ) in err
    assert f"kraken ({url}): nothing received in " in err and "the exchange or the network is unreachable" in err
    assert "Traceback" not in err and out == ""
    counts = counts_of(err)
    assert counts["received"] == 0 and counts["sent"] == 0
    assert "interrupted" in err


def test_exchange_that_accepts_but_sends_nothing_is_told_apart():
    with WsServer(lambda i: {"subscribe": 1, "send": [], "then": "drop"}) as server:
        code, out, err = _run_then_stop(binance_btc(server, "--backoff", "0.05"), 3.0)
    assert server.connections >= 5
    assert code == 4, err
    assert "5 connection attempts in a row" in err and "the exchange accepts connections but sends nothing" in err
    assert counts_of(err)["received"] == 0 and out == ""


def test_stopping_a_live_source_that_delivered_exits_zero():
    msgs, expected = _binance_trades(3)
    with WsServer(lambda i: {"subscribe": 1, "send": msgs, "then": "hold"}) as server:
        code, out, err = _run_then_stop(binance_btc(server), 2.5)
    assert code == 0, err
    assert records_of(out) == expected
    assert counts_of(err)["sent"] == 3 and "nothing received" not in err


def test_live_timestamps_in_seconds_or_far_ahead_are_said_and_counted():
    msgs, expected = _binance_trades(6, t0=int(time.time() * 1000) - 5000)
    seconds = json.loads(msgs[1])
    seconds["T"] //= 1000
    msgs[1] = json.dumps(seconds)
    ahead = json.loads(msgs[3])
    ahead["T"] += 3_600_000  # an hour ahead of the clock
    msgs[3] = json.dumps(ahead)
    expected[3]["timestamp"] = ahead["T"]
    with WsServer(lambda i: {"subscribe": 1, "send": msgs, "then": "hold"}) as server:
        proc = run_producer(*binance_btc(server, "--max-trades", 5))
    assert proc.returncode == 0, proc.stderr
    assert records_of(proc.stdout) == expected[:1] + expected[2:]  # the hour-ahead trade is sent, counted
    counts = counts_of(proc.stderr)
    assert (counts["received"], counts["sent"], counts["skipped"], counts["warned"]) == (6, 5, 1, 1)
    assert counts["skipped_reasons"] == {"timestamp before 2009": 1}
    src = f"binance ({server.url})"
    # which source, why, and the message it came in
    assert f"{src}: skipped (timestamp before 2009): {seconds['T']} ms = 1970-" in proc.stderr
    assert "seconds instead of milliseconds?" in proc.stderr and f'"T": {seconds["T"]}' in proc.stderr
    m = re.search(re.escape(src) + r": trade (\d+) s ahead of this machine's clock", proc.stderr)
    assert m and 3580 <= int(m.group(1)) <= 3600, proc.stderr
    assert "check this machine's clock and the exchange's times" in proc.stderr


# --- real exchange captures (tests/fixtures/exchange-captures) -------------------


def _capture_messages(filename: str) -> list[str]:
    """Messages the exchange sent (lines 'TIME: MESSAGE'; skips our own 'URL <- TIME: ...')."""
    out = []
    for line in (CAPTURES / filename).read_text().splitlines():
        if not line.strip() or " <- " in line.split(": ", 1)[0]:
            continue
        out.append(line.split(": ", 1)[1])
    return out


def _run_adapter(name: str, messages: list[str]):
    source = LIVE_SOURCES[name]()
    records, skips = [], []
    for text in messages:
        for item in source.handle(text):
            (skips if isinstance(item, Skip) else records).append(item)
    return records, skips


def test_capture_binance():
    msgs = _capture_messages("binance-aggtrades.log")
    records, skips = _run_adapter("binance", msgs)
    raw = [json.loads(m)["data"] for m in msgs if m.strip().startswith("{")]
    trades = [d for d in raw if d.get("e") in ("trade", "aggTrade")]
    assert len(records) == len(trades) > 0
    for r, d in zip(records, trades):
        assert r["direction"] == ("sell" if d["m"] else "buy")
        assert (r["price"], r["volume"], r["timestamp"]) == (float(d["p"]), float(d["q"]), d["T"])
    assert {(r["base"], r["quote"]) for r in records} >= {("nkn", "tether"), ("loopring", "bitcoin")}
    assert all(s.reason == "malformed JSON" for s in skips)  # the capture has one empty line


def test_capture_coinbase():
    msgs = _capture_messages("coinbase-matches.log")
    records, skips = _run_adapter("coinbase", msgs)
    matches = [json.loads(m) for m in msgs]
    matches = [m for m in matches if m.get("type") == "match"]
    assert not skips
    assert len(records) == len(matches) > 50
    for r, m in zip(records, matches):
        assert r["direction"] == {"sell": "buy", "buy": "sell"}[m["side"]]  # side is the maker's
        assert (r["price"], r["volume"]) == (float(m["price"]), float(m["size"]))
    assert ("skale-network", "bitcoin") in {(r["base"], r["quote"]) for r in records}
    # the priceUsd rule: SKL-BTC gets a USD price once a BTC-USD(-like) trade was seen, else null
    assert all(r["priceUsd"] == r["price"] for r in records if r["quote"] == "united-states-dollar")


def test_capture_bitstamp():
    msgs = _capture_messages("bitstamp-live-trades.log")
    records, skips = _run_adapter("bitstamp", msgs)
    trades = [json.loads(m) for m in msgs]
    trades = [t["data"] for t in trades if t.get("event") == "trade"]
    assert not skips
    assert len(records) == len(trades) > 0
    for r, t in zip(records, trades):
        assert r["direction"] == ("buy" if t["type"] == 0 else "sell")
        assert r["timestamp"] == int(t["microtimestamp"]) // 1000
        assert (r["base"], r["quote"]) == ("ethereum", "united-states-dollar")


def test_capture_kraken_v1():
    msgs = _capture_messages("kraken-v1-trades.log")
    records, skips = _run_adapter("kraken", msgs)
    arrays = [json.loads(m) for m in msgs]
    entries = [(a[-1], t) for a in arrays if isinstance(a, list) for t in a[1]]
    assert not skips
    assert len(records) == len(entries) > 0
    for r, (_pair, t) in zip(records, entries):
        assert r["direction"] == {"b": "buy", "s": "sell"}[t[3]]
        assert r["price"] == float(t[0]) and r["volume"] == float(t[1])
        whole, _, frac = t[2].partition(".")
        assert r["timestamp"] == int(whole) * 1000 + int((frac + "000")[:3])
    assert all(r["base"] != "xbt" and r["quote"] != "xbt" for r in records)  # XBT -> bitcoin


def test_capture_gemini_v2():
    msgs = _capture_messages("gemini-v2-trades.log")
    records, skips = _run_adapter("gemini", msgs)
    decoded = [json.loads(m) for m in msgs]
    trades = [d for d in decoded if d.get("type") == "trade"]  # live trades; l2_updates' history is ignored
    assert not skips
    assert len(records) == len(trades) > 0
    for r, t in zip(records, trades):
        assert r["direction"] == t["side"]  # the taker's side
        assert (r["price"], r["volume"], r["timestamp"]) == (float(t["price"]), float(t["quantity"]), t["timestamp"])
    assert ("filecoin", "united-states-dollar") in {(r["base"], r["quote"]) for r in records}


def test_capture_replayed_through_a_local_server():
    """The real Coinbase messages, served by a local websocket, through the CLI."""
    msgs = _capture_messages("coinbase-matches.log")
    expected, _ = _run_adapter("coinbase", msgs)
    with WsServer(lambda i: {"subscribe": 1, "send": msgs, "then": "hold"}) as server:
        proc = run_producer("--source", "coinbase", "--url", server.url, "--dry-run", "--max-trades", len(expected))
    assert proc.returncode == 0, proc.stderr
    assert records_of(proc.stdout) == expected

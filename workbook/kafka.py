"""Kafka access for the whole workbook, in one place: topics (create, list,
delete), writing records, reading them back, and a topic's true end offsets.
Records are keyed by `record_key` ('base/quote'), as the producer keys them, so
that one pair's trades stay in one partition, in order.

True end offsets are measured by reading.

Tansu 0.6.0 answers ListOffsets(latest) with the base offset of the last record
batch instead of last offset + 1 (667 records at 0..666 reported end 595), so
`KafkaConsumer.end_offsets()` and Flink's `scan.bounded.mode=latest-offset`
stop short of the final batch. We seek every partition to its reported end and
read what is there: a fetch always returns whole batches, so the first records
that come back hold the true end (last offset + 1). A partition that returns
nothing within `quiet_ms` ends where the broker says (always the case on
Apache Kafka, and for empty partitions). Records produced while we measure may
be included: the result is the end "as of now", never less.

assign() + seek(), no consumer group: a group takes ~20 s to join on Tansu.
"""

from __future__ import annotations

import time


def true_end_offsets(bootstrap_servers: str, topic: str, quiet_ms: int = 500, timeout_s: float = 30) -> dict:
    """{partition: end offset} where end = offset of the last record + 1 (0 if empty). KafkaUnavailable at
    once when no broker listens (the client itself would wait 30 s to say 'Unable to bootstrap')."""
    from kafka import KafkaConsumer, TopicPartition

    check_broker(bootstrap_servers, timeout_s=min(5.0, timeout_s), metadata=False)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=100,
        max_poll_records=1_000_000,
    )
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        patience = time.monotonic() + min(3.0, timeout_s)
        while not partitions and time.monotonic() < patience:
            time.sleep(0.1)  # metadata of a topic created a moment ago
            consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(
                f"topic {topic!r} does not exist on {bootstrap_servers} "
                "(is the producer running? `python -m workbook status`)"
            )
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = dict(consumer.end_offsets(tps))
        for tp in tps:
            consumer.seek(tp, ends[tp])
        pending = set(tps)
        quiet_until = time.monotonic() + quiet_ms / 1000
        while pending and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=100).items():
                if tp in pending and records:
                    ends[tp] = max(ends[tp], records[-1].offset + 1)
                    pending.discard(tp)
                    consumer.pause(tp)
            if time.monotonic() >= quiet_until:
                break  # the partitions still pending have nothing after the reported end
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        consumer.close()


def specific_offsets_option(ends: dict) -> str:
    """The value of Flink's `scan.bounded.specific-offsets` for these end offsets,
    e.g. 'partition:0,offset:667;partition:1,offset:0'."""
    return ";".join(f"partition:{p},offset:{o}" for p, o in sorted(ends.items()))


# --- topics and records ------------------------------------------------------------------------------


class KafkaUnavailable(RuntimeError):
    """The broker did not answer; the message says where and what to do."""


def record_key(record: dict) -> bytes | None:
    """The Kafka key of a trade record: 'base/quote' (the producer keys its records so)."""
    if record.get("base") is None or record.get("quote") is None:
        return None
    return f"{record['base']}/{record['quote']}".encode()


def _admin(bootstrap_servers: str, timeout_s: float = 10.0):
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(
            f"the Kafka broker at {bootstrap_servers} did not answer ({exc}). Start it with "
            "`python -m workbook up`, or set KAFKA_BOOTSTRAP_SERVERS in .env."
        ) from None


def check_broker(bootstrap_servers: str, timeout_s: float = 5.0, metadata: bool = True) -> None:
    """KafkaUnavailable within about `timeout_s` unless a broker of the list answers: at once
    when every address refuses the connection, else (`metadata`) after a metadata request."""
    import socket

    refused = []
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
            break
        except (OSError, ValueError) as exc:
            refused.append(f"{address.strip()}: {getattr(exc, 'strerror', None) or exc}")
    else:
        raise KafkaUnavailable(
            f"the Kafka broker at {bootstrap_servers} is unreachable ({'; '.join(refused)}). Start it with "
            "`python -m workbook up`, or set KAFKA_BOOTSTRAP_SERVERS in .env to where it runs."
        )
    if metadata:
        _admin(bootstrap_servers, timeout_s).close()


def list_topics(bootstrap_servers: str) -> list[str]:
    admin = _admin(bootstrap_servers)
    try:
        return sorted(admin.list_topics())
    finally:
        admin.close()


def create_topic(bootstrap_servers: str, topic: str, partitions: int = 1, retention_ms: int | None = None) -> bool:
    """Create `topic` unless it exists (the admin API; Tansu supports it); True when created."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    if partitions < 1:
        raise ValueError(f"a topic needs at least 1 partition, not {partitions}")
    configs = {"retention.ms": str(retention_ms)} if retention_ms else {}
    admin = _admin(bootstrap_servers)
    try:
        if topic in admin.list_topics():
            return False
        admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
        return True
    except TopicAlreadyExistsError:
        return False
    finally:
        admin.close()


def delete_topic(bootstrap_servers: str, topic: str) -> None:
    """Delete `topic` if the broker answers; a leftover scratch topic is harmless."""
    try:
        admin = _admin(bootstrap_servers, timeout_s=5.0)
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()
    except Exception:  # noqa: BLE001 - best effort clean-up
        pass


def write_records(
    bootstrap_servers: str, topic: str, records, partitions: int = 1, partition: int | None = None
) -> int:
    """Create `topic` and write `records` in order: dicts as JSON keyed by `record_key`,
    str/bytes as they are (bad records for tests). `partition` sends all to one partition.
    Returns the count, every record acknowledged by the broker."""
    import json

    from kafka import KafkaProducer

    create_topic(bootstrap_servers, topic, partitions)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers, linger_ms=20, batch_size=512 * 1024, max_request_size=16 * 1024 * 1024
    )
    futures = []
    try:
        for rec in records:
            key = None
            if isinstance(rec, dict):
                key = record_key(rec) if partition is None else None
                value = json.dumps(rec).encode()
            elif isinstance(rec, str):
                value = rec.encode()
            else:
                value = rec
            futures.append(producer.send(topic, key=key, value=value, partition=partition))
        producer.flush()
    finally:
        producer.close()
    for f in futures:
        f.get(timeout=30)
    return len(futures)


def fill_topic(bootstrap_servers: str, topic: str, records, partitions: int = 1) -> int:
    """Replace `topic`'s content with `records` (in list order); returns the count."""
    delete_topic(bootstrap_servers, topic)
    return write_records(bootstrap_servers, topic, records, partitions)


def _messages(bootstrap_servers: str, topic: str, idle_ms: int):
    """Every message of `topic`, in offset order per partition, until none comes for `idle_ms`.
    assign() + seek_to_beginning(): immediate, where a consumer group takes ~20 s to join on Tansu."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, consumer_timeout_ms=idle_ms)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        yield from consumer
    finally:
        consumer.close()


def read_topic(bootstrap_servers: str, topic: str, limit: int | None = None, idle_ms: int = 1000) -> list[dict]:
    """Every record of `topic` (or the first `limit`), decoded from JSON."""
    import json
    from itertools import islice

    return [json.loads(m.value) for m in islice(_messages(bootstrap_servers, topic, idle_ms), limit or None)]


def read_keyed(bootstrap_servers: str, topic: str, idle_ms: int = 1000) -> list[tuple]:
    """Every record of `topic` as (key, value), raw bytes (None for a missing key or a tombstone), in offset order
    per partition."""
    return [(m.key, m.value) for m in _messages(bootstrap_servers, topic, idle_ms)]

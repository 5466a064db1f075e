"""Where the records go: stdout (--dry-run) or Kafka, via kafka-python (default)
or confluent-kafka (--client confluent, librdkafka: several times faster).

A sink's `send(value, key)` takes bytes; it may raise BufferError when its
queue is full: call `wait_room()` and send again. Every sink counts `acked` (sent and acknowledged; for stdout: written) and
`failed` (delivery failed, or still unacknowledged when the final flush timed
out). Nothing counts as sent before the broker acknowledged it. A Kafka sink also counts `lost`:
records the broker acknowledged and then lost, because it restarted without them (the embedded broker keeps
its topics in memory only), seen when a partition's acknowledged offsets start again lower (`Restarts`).
"""

from __future__ import annotations

import collections
import functools
import logging
import sys
import time

log = logging.getLogger("producer.sink")

CLIENTS = ("kafka-python", "confluent")


class BrokerUnreachable(Exception):
    """No broker answered at the bootstrap address (exit status 3)."""


class TopicNotCreated(BrokerUnreachable):
    """The broker answered but would not create the topic; the message says what to do (exit status 3 too)."""


class Restarts:
    """Acknowledged offsets per partition. Offsets only grow while the broker keeps its log; an offset at or
    below the last one acknowledged means the broker restarted without the records before it (a memory-only
    broker starts its topics empty): what this producer had sent to that partition since the last restart,
    and the broker had acknowledged, is counted in `lost` and said once per restart. Records of other
    producers, and records lost without a later one to show it, cannot be counted here."""

    def __init__(self, label: str, noun: str = "trade(s)"):
        self.label = label  # the broker's address, in the warning
        self.noun = noun  # what the topic's records are, in the warning
        self.last: dict[int, int] = {}
        self.since: collections.Counter = collections.Counter()  # acknowledged per partition since its last restart
        self.lost = 0

    def acked(self, partition: int, offset: int) -> None:
        if offset <= self.last.get(partition, -1):
            lost = self.since.pop(partition, 0)
            self.lost += lost
            log.warning(
                "the broker at %s restarted: partition %d's offsets began again at %d (they had reached %d): the "
                "%d %s this producer had sent to it before, and the broker had acknowledged, were lost with "
                "it (a memory-only broker keeps nothing across a restart); sending goes on",
                self.label,
                partition,
                offset,
                self.last[partition],
                lost,
                self.noun,
            )
        self.last[partition] = offset
        self.since[partition] += 1


class StdoutSink:
    """--dry-run: one JSON object per line on stdout."""

    def __init__(self, stream=None):
        self.out = stream or sys.stdout.buffer
        self.acked = 0
        self.failed = 0
        self.lost = 0  # stdout loses nothing once written
        self.errors: collections.Counter = collections.Counter()
        self._last_flush = time.monotonic()

    def send(self, value: bytes, key: bytes) -> None:
        try:
            self.out.write(value + b"\n")
        except BrokenPipeError:
            self.failed += 1
            self.errors["stdout closed"] += 1
            raise
        self.acked += 1
        now = time.monotonic()
        if now - self._last_flush > 0.2:  # live view without a flush per line
            self.out.flush()
            self._last_flush = now

    def poll(self) -> None:
        pass

    def wait_room(self) -> None:
        pass

    def flush(self, timeout: float = 30.0) -> None:
        try:
            self.out.flush()
        except BrokenPipeError:
            pass

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)


class KafkaPythonSink:
    """kafka-python, tuned for throughput: 1 MiB batches, 20 ms linger, leader
    acks (acks=1; the embedded broker is a single node), no idempotence (it
    costs a third of the throughput in kafka-python). Acknowledgements are
    checked on the send futures, oldest first, without a callback per record.
    The partition of each key is computed once with kafka-python's default
    partitioner (murmur2, as Kafka's Java client) and cached: hashing every
    record in pure Python cost a quarter of the time."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        linger_ms: int = 20,
        batch_size: int = 1 << 20,
        acks=1,
        noun: str = "trade(s)",
    ):
        from kafka import KafkaProducer

        self.topic = topic
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id="trade-producer",
            acks=acks,
            enable_idempotence=False,
            linger_ms=linger_ms,
            batch_size=batch_size,
            max_request_size=8 << 20,
            retries=5,
            # one request at a time: a retried batch (the broker restarting) cannot land after a later one, so
            # acknowledged offsets only go back when the broker lost its log (Restarts)
            max_in_flight_requests_per_connection=1,
            delivery_timeout_ms=60_000,
            metrics_enabled=False,
            allow_auto_create_topics=False,
        )
        self.pending: collections.deque = collections.deque()
        self.restarts = Restarts(bootstrap_servers, noun)  # noun: what the topic's records are, in warnings
        self.acked = 0
        self.failed = 0
        self.errors: collections.Counter = collections.Counter()
        from kafka.partitioner.default import murmur2

        parts = sorted(self.producer.partitions_for(topic) or {0})
        partition_of: dict[bytes, int] = {}
        send = self.producer.send
        append = self.pending.append

        def send_record(value: bytes, key: bytes) -> None:
            p = partition_of.get(key)
            if p is None:
                p = partition_of[key] = parts[(murmur2(key) & 0x7FFFFFFF) % len(parts)]
            try:
                append(send(topic, value=value, key=key, partition=p))
            except Exception as e:  # noqa: BLE001 - e.g. KafkaTimeoutError when the buffer stays full
                self._fail(e)

        self.send = send_record

    def wait_room(self) -> None:
        pass

    def _fail(self, exc) -> None:
        self.failed += 1
        name = type(exc).__name__
        if self.errors[name] == 0:
            log.error("delivery failed: %s", exc)
        self.errors[name] += 1

    @property
    def lost(self) -> int:
        return self.restarts.lost

    def poll(self) -> None:
        pending = self.pending
        acked = self.restarts.acked
        while pending and pending[0].is_done:
            f = pending.popleft()
            if f.succeeded():
                self.acked += 1
                meta = f.value
                acked(meta.partition, meta.offset)
            else:
                self._fail(f.exception)

    def flush(self, timeout: float = 30.0) -> None:
        try:
            self.producer.flush(timeout=timeout)
        except Exception as e:  # noqa: BLE001 - KafkaTimeoutError: counted below as failed
            log.error("flush: %s", e)
        self.poll()

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        for _ in self.pending:  # never acknowledged
            self._fail(TimeoutError("not acknowledged before the producer stopped"))
        self.pending.clear()
        try:
            self.producer.close(timeout=1)
        except Exception:  # noqa: BLE001
            # kafka-python 3.0.12: close() raises from its own flush() on timeout and never reaches
            # its force-close, then retries in __del__ at exit: force-close the sender thread here
            sender = getattr(self.producer, "_sender", None)
            if sender is not None:
                sender.force_close()
            self.producer._closed = True


class ConfluentSink:
    """confluent-kafka (librdkafka): same tuning; a delivery callback per record."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        linger_ms: int = 20,
        batch_size: int = 1 << 20,
        acks=1,
        noun: str = "trade(s)",
    ):
        from confluent_kafka import Producer

        self.topic = topic
        self._error_logged: dict[str, float] = {}
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "client.id": "trade-producer",
                "acks": str(acks),
                "enable.idempotence": False,
                "linger.ms": linger_ms,
                "batch.size": batch_size,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 512 * 1024,
                "message.timeout.ms": 60_000,
                "max.in.flight.requests.per.connection": 1,  # no reordering on retries: see KafkaPythonSink
                "allow.auto.create.topics": False,
                "partitioner": "murmur2_random",  # same partition per key as Java and kafka-python clients
                "error_cb": self._client_error,
                # librdkafka's own log lines (a line per failed reconnect) go through Python logging
                "logger": logging.getLogger("producer.librdkafka"),
            }
        )
        self._poll = self.producer.poll
        self.restarts = Restarts(bootstrap_servers, noun)  # noun: what the topic's records are, in warnings
        self.acked = 0
        self.failed = 0
        self.errors: collections.Counter = collections.Counter()
        # send(value, key): the C method itself, no Python frame per record
        self.send = functools.partial(self.producer.produce, topic, on_delivery=self._delivered)

    def _client_error(self, err) -> None:
        """Connection-level errors (broker down, ...): logged once per kind per 30 s."""
        now = time.monotonic()
        name = err.name()
        if now - self._error_logged.get(name, -1e9) > 30:
            self._error_logged[name] = now
            log.warning("Kafka client: %s", err.str())

    @property
    def lost(self) -> int:
        return self.restarts.lost

    def _delivered(self, err, msg) -> None:
        if err is None:
            self.acked += 1
            self.restarts.acked(msg.partition(), msg.offset())
        else:
            self.failed += 1
            name = err.name()
            if self.errors[name] == 0:
                log.error("delivery failed: %s", err)
            self.errors[name] += 1

    def wait_room(self) -> None:
        """The local queue is full: serve delivery reports until it drains a bit."""
        self._poll(0.05)

    def poll(self) -> None:
        self._poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        left = self.producer.flush(timeout)
        if left:
            log.error("%d records still unacknowledged after %.0f s", left, timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        if len(self.producer):
            self.producer.purge()  # purged records come back as failed deliveries (callbacks)
            self.producer.flush(1)
            left = len(self.producer)
            if left:
                self.failed += left
                self.errors["not acknowledged"] += left


def ensure_topic(
    bootstrap_servers: str, topic: str, partitions: int, retention_ms: int, timeout_s: float = 30.0
) -> bool:
    """Create `topic` if missing (retention.ms set). True if created, False if it
    existed. Retries until the broker answers or `timeout_s` passes, then raises
    BrokerUnreachable.

    kafka-python's admin CreateTopics works against the embedded Tansu 0.6
    broker (tests/test_producer_kafka.py) as against Apache Kafka, so the
    admin API is the one way to create it.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        attempt += 1
        wait_ms = int(max(0.5, min(5.0, deadline - time.monotonic())) * 1000)
        try:  # 3.x raises KafkaTimeoutError("Unable to bootstrap ...") after bootstrap_timeout_ms
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap_servers.split(","),
                client_id="trade-producer-admin",
                request_timeout_ms=10_000,
                bootstrap_timeout_ms=wait_ms,
            )
            break
        except (KafkaError, OSError) as e:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerUnreachable(
                    f"Kafka broker at {bootstrap_servers} unreachable for {timeout_s:.0f} s ({e}). "
                    "Is the stack running? Start it with `python -m workbook up`, or pass "
                    "--bootstrap-servers HOST:PORT"
                ) from None
            log.warning(
                "Kafka broker at %s not reachable (attempt %d: %s); retrying for %.0f s more",
                bootstrap_servers,
                attempt,
                e,
                left,
            )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    try:
        try:
            if topic in admin.list_topics():
                return False
            admin.create_topics([NewTopic(topic, partitions, 1, topic_configs={"retention.ms": str(retention_ms)})])
            log.info("created topic %s (%d partitions, retention.ms=%d)", topic, partitions, retention_ms)
            return True
        except TopicAlreadyExistsError:
            return False
        except KafkaError as e:
            raise TopicNotCreated(
                f"the broker at {bootstrap_servers} refused to create topic {topic!r} ({e}): "
                f"create it yourself with {partitions} partition(s), or check the broker's log"
            ) from None
    finally:
        admin.close()


def make_sink(client: str, bootstrap_servers: str, topic: str, **kwargs):
    if client == "kafka-python":
        return KafkaPythonSink(bootstrap_servers, topic, **kwargs)
    if client == "confluent":
        return ConfluentSink(bootstrap_servers, topic, **kwargs)
    raise ValueError(f"unknown client {client!r}: use one of {', '.join(CLIENTS)}")

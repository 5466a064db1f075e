"""True end offsets of a topic, measured by reading.

Tansu 0.6.0 answers ListOffsets(latest) with the base offset of the last record
batch instead of last offset + 1, so `KafkaConsumer.end_offsets()` (and Flink's
`scan.bounded.mode=latest-offset`) stop short of the final batch. We seek to
the reported end and read on until nothing more arrives; on Apache Kafka this
reads nothing and returns the same numbers.
"""
from __future__ import annotations

import time


def true_end_offsets(bootstrap_servers: str, topic: str, quiet_ms: int = 300, timeout_s: float = 30) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=quiet_ms)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"topic {topic!r} does not exist on {bootstrap_servers}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=quiet_ms)
            if not batch:
                break
            for tp, records in batch.items():
                ends[tp] = max(ends[tp], records[-1].offset + 1)
        else:
            raise TimeoutError(f"topic {topic!r} kept growing for {timeout_s}s: no end to measure")
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        consumer.close()


def specific_offsets_option(ends: dict[int, int]) -> str:
    """The value of Flink's `scan.bounded.specific-offsets` for these end offsets."""
    return ";".join(f"partition:{p},offset:{o}" for p, o in sorted(ends.items()))

"""True end offsets of a topic, measured by reading.

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
    """{partition: end offset} where end = offset of the last record + 1 (0 if empty)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None,
                             fetch_max_wait_ms=100, max_poll_records=1_000_000)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        patience = time.monotonic() + min(3.0, timeout_s)
        while not partitions and time.monotonic() < patience:
            time.sleep(0.1)  # metadata of a topic created a moment ago
            consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"topic {topic!r} does not exist on {bootstrap_servers} "
                             "(is the producer running? `python -m workbook status`)")
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

"""The fixed trade datasets of the notebooks and exercise checks, and moving
them in and out of Kafka topics with kafka-python."""

from __future__ import annotations

from .. import kafka
from ..config import Config

SAMPLE_SEED = 42
SAMPLE_START_MS = 1_735_689_600_000  # 2025-01-01 00:00:00 UTC
SAMPLE_MINUTES = 30
SAMPLE_TOPIC = "workbook-sample"  # the notebooks' own topic: the live `trades` stream keeps changing


def sample_trades(minutes: int = SAMPLE_MINUTES, seed: int = SAMPLE_SEED) -> list[dict]:
    """The synthetic market's first `minutes` minutes: the same trades on every machine."""
    from producer.synthetic import generate_trades

    return list(generate_trades(seed=seed, start_ms=SAMPLE_START_MS, duration_s=minutes * 60))


def fill_topic(config: Config, topic: str, trades: list[dict], partitions: int = 1) -> int:
    """Replace `topic`'s content with `trades` (keyed by pair, in list order); returns the count
    (every record acknowledged by the broker)."""
    return kafka.fill_topic(config.kafka_bootstrap_servers, topic, trades, partitions)


def read_topic(config: Config, topic: str, limit: int | None = None, idle_ms: int = 1000) -> list[dict]:
    """Every record of `topic` (or the first `limit`), decoded from JSON."""
    return kafka.read_topic(config.kafka_bootstrap_servers, topic, limit, idle_ms)

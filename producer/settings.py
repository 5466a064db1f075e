"""The producer's settings, read by the producer itself so that it stands alone
(a copy of producer/ runs without the rest of the project).

Values come from, in order: the process environment, the `.env` file of the
project (the folder above producer/) or of the working directory, then the
defaults below, the original lab's. The names are the ones `.env.example`
documents and Docker Compose passes; tests/test_config.py checks that these
defaults equal the workbook's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "KAFKA_TOPIC": "trades",
    "KAFKA_TOPIC_PARTITIONS": "1",
    "KAFKA_RETENTION_MS": "600000",
    "PRODUCER_SOURCE": "synthetic",
}


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    kafka_topic: str
    kafka_topic_partitions: int
    kafka_retention_ms: int
    producer_source: str


def _env_file_values(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        from dotenv import dotenv_values  # parses .env the way Compose does
    except ImportError:  # the producer copied alone: KEY=VALUE lines are enough for our settings
        values = {}
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
        return values
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(env_file: Path | str | None = None) -> Settings:
    candidates = [Path(env_file)] if env_file else [Path(__file__).resolve().parent.parent / ".env", Path(".env")]
    from_file = next((v for v in map(_env_file_values, candidates) if v), {})
    raw = {name: os.environ.get(name, from_file.get(name, default)) for name, default in DEFAULTS.items()}
    try:
        partitions, retention = int(raw["KAFKA_TOPIC_PARTITIONS"]), int(raw["KAFKA_RETENTION_MS"])
    except ValueError:
        raise ValueError(
            f"KAFKA_TOPIC_PARTITIONS={raw['KAFKA_TOPIC_PARTITIONS']!r} and KAFKA_RETENTION_MS="
            f"{raw['KAFKA_RETENTION_MS']!r} must be whole numbers"
        ) from None
    return Settings(raw["KAFKA_BOOTSTRAP_SERVERS"], raw["KAFKA_TOPIC"], partitions, retention, raw["PRODUCER_SOURCE"])

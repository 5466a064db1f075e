"""The producer's settings, read by the producer itself so that it stands alone
(a copy of producer/ runs without the rest of the project).

Values come from, in order: the process environment, the `.env` file of the
project (the folder above producer/) or of the working directory, then the
broker port `python -m workbook up` chose when the default was taken
(`.state/ports.env`), then the defaults below, the original lab's. The names are the ones `.env.example`
documents and Docker Compose passes; workbook/config.py takes these six from
here, so their defaults and checks are the workbook's too. A value of the wrong
form, or a `.env` line that cannot be read, is a SettingsError (producer/envfile.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import envfile

SOURCE_NAMES = ("synthetic", "replay", "binance", "coinbase", "kraken", "bitstamp", "gemini", "coincap")

SETTINGS = {  # name -> (default, kind)
    "KAFKA_BOOTSTRAP_SERVERS": ("127.0.0.1:29092", envfile.HOST_PORTS),
    "KAFKA_TOPIC": ("trades", envfile.TOPIC),
    # the USD rate of each asset (synthetic and replay sources; sql/25_rates.sql)
    "KAFKA_RATES_TOPIC": ("rates", envfile.TOPIC),
    "KAFKA_TOPIC_PARTITIONS": ("1", envfile.whole(1, 10_000)),
    # -1: kept forever (Kafka's own convention)
    "KAFKA_RETENTION_MS": ("600000", envfile.whole(1, also=(-1,))),
    "PRODUCER_SOURCE": ("synthetic", envfile.one_of(*SOURCE_NAMES)),
}
DEFAULTS = {name: default for name, (default, _) in SETTINGS.items()}


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str
    kafka_topic: str
    kafka_rates_topic: str
    kafka_topic_partitions: int
    kafka_retention_ms: int
    producer_source: str


def load_settings(env_file: Path | str | None = None) -> Settings:
    """The settings, checked; SettingsError (a ValueError) names each bad one with its file and line."""
    root = Path(__file__).resolve().parent.parent
    candidates = [Path(env_file)] if env_file else [root / ".env", Path(".env")]
    # the broker's port `python -m workbook up` chose when the default was taken (the project's .state/ports.env)
    values = envfile.load(SETTINGS, candidates, chosen=envfile.chosen_ports_file(root, candidates))
    return Settings(*(values[name] for name in SETTINGS))

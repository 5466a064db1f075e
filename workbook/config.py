"""One configuration for every part of the workbook.

Values come from, in order: the process environment, the project's `.env`
file, then the defaults below (the original lab's). The names are the ones the
Docker Compose stack reads too, so one `.env` switches notebooks, producer and
processor between the embedded stack and the Docker one.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, fields
from pathlib import Path

from dotenv import dotenv_values  # python-dotenv: parses .env the way Compose does

from .paths import PROJECT_ROOT

DEFAULTS = {
    "STACK": "embedded",  # embedded | docker: which stack `python -m workbook up` manages
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "KAFKA_TOPIC": "trades",
    "KAFKA_TOPIC_PARTITIONS": "1",
    "KAFKA_RETENTION_MS": "600000",  # 10 minutes, as in the original lab
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "25432",
    "POSTGRES_DB": "db",
    "POSTGRES_USER": "user",
    "POSTGRES_PASSWORD": "user",
    "FLINK_JOBMANAGER": "",  # HOST:PORT of a session cluster; empty = in-process MiniCluster
    "FLINK_REST_PORT": "8081",
    "GRAFANA_URL": "http://127.0.0.1:23000",  # STACK=docker: where `workbook up` looks for Grafana
    "MAX_AHEAD_SECONDS": "60",  # the processor rejects trades further ahead of the clock (sql/10_trades.sql)
    "PRODUCER_SOURCE": "synthetic",
    "PRODUCER_ARGS": "--speed 1 --rebase-time",
    "WORKBOOK_STATE_DIR": ".state",
}


@dataclass(frozen=True)
class Config:
    stack: str
    kafka_bootstrap_servers: str
    kafka_topic: str
    kafka_topic_partitions: int
    kafka_retention_ms: int
    postgres_host: str
    postgres_port: int
    postgres_db: str
    postgres_user: str
    postgres_password: str
    flink_jobmanager: str
    flink_rest_port: int
    grafana_url: str
    max_ahead_seconds: int
    producer_source: str
    producer_args: str
    workbook_state_dir: Path

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[0]

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])

    @property
    def postgres_url(self) -> str:
        """SQLAlchemy URL (psycopg2 driver)."""
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql+psycopg2",
            username=self.postgres_user,
            password=self.postgres_password,
            host=self.postgres_host,
            port=self.postgres_port,
            database=self.postgres_db,
        ).render_as_string(hide_password=False)

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"

    @property
    def jobmanager_address(self) -> str:
        """HOST:PORT of the Flink session cluster's REST API that `workbook up --flink` starts (embedded) or
        checks (STACK=docker): FLINK_JOBMANAGER when it is set under STACK=docker (the jupyter container: the
        JobManager's service name), else 127.0.0.1:FLINK_REST_PORT (the embedded cluster; the Docker
        JobManager's port published on the host)."""
        if self.stack == "docker" and self.flink_jobmanager:
            return self.flink_jobmanager
        return f"127.0.0.1:{self.flink_rest_port}"

    def psycopg2_kwargs(self) -> dict:
        return dict(
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_db,
            user=self.postgres_user,
            password=self.postgres_password,
        )


LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "::1")


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine's loopback interface (127.0.0.0/8, ::1, localhost): an address that
    means another machine, or another container, everywhere else."""
    host = host.strip().strip("[]").lower()
    return host in LOOPBACK_NAMES or host.startswith("127.") or host == "0.0.0.0"


def host_port(address: str, default_port: int) -> tuple[str, int]:
    """An address as (host, port): 'HOST:PORT', 'HOST' or a URL ('http://HOST:PORT/'); scheme and path dropped,
    the host lower-case, this machine's loopback names (localhost, ::1, 127.0.0.1) as 127.0.0.1, `default_port`
    when none is given. ValueError if the port is not a number."""
    text = address.strip()
    parsed = urllib.parse.urlsplit(text if "://" in text else f"//{text}")
    try:
        port = parsed.port
    except ValueError:
        raise ValueError(f"{address!r}: the port is not a number") from None
    host = (parsed.hostname or "").lower()
    if not host:
        raise ValueError(f"{address!r}: no host name")
    if host in LOOPBACK_NAMES or host == "127.0.0.1":
        host = "127.0.0.1"
    return host, port if port is not None else default_port


def file_setting(name: str) -> str:
    """What the project's .env (else the default) says `name` is, whatever this process's environment says:
    what another process started here without that variable in its environment reads."""
    env_path = PROJECT_ROOT / ".env"
    from_file = dotenv_values(env_path) if env_path.exists() else {}
    return from_file.get(name) or DEFAULTS[name]


def load_config(env_file: Path | str | None = None, **overrides: str) -> Config:
    """Read the configuration. `overrides` (lower-case field names) win over all."""
    env_path = Path(env_file) if env_file else PROJECT_ROOT / ".env"
    from_file = {k: v for k, v in dotenv_values(env_path).items() if v is not None} if env_path.exists() else {}
    raw = {}
    for name, default in DEFAULTS.items():
        raw[name] = os.environ.get(name, from_file.get(name, default))
    for key, value in overrides.items():
        raw[key.upper()] = str(value)
    values = {}
    for f in fields(Config):
        text = raw[f.name.upper()]
        if f.type == "int":
            try:
                values[f.name] = int(text)
            except ValueError:
                raise ValueError(f"{f.name.upper()}={text!r} in the configuration is not a whole number") from None
        elif f.type == "Path":
            p = Path(text)
            values[f.name] = p if p.is_absolute() else PROJECT_ROOT / p
        else:
            values[f.name] = text
    if values["max_ahead_seconds"] < 0:
        raise ValueError(
            f"MAX_AHEAD_SECONDS={values['max_ahead_seconds']} in the configuration is negative: it is "
            "how many seconds ahead of the clock a trade may be (default 60); use 0 or more"
        )
    if values["stack"] not in ("embedded", "docker"):
        raise ValueError(f"STACK={values['stack']!r}: use 'embedded' (no Docker) or 'docker' (docker compose up)")
    return Config(**values)

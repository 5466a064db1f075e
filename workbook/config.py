"""One configuration for every part of the workbook.

Values come from, in order: the process environment, the project's `.env`
file, the ports `python -m workbook up` chose in place of taken defaults
(`<WORKBOOK_STATE_DIR>/ports.env`, embedded stack only), then the defaults below
(the original lab's). The names are the ones the
Docker Compose stack reads too, so one `.env` switches notebooks, producer and
processor between the embedded stack and the Docker one.
"""

from __future__ import annotations

import functools
import os
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from producer import envfile  # stands alone: the producer checks its settings with it too
from producer.envfile import SettingsError
from producer.settings import SETTINGS as PRODUCER_SETTINGS

from .paths import PROJECT_ROOT

__all__ = [
    "CHOSEN_PORTS",
    "SETTINGS",
    "Config",
    "SettingsError",
    "given_settings",
    "load_config",
    "stops_on_bad_settings",
]

STUDENT_ID = envfile.matching(
    r"((?!public$|information_schema$|pg_)[a-z][a-z0-9_]{0,39})?",
    "a student id: a lower-case letter, then up to 39 lower-case letters, digits or '_', not public, "
    "information_schema or pg_... (it names the student's PostgreSQL schema and Flink jobs), or nothing",
)

# name -> (default, kind): every setting the workbook reads; the producer's six come from producer/settings.py
# (the same names, defaults and checks). A value of the wrong form stops every command (producer/envfile.py).
SETTINGS = {
    # which stack `python -m workbook up` manages (shared: the class's, run by the instructor; docs/classroom.md)
    "STACK": ("embedded", envfile.one_of("embedded", "docker", "shared")),
    **{name: spec for name, spec in PRODUCER_SETTINGS.items() if name != "PRODUCER_SOURCE"},
    "POSTGRES_HOST": ("127.0.0.1", envfile.HOST),
    "POSTGRES_PORT": ("25432", envfile.PORT),
    "POSTGRES_DB": ("db", envfile.matching(r"[^\r\n\x00]{1,63}", "a database name, 1-63 characters")),
    "POSTGRES_USER": ("user", envfile.matching(r"[^\r\n\x00]{1,63}", "a user name, 1-63 characters")),
    "POSTGRES_PASSWORD": ("user", envfile.TEXT),
    # HOST:PORT of a session cluster; empty = in-process MiniCluster
    "FLINK_JOBMANAGER": ("", envfile.HOST_PORT_OR_EMPTY),
    "FLINK_REST_PORT": ("8081", envfile.PORT),
    "FLINK_RPC_PORT": ("6123", envfile.PORT),  # the embedded session cluster's JobManager RPC port
    "GRAFANA_URL": ("http://127.0.0.1:23000", envfile.URL),  # STACK=docker: where `workbook up` looks for Grafana
    # the processor rejects trades further ahead of the clock (sql/10_trades.sql)
    "MAX_AHEAD_SECONDS": ("60", envfile.whole(0, what="how many seconds ahead of the clock a trade may be")),
    "PRODUCER_SOURCE": PRODUCER_SETTINGS["PRODUCER_SOURCE"],
    "PRODUCER_ARGS": ("--speed 1 --rebase-time", envfile.SHELL_WORDS),
    "WORKBOOK_STATE_DIR": (".state", envfile.PATH),
    # task slots of each TaskManager: the embedded session cluster's (`up --flink`) and the Docker one's
    "TASKMANAGER_SLOTS": ("2", envfile.whole(1, 1024)),
    # shared-cluster mode (docs/classroom.md): the student's PostgreSQL schema and the prefix of their Flink jobs
    "STUDENT_ID": ("", STUDENT_ID),
}
_IMAGE = envfile.matching(r"[\w.\-/:@]+", "an image name (e.g. apache/kafka:3.9.1)")
_PLATFORM = envfile.matching(r"[a-z0-9]+/[a-z0-9_]+(/v\d)?", "a platform, e.g. linux/amd64 or linux/arm64")
# read by Docker Compose only (docker-compose.yml): checked too, so a typo stops `up` before Compose trips on it
COMPOSE_SETTINGS = {
    "COMPOSE_PROFILES": (
        "",
        envfile.matching(
            r"((flink|jupyter)(,(flink|jupyter))*)?", "flink, jupyter, both separated by a comma, or nothing"
        ),
    ),
    "KAFKA_HOST_PORT": ("29092", envfile.PORT),
    "KAFKA_UI_PORT": ("28080", envfile.PORT),
    "KAFKA_UI_USER": ("user", envfile.TEXT),
    "KAFKA_UI_PASSWORD": ("user", envfile.TEXT),
    "PGADMIN_PORT": ("20080", envfile.PORT),
    "PGADMIN_EMAIL": ("user@domain.com", envfile.matching(r"[^@\s]+@[^@\s]+", "an e-mail address")),
    "PGADMIN_PASSWORD": ("user", envfile.TEXT),
    "GRAFANA_PORT": ("23000", envfile.PORT),
    "GRAFANA_ADMIN_USER": ("user", envfile.TEXT),
    "GRAFANA_ADMIN_PASSWORD": ("user", envfile.TEXT),
    "JUPYTER_PORT": ("28888", envfile.PORT),
    "JUPYTER_TOKEN": ("user", envfile.TEXT),
    "FLINK_PLATFORM": ("linux/amd64", _PLATFORM),
    "JUPYTER_PLATFORM": ("linux/amd64", _PLATFORM),
    "JUPYTER_UID": ("1000", envfile.whole(0)),
    "JUPYTER_GID": ("1000", envfile.whole(0)),
    **{
        name: (default, _IMAGE)
        for name, default in (
            ("KAFKA_IMAGE", "apache/kafka:3.9.1"),
            ("KAFKA_UI_IMAGE", "kafbat/kafka-ui:v1.2.0"),
            ("TIMESCALEDB_IMAGE", "timescale/timescaledb:2.17.2-pg17"),
            ("PGADMIN_IMAGE", "dpage/pgadmin4:9.3"),
            ("GRAFANA_IMAGE", "grafana/grafana:11.6.16"),
        )
    },
}
DEFAULTS = {name: default for name, (default, _) in SETTINGS.items()}
CHOSEN_PORTS = envfile.CHOSEN_PORTS  # the file, in the state folder, of the ports `up` chose


@dataclass(frozen=True)
class Config:
    stack: str
    kafka_bootstrap_servers: str
    kafka_topic: str
    kafka_rates_topic: str
    kafka_topic_partitions: int
    kafka_retention_ms: int
    postgres_host: str
    postgres_port: int
    postgres_db: str
    postgres_user: str
    postgres_password: str
    flink_jobmanager: str
    flink_rest_port: int
    flink_rpc_port: int
    grafana_url: str
    max_ahead_seconds: int
    producer_source: str
    producer_args: str
    workbook_state_dir: Path
    taskmanager_slots: int
    student_id: str

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
            query={"options": self.search_path_option} if self.student_id else {},
        ).render_as_string(hide_password=False)

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema of the results: the student's (STUDENT_ID, shared-cluster mode), else None (the
        database's own search path: public)."""
        return self.student_id or None

    @property
    def search_path_option(self) -> str:
        """libpq's options that put the student's schema first (public after it: TimescaleDB's functions)."""
        return f"-c search_path={self.student_id},public"

    @property
    def jdbc_url(self) -> str:
        base = f"jdbc:postgresql://{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        return f"{base}?currentSchema={self.schema}" if self.schema else base

    def job_name(self, name: str) -> str:
        """A Flink job's name: the student's id first in shared-cluster mode (their jobs are found by it)."""
        return f"{self.student_id}: {name}" if self.student_id else name

    @property
    def jobmanager_address(self) -> str:
        """HOST:PORT of the Flink session cluster's REST API that `workbook up --flink` starts (embedded) or
        checks (STACK=docker): FLINK_JOBMANAGER when it is set under STACK=docker (the jupyter container: the
        JobManager's service name) or STACK=shared (the class's cluster), else 127.0.0.1:FLINK_REST_PORT (the
        embedded cluster; the Docker JobManager's port published on the host)."""
        if self.stack in ("docker", "shared") and self.flink_jobmanager:
            return self.flink_jobmanager
        return f"127.0.0.1:{self.flink_rest_port}"

    def psycopg2_kwargs(self) -> dict:
        return dict(
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_db,
            user=self.postgres_user,
            password=self.postgres_password,
            **({"options": self.search_path_option} if self.student_id else {}),
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
    """What the project's .env (else the port `up` chose, else the default) says `name` is, whatever this
    process's environment says: what another process started here without that variable in its environment
    reads."""
    env_path = PROJECT_ROOT / ".env"
    chosen = envfile.chosen_ports_file(PROJECT_ROOT, [env_path], environ={})
    return str(envfile.load({name: SETTINGS[name]}, [env_path], environ={}, chosen=chosen)[name])


def given_settings(env_file: Path | str | None = None) -> set[str]:
    """The names set in the environment or in `.env`: those `up` never chooses a port for."""
    env_path = Path(env_file) if env_file else PROJECT_ROOT / ".env"
    return {name for name in SETTINGS if name in os.environ} | set(envfile.read_env_file(env_path)[0]) & set(SETTINGS)


def load_config(env_file: Path | str | None = None, **overrides: str) -> Config:
    """Read and check the configuration. `overrides` (lower-case field names) win over all, unchecked (the
    callers' own values). SettingsError (a ValueError) names every malformed line or value: its file and line
    (or the environment), the setting, and what is expected; unknown names in the file are warned about."""
    env_path = Path(env_file) if env_file else PROJECT_ROOT / ".env"
    chosen = envfile.chosen_ports_file(PROJECT_ROOT, [env_path])
    checked = envfile.load({**SETTINGS, **COMPOSE_SETTINGS}, [env_path], all_known=True, chosen=chosen)
    overrides = {key.lower(): value for key, value in overrides.items()}
    values = {}
    for f in fields(Config):
        value = overrides.get(f.name, checked[f.name.upper()])
        if f.type == "int":
            value = int(value)
        elif f.type == "Path":
            value = Path(value) if Path(value).is_absolute() else PROJECT_ROOT / value
        values[f.name] = value
    if values["stack"] == "shared" and not values["student_id"]:  # else jobs and tables would be the class's own
        raise SettingsError(
            "STACK=shared needs STUDENT_ID in .env (e.g. STUDENT_ID=ada): it keeps your tables and Flink jobs "
            "apart from the other students' and the instructor's (docs/classroom.md)"
        )
    return Config(**values)


def stops_on_bad_settings(main: Callable[..., int]) -> Callable[..., int]:
    """A command's main(): bad settings print their one message (no traceback) and end it with status 2."""

    @functools.wraps(main)
    def checked(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return envfile.EXIT_SETTINGS

    return checked

"""The Docker stack seen from here (STACK=docker): Docker Compose starts and stops it, so `workbook up`,
`make lab` and `stack.up()` in a notebook only check that its services answer where the configuration says
(on the host: the ports it publishes on 127.0.0.1; in the jupyter container: the service names), and say what
to run for those that do not. Nothing is started or stopped here.

Each check speaks the service's protocol, not only TCP: Kafka answers a client's bootstrap (ApiVersions and
metadata, `workbook.kafka.check_broker`), PostgreSQL accepts the login of .env (a wrong password is said as
such), Grafana's and the JobManager's REST APIs answer. When the embedded stack still runs (its pid files under
the state folder), the service that answers on a published port is the embedded one: that row is not healthy,
and says how to stop the embedded stack."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, host_port
from ..kafka import KafkaUnavailable, check_broker
from .broker import Broker
from .flink_cluster import FlinkCluster
from .postgres import Postgres
from .services import Service, Status
from .stream import Stream

START = "docker compose up -d"  # what starts the default services (docs/docker.md)
CORE = ("kafka", "postgres")  # what the notebooks need; `workbook status` fails without them
NOT_ANSWERING = "NOT ANSWERING"  # the start of a failed check's detail (notebook 01's troubleshooting table)
STOP_EMBEDDED = "`python -m workbook down`"


@dataclass(frozen=True)
class DockerService:
    name: str
    address: str  # HOST:PORT, or a URL for the HTTP ones
    setting: str  # the .env setting that says where it is
    start: str  # the command that starts it
    embedded: str = ""  # the name of the embedded service that would hold the same port


def services(config: Config, flink: bool = False) -> list[DockerService]:
    """The Docker services the workbook talks to: Kafka, PostgreSQL, Grafana, and the JobManager (`flink`)."""
    found = [
        DockerService("kafka", config.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", START, "broker"),
        DockerService(
            "postgres",
            f"{config.postgres_host}:{config.postgres_port}",
            "POSTGRES_HOST/POSTGRES_PORT",
            START,
            "postgres",
        ),
        DockerService("grafana", config.grafana_url.rstrip("/"), "GRAFANA_URL", START),
    ]
    if flink:
        # FLINK_JOBMANAGER if set (the jupyter container: jobmanager:8081), else the published 127.0.0.1:FLINK_REST_PORT
        found.append(
            DockerService(
                "flink",
                f"http://{config.jobmanager_address}",
                "FLINK_JOBMANAGER/FLINK_REST_PORT",
                "docker compose --profile flink up -d",  # --profile before the subcommand: a global option
                "flink",
            )
        )
    return found


def _tcp(address: str, timeout: float) -> tuple[bool, str]:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True, f"accepts connections at {address}"
    except (OSError, ValueError) as exc:
        return False, f"{NOT_ANSWERING}: nothing answers at {address} ({getattr(exc, 'strerror', None) or exc})"


def _http_json(url: str, timeout: float) -> tuple[bool, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return True, json.loads(r.read() or b"{}"), ""
    except urllib.error.HTTPError as exc:
        return False, {}, f"{NOT_ANSWERING}: {url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, {}, f"{NOT_ANSWERING}: nothing answers at {url} ({getattr(exc, 'reason', exc)})"


def _kafka(address: str, timeout: float) -> tuple[bool, str]:
    """A Kafka client's bootstrap (ApiVersions, then metadata), after a TCP connection that fails fast."""
    first = address.split(",")[0].strip()
    ok, why = _tcp(first, timeout)
    if not ok:
        return False, why
    try:
        check_broker(address, timeout_s=timeout)
    except KafkaUnavailable:
        return False, (
            f"{NOT_ANSWERING}: {first} accepts connections, but no Kafka broker answered a client there within "
            f"{timeout:.0f} s (is it still starting, or is this port another program's?)"
        )
    return True, f"a Kafka broker answers at {address}"


def _postgres(config: Config, timeout: float) -> tuple[bool, str]:
    """A login with the user, password and database of .env."""
    import psycopg2  # deferred on purpose: `workbook up` without STACK=docker never needs it here

    address = f"{config.postgres_host}:{config.postgres_port}"
    try:
        psycopg2.connect(connect_timeout=max(1, round(timeout)), **config.psycopg2_kwargs()).close()
    except psycopg2.Error as exc:
        text = " ".join(str(exc).split())
        if "password authentication failed" in text:
            return False, (
                f"PostgreSQL at {address} rejected user {config.postgres_user!r} with the password from .env "
                "(POSTGRES_PASSWORD). The Docker database keeps the password of its first start: put that one "
                "back in .env, or delete its data volume (all results) with `docker compose down -v`"
            )
        if "does not exist" in text:
            return False, f"PostgreSQL at {address} answers, but: {text[:200]} (POSTGRES_DB/POSTGRES_USER in .env)"
        if "timeout expired" in text:
            return False, (
                f"{NOT_ANSWERING}: {address} accepts connections, but no PostgreSQL answered within "
                f"{max(1, round(timeout))} s"
            )
        if "Connection refused" in text or "could not connect" in text or "could not translate" in text:
            return False, f"{NOT_ANSWERING}: nothing answers at {address} ({text[:200]})"
        return False, f"PostgreSQL at {address}: {text[:200]}"
    return True, f"PostgreSQL answers at {address}, user {config.postgres_user!r} logged in"


def probe(service: DockerService, config: Config, timeout: float = 2.0) -> tuple[bool, str]:
    """(healthy, detail) of one service: its protocol (see the module's docstring)."""
    if service.name == "grafana":
        ok, body, why = _http_json(f"{service.address}/api/health", timeout)
        if ok and body.get("database") == "ok":
            return True, f"healthy (Grafana {body.get('version', '?')}), dashboard {service.address}/"
        return False, why or f"{service.address}/api/health says {body}"
    if service.name == "flink":
        ok, body, why = _http_json(f"{service.address}/overview", timeout)
        if ok and body.get("taskmanagers", 0) >= 1:
            return (
                True,
                f"{body['taskmanagers']} TaskManager(s), {body.get('jobs-running')} job(s) running; web UI {service.address}",
            )
        return False, why or f"the JobManager at {service.address} has no TaskManager yet"
    if service.name == "kafka":
        return _kafka(service.address, timeout)
    if service.name == "postgres":
        return _postgres(config, timeout)
    return _tcp(service.address, timeout)


def embedded_running(config: Config) -> list[Service]:
    """The embedded stack's services whose pid files name a live process (they hold ports `python -m workbook up`
    gave them, the ones the Docker stack publishes by default)."""
    return [svc for svc in (Broker(config), Postgres(config), FlinkCluster(config), Stream(config)) if svc.pid()]


def embedded_warning(config: Config) -> str | None:
    """One line when the embedded stack still runs under STACK=docker, else None."""
    running = embedded_running(config)
    if not running:
        return None
    names = ", ".join(f"{svc.name} (pid {svc.pid()})" for svc in running)
    return (
        f"WARNING: the embedded stack still runs ({names}; pid files in {config.workbook_state_dir / 'run'} and "
        f"{config.workbook_state_dir / 'flink' / 'run'}): it holds the ports the Docker stack publishes. Stop it "
        f"with {STOP_EMBEDDED} before `{START}`."
    )


def _same_address(a: str | None, b: str) -> bool:
    if not a:
        return False
    try:
        first = b.removeprefix("http://").split(",")[0]
        return host_port(a, 0) == host_port(first, 0)
    except ValueError:
        return False


def _held_by_embedded(service: DockerService, running: list[Service]) -> str | None:
    """Why the service that answers at `service.address` is the embedded one (None: it is not)."""
    for svc in running:
        if svc.name == service.embedded and _same_address(svc.running_address(), service.address):
            return (
                f"the embedded {svc.name} (pid {svc.pid()}) answers at {svc.running_address()}, not the Docker "
                f"stack's {service.name}: stop the embedded stack with {STOP_EMBEDDED}, then `{service.start}`"
            )
    return None


def status(config: Config, flink: bool = False) -> list[Status]:
    """Each Docker service's Status (pid None: Docker runs it; healthy: it answered, and it is not the embedded
    stack's)."""
    rows = []
    running = embedded_running(config)
    for service in services(config, flink):
        ok, detail = probe(service, config)
        held = _held_by_embedded(service, running)
        if held:
            ok, detail = False, held
        elif not ok and detail.startswith(NOT_ANSWERING):
            detail += f": start it with `{service.start}`, or fix {service.setting} in .env"
        rows.append(
            Status(service.name, service.address, None, ok, detail, Path("docker compose logs " + service.name))
        )
    return rows


def check(config: Config, flink: bool = False, stream: bool = False, say=print) -> list[Status]:
    """`workbook up` under STACK=docker: report each service (never raises: the notebooks say the rest)."""
    warning = embedded_warning(config)
    if warning:
        say(warning)
    rows = status(config, flink)
    for row in rows:
        say(f"{row.name}: up: {row.detail}" if row.healthy else f"{row.name}: {row.detail}")
    if stream:
        say("stream: the Docker stack's producer container streams the trades (`docker compose logs -f producer`)")
    if not all(row.healthy for row in rows):
        say(f"STACK=docker: Docker Compose runs these services; `{START}` starts them (docs/docker.md)")
    return rows

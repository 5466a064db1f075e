"""The Docker stack seen from here (STACK=docker): Docker Compose starts and stops it, so `workbook up`,
`make lab` and `stack.up()` in a notebook only check that its services answer where the configuration says
(on the host: the ports it publishes on 127.0.0.1; in the jupyter container: the service names), and say what
to run for those that do not. Nothing is started or stopped here."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from .services import Status

START = "docker compose up -d"  # what starts the default services (docs/docker.md)


@dataclass(frozen=True)
class DockerService:
    name: str
    address: str  # HOST:PORT, or a URL for the HTTP ones
    setting: str  # the .env setting that says where it is
    start: str  # the command that starts it


def services(config: Config, flink: bool = False) -> list[DockerService]:
    """The Docker services the workbook talks to: Kafka, PostgreSQL, Grafana, and the JobManager (`flink`)."""
    found = [
        DockerService("kafka", f"{config.kafka_host}:{config.kafka_port}", "KAFKA_BOOTSTRAP_SERVERS", START),
        DockerService(
            "postgres", f"{config.postgres_host}:{config.postgres_port}", "POSTGRES_HOST/POSTGRES_PORT", START
        ),
        DockerService("grafana", config.grafana_url.rstrip("/"), "GRAFANA_URL", START),
    ]
    if flink:
        rest = config.flink_jobmanager or f"127.0.0.1:{config.flink_rest_port}"
        found.append(
            DockerService("flink", f"http://{rest}", "FLINK_JOBMANAGER/FLINK_REST_PORT", f"{START} --profile flink")
        )
    return found


def _tcp(address: str, timeout: float) -> tuple[bool, str]:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True, f"accepts connections at {address}"
    except OSError as exc:
        return False, f"nothing answers at {address} ({exc.strerror or exc})"


def _http_json(url: str, timeout: float) -> tuple[bool, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return True, json.loads(r.read() or b"{}"), ""
    except urllib.error.HTTPError as exc:
        return False, {}, f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, {}, f"nothing answers at {url} ({getattr(exc, 'reason', exc)})"


def probe(service: DockerService, timeout: float = 2.0) -> tuple[bool, str]:
    """(healthy, detail): a TCP connection for Kafka and PostgreSQL, the health API for Grafana and Flink."""
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
    return _tcp(service.address, timeout)


def status(config: Config, flink: bool = False) -> list[Status]:
    """Each Docker service's Status (pid None: Docker runs it; healthy: it answered)."""
    rows = []
    for service in services(config, flink):
        ok, detail = probe(service)
        if not ok:
            detail += f": start it with `{service.start}`, or fix {service.setting} in .env"
        rows.append(
            Status(service.name, service.address, None, ok, detail, Path("docker compose logs " + service.name))
        )
    return rows


def check(config: Config, flink: bool = False, stream: bool = False, say=print) -> list[Status]:
    """`workbook up` under STACK=docker: report each service (never raises: the notebooks say the rest)."""
    rows = status(config, flink)
    for row in rows:
        say(f"{row.name}: {'up' if row.healthy else 'NOT ANSWERING'}: {row.detail}")
    if stream:
        say("stream: the Docker stack's producer container streams the trades (`docker compose logs -f producer`)")
    if not all(row.healthy for row in rows):
        say(f"STACK=docker: Docker Compose runs these services; `{START}` starts them (docs/docker.md)")
    return rows

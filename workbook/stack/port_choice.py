"""The embedded services' ports on a shared machine (many users, one 127.0.0.1): a port that is not set in `.env`
or the environment is its default while that is free or held by this project's own service; otherwise `up`
chooses a free one, says why, and remembers it in `<state>/ports.env`, which every command reads between `.env`
and the defaults (config.load_config; the producer too). A port that is set is used as given."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..config import CHOSEN_PORTS, Config, given_settings
from .flink_cluster import FlinkCluster
from .ports import free_port, holder_of, port_is_free
from .services import Service

# the service -> its port settings (the Docker stack's are the published ones: never chosen)
PORT_SETTINGS = {
    "broker": ("KAFKA_BOOTSTRAP_SERVERS",),
    "postgres": ("POSTGRES_PORT",),
    "flink": ("FLINK_REST_PORT", "FLINK_RPC_PORT"),
}
LABELS = {
    "KAFKA_BOOTSTRAP_SERVERS": "broker",
    "POSTGRES_PORT": "PostgreSQL",
    "FLINK_REST_PORT": "Flink REST API",
    "FLINK_RPC_PORT": "Flink JobManager RPC",
}
# Where a user's search for a free port starts, past the default: uid-spread (10 apart), so that users starting
# at the same moment do not all try the same next port; the search then goes up from there.
SPREAD, STEP = 100, 10


def ports_file(config: Config) -> Path:
    return config.workbook_state_dir / CHOSEN_PORTS


def port_of(config: Config, name: str) -> tuple[str, int]:
    """(host, port) of a port setting in `config`."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": (config.kafka_host, config.kafka_port),
        "POSTGRES_PORT": (config.postgres_host, config.postgres_port),
        "FLINK_REST_PORT": ("127.0.0.1", config.flink_rest_port),
        "FLINK_RPC_PORT": ("127.0.0.1", config.flink_rpc_port),
    }[name]


def with_port(config: Config, name: str, port: int) -> Config:
    field, value = {
        "KAFKA_BOOTSTRAP_SERVERS": ("kafka_bootstrap_servers", f"{config.kafka_host}:{port}"),
        "POSTGRES_PORT": ("postgres_port", port),
        "FLINK_REST_PORT": ("flink_rest_port", port),
        "FLINK_RPC_PORT": ("flink_rpc_port", port),
    }[name]
    return dataclasses.replace(config, **{field: value})


def setting_text(config: Config, name: str) -> str:
    """The setting's value as ports.env holds it."""
    return config.kafka_bootstrap_servers if name == "KAFKA_BOOTSTRAP_SERVERS" else str(port_of(config, name)[1])


def running_port(svc: Service, name: str) -> int | None:
    """The port this project's running service holds for setting `name` (None: it does not run)."""
    if svc.pid() is None:
        return None
    if name == "FLINK_RPC_PORT":
        return svc.running_rpc_port() if isinstance(svc, FlinkCluster) else None
    running = svc.running_address()
    try:
        return int(running.rsplit(":", 1)[1]) if running else None
    except ValueError:
        return None


def first_candidate(default: int) -> int:
    return default + 1 + (os.getuid() % SPREAD) * STEP


def choose(config: Config, svcs: list[Service], say=print, given: set[str] | None = None) -> Config:
    """`config` with a free port for each port setting of `svcs` that is neither given (`.env`, environment)
    nor free nor held by this project's running service; the choices are said and written to ports.env."""
    given = given_settings() if given is None else given
    avoid = {port_of(config, n)[1] for names in PORT_SETTINGS.values() for n in names}
    changed: list[str] = []
    for svc in svcs:
        for name in PORT_SETTINGS.get(svc.name, ()):
            if name in given:
                continue  # as given: start() says who holds it, if anyone does
            host, port = port_of(config, name)
            running = running_port(svc, name)
            if running is not None:  # ours: keep it where it runs (ports.env may have been deleted)
                if running != port:
                    config = with_port(config, name, running)
                    changed.append(name)
                    say(
                        f"{name}: this project's {LABELS[name]} runs on port {running}: remembered in {ports_file(config)}"
                    )
                continue
            if port_is_free(host, port):
                continue
            new = free_port(host, first_candidate(port), avoid)
            if new is None:
                continue  # nothing free nearby: start() says who holds the port
            say(
                f"{name} {port} is used by {holder_of(port)}: this project's {LABELS[name]} gets port {new} "
                f"(remembered in {ports_file(config)}; set {name} in .env to choose)"
            )
            avoid.add(new)
            config = with_port(config, name, new)
            changed.append(name)
    if changed:
        remember(config, changed)
    return config


def remember(config: Config, names: list[str]) -> None:
    """Write the settings `names` of `config` into ports.env, keeping its other lines; atomically (a command
    reading it meanwhile sees the old file or the new one)."""
    path = ports_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [ln for ln in lines if ln.partition("=")[0].strip() not in names and ln.strip()]
    if not any(ln.startswith("#") for ln in kept):
        kept.insert(0, "# Ports `python -m workbook up` chose because the defaults were taken; .env wins over them.")
    text = "\n".join([*kept, *(f"{name}={setting_text(config, name)}" for name in names)]) + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)

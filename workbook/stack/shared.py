"""The class's services seen from a student's session (STACK=shared, docs/classroom.md): the instructor runs one
broker with the trades topic, one PostgreSQL and one Flink session cluster for the whole class; each student's
`.env` says where (KAFKA_BOOTSTRAP_SERVERS, POSTGRES_*, FLINK_JOBMANAGER) and who they are (STUDENT_ID). So `up`
(and `make lab`) start nothing: they check that the three answer, and create the student's schema and result
tables; `status` says the same and lists the student's own jobs; `down` leaves the class's services alone.
Each check speaks the service's protocol (stack/docker.py's probes)."""

from __future__ import annotations

from pathlib import Path

from .. import database
from ..config import Config
from . import docker
from .services import Status

ASK = "the class's services are the instructor's: check the address in .env, or ask the instructor"


def services(config: Config) -> list[docker.DockerService]:
    found = [
        docker.DockerService("kafka", config.kafka_bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", ASK),
        docker.DockerService(
            "postgres", f"{config.postgres_host}:{config.postgres_port}", "POSTGRES_HOST/POSTGRES_PORT", ASK
        ),
    ]
    if config.flink_jobmanager:
        found.append(docker.DockerService("flink", f"http://{config.flink_jobmanager}", "FLINK_JOBMANAGER", ASK))
    return found


def status(config: Config) -> list[Status]:
    rows = []
    for service in services(config):
        ok, detail = _postgres(config) if service.name == "postgres" else docker.probe(service, config)
        if not ok and detail.startswith(docker.NOT_ANSWERING) and service.name != "postgres":  # it names them
            detail += f" ({service.setting}): {ASK}"
        rows.append(Status(service.name, service.address, None, ok, detail, Path("-")))
    return rows


def _postgres(config: Config) -> tuple[bool, str]:
    address = f"{config.postgres_host}:{config.postgres_port}"
    try:
        database.check_login(config, timeout_s=2)
    except database.PostgresLoginError as exc:
        return False, f"{docker.NOT_ANSWERING}: {exc}" if exc.unreachable else str(exc)
    return True, f"PostgreSQL answers at {address}, user {config.postgres_user!r} logged in"


def check(config: Config, stream: bool = False, say=print) -> list[Status]:
    """`up` under STACK=shared: the class's services answer (each said), and the student's schema and tables exist
    (created here the first time). load_config has refused STACK=shared without a STUDENT_ID."""
    rows = status(config)
    postgres = next(r for r in rows if r.name == "postgres")
    if postgres.healthy:
        try:
            database.prepare_schema(config)
        except database.PostgresLoginError as exc:
            rows[rows.index(postgres)] = Status(postgres.name, postgres.address, None, False, str(exc), Path("-"))
    for row in rows:
        say(f"{row.name}: up: {row.detail}" if row.healthy else f"{row.name}: {row.detail}")
    if stream:
        say(f"stream: the instructor's producer feeds the class's topic {config.kafka_topic!r}; nothing started here")
    return rows

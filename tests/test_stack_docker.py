"""STACK=docker: `make lab`, `python -m workbook up`, `workbook status` and `stack.up()` in a notebook check the
Docker stack's services where they are published and report them, instead of raising; `make lab` then opens
JupyterLab.

Each check speaks the service's protocol (workbook/stack/docker.py). The unit tests point the workbook at ports
where nothing is Kafka or PostgreSQL (closed ports, or bare TCP listeners that accept and never answer) and at
small HTTP servers answering Grafana's /api/health and the JobManager's /overview; the integration tests point it
at the real embedded broker, PostgreSQL and session cluster, as the Docker stack's (with a state folder of their
own, so the embedded stack's pid files are not seen), and at the real one's pid files. Free ports only: a real
stack on the default ports is neither used nor disturbed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from workbook import stack as stack_mod
from workbook.config import load_config
from workbook.stack.services import Status

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_01 = ROOT / "notebooks" / "01_setup.ipynb"


class _Api(BaseHTTPRequestHandler):
    answers = {
        "/api/health": {"database": "ok", "version": "11.6.16"},
        "/overview": {"taskmanagers": 1, "slots-total": 2, "slots-available": 2, "jobs-running": 0},
    }

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.answers.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeDockerStack:
    """Grafana and the JobManager as HTTP servers; Kafka and PostgreSQL as bare TCP listeners that accept a
    connection and never answer (neither protocol), on free ports."""

    def __init__(self):
        self.listeners = {}
        for name in ("kafka", "postgres"):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen()
            self.listeners[name] = s
        self.http = {name: ThreadingHTTPServer(("127.0.0.1", 0), _Api) for name in ("grafana", "flink")}
        for server in self.http.values():
            threading.Thread(target=server.serve_forever, daemon=True).start()
        holders = {**self.listeners, **{name: server.socket for name, server in self.http.items()}}
        self.ports = {name: holder.getsockname()[1] for name, holder in holders.items()}  # also once stopped

    def port(self, name: str) -> int:
        return self.ports[name]

    def env(self) -> dict[str, str]:
        """The .env settings that point the workbook at this stack."""
        return {
            "STACK": "docker",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.port('kafka')}",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.port("postgres")),
            "GRAFANA_URL": f"http://127.0.0.1:{self.port('grafana')}",
            "FLINK_JOBMANAGER": "",
            "FLINK_REST_PORT": str(self.port("flink")),
        }

    def stop(self, name: str) -> None:
        if name in self.listeners:
            self.listeners.pop(name).close()
        else:
            server = self.http.pop(name)
            server.shutdown()
            server.server_close()

    def close(self):
        for name in list(self.listeners) + list(self.http):
            self.stop(name)


@pytest.fixture
def docker_stack(tmp_path):
    fake = FakeDockerStack()
    yield fake
    fake.close()


def _env(settings: dict, tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, **settings, WORKBOOK_STATE_DIR=str(tmp_path / "state"))


def _workbook(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbook", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _config(settings: dict, tmp_path: Path, monkeypatch):
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WORKBOOK_STATE_DIR", str(tmp_path / "state"))
    return load_config(env_file=tmp_path / "none")


# ---------------------------------------------------------------------------------------------- unit


def test_a_port_that_accepts_but_speaks_no_kafka_or_postgresql_is_not_healthy(docker_stack, tmp_path):
    """Protocol, not TCP: a listener that accepts and says nothing is neither Kafka nor PostgreSQL."""
    out = _workbook(_env(docker_stack.env(), tmp_path), "up", "--stream", "--flink")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "error" not in out.stderr
    kafka, postgres = (f"127.0.0.1:{docker_stack.port(n)}" for n in ("kafka", "postgres"))
    assert f"kafka: NOT ANSWERING: {kafka} accepts connections, but no Kafka broker answered a client" in out.stdout
    assert f"postgres: NOT ANSWERING: {postgres} accepts connections, but no PostgreSQL answered" in out.stdout
    assert "grafana: up: healthy (Grafana 11.6.16)" in out.stdout
    assert "flink: up: 1 TaskManager(s)" in out.stdout
    assert "producer container streams the trades" in out.stdout
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.pid")), "nothing started"


def test_workbook_up_under_docker_reports_each_service_once(docker_stack, tmp_path):
    for name in ("kafka", "postgres", "grafana"):
        docker_stack.stop(name)
    out = _workbook(_env(docker_stack.env(), tmp_path), "up", "--flink")
    assert out.returncode == 0, out.stderr
    for name in ("kafka", "postgres", "grafana", "flink"):
        assert sum(line.startswith(f"{name}: ") for line in out.stdout.splitlines()) == 1, out.stdout
    assert "service   state" not in out.stdout, "the table repeats what the lines above said"
    assert "postgres: NOT ANSWERING: nothing answers at 127.0.0.1:" in out.stdout
    assert "start it with `docker compose up -d`, or fix POSTGRES_HOST/POSTGRES_PORT in .env" in out.stdout
    assert "grafana: NOT ANSWERING" in out.stdout and "flink: up" in out.stdout


def test_the_flink_advice_is_a_command_docker_compose_takes(docker_stack, tmp_path, monkeypatch):
    """--profile is an option of `docker compose` itself: it goes before `up`."""
    for name in ("kafka", "postgres", "flink"):  # closed ports: said at once
        docker_stack.stop(name)
    config = _config(docker_stack.env(), tmp_path, monkeypatch)
    said = []
    frame = stack_mod.health_frame(stack_mod.up(config, flink=True, say=said.append))
    assert list(frame.index) == ["kafka", "postgres", "grafana", "flink"]
    assert frame.loc["grafana", "healthy"] and not frame.loc["flink", "healthy"]
    assert any(
        line.startswith("flink: NOT ANSWERING") and "`docker compose --profile flink up -d`" in line for line in said
    )


def test_the_health_frame_shows_why_and_what_to_do_whole(docker_stack, tmp_path, monkeypatch):
    """Notebook 1 calls stack.up() with a silent `say`: the frame itself carries the advice, uncut, and begins with
    the words notebook 1's troubleshooting table keys on (NOT ANSWERING)."""
    docker_stack.stop("kafka")
    docker_stack.stop("postgres")
    config = _config(docker_stack.env(), tmp_path, monkeypatch)
    frame = stack_mod.health_frame(stack_mod.up(config, say=lambda *_: None))
    assert list(frame.columns) == ["address", "running", "healthy", "detail"]
    detail = frame.loc["kafka", "detail"]
    assert detail.startswith("NOT ANSWERING: nothing answers at 127.0.0.1:")
    assert detail.endswith("start it with `docker compose up -d`, or fix KAFKA_BOOTSTRAP_SERVERS in .env")
    assert len(detail) > 100
    assert detail in repr(frame) and detail in frame._repr_html_(), "pandas cut the advice"
    troubleshooting = [
        c for c in json.loads(NOTEBOOK_01.read_text())["cells"] if "When something" in "".join(c["source"])
    ]
    assert "`NOT ANSWERING` (with `STACK=docker`)" in "".join(troubleshooting[0]["source"])


def test_an_all_healthy_frame_prints_as_notebook_01_shows_it():
    """No detail column when every service is healthy: notebook 01's checked output of the embedded stack stands."""
    rows = [
        Status("broker", "127.0.0.1:29092", 11, True, "topic 'trades'", Path("b.log")),
        Status("postgres", "127.0.0.1:25432", 12, True, "PostgreSQL 18", Path("p.log")),
    ]
    frame = stack_mod.health_frame(rows)
    cells = json.loads(NOTEBOOK_01.read_text())["cells"]
    (cell,) = [c for c in cells if "stack.health_frame(statuses)" in "".join(c["source"])]
    (shown,) = [o["data"]["text/plain"] for o in cell["outputs"] if o.get("output_type") == "execute_result"]
    assert repr(frame) == "".join(shown)
    assert type(frame).__name__ == "DataFrame"


def test_an_unhealthy_embedded_service_shows_its_detail_too():
    rows = [
        Status("broker", "127.0.0.1:29092", 11, True, "topic 'trades'", Path("b.log")),
        Status("postgres", "127.0.0.1:25432", None, False, "stopped", Path("p.log")),
    ]
    frame = stack_mod.health_frame(rows)
    assert frame.loc["postgres", "detail"] == "stopped" and not frame.loc["postgres", "running"]
    assert frame[frame["healthy"]].index.tolist() == ["broker"]  # still a frame to filter


def test_workbook_status_fails_when_the_docker_kafka_is_down(tmp_path):
    """`workbook status` exits 3 when a service the notebooks need does not answer: Kafka counts under STACK=docker
    (its row is called kafka there, not broker)."""
    settings = {
        "STACK": "docker",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_free_port()}",
        "POSTGRES_PORT": str(_free_port()),
        "GRAFANA_URL": f"http://127.0.0.1:{_free_port()}",
        "FLINK_JOBMANAGER": "",
        "FLINK_REST_PORT": str(_free_port()),
    }
    out = _workbook(_env(settings, tmp_path), "status")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "kafka     UNHEALTHY" in out.stdout and "NOT ANSWERING" in out.stdout


def test_make_lab_under_docker_checks_the_services_then_opens_jupyterlab(docker_stack, tmp_path):
    """`STACK=docker make lab`: the real Makefile with a stand-in venv whose jupyter prints its arguments; the
    services are reported (here Kafka and PostgreSQL do not answer), and JupyterLab opens anyway."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "bin" / "jupyter").write_text('#!/bin/sh\necho "JUPYTER STARTED: $*"\n')
    for exe in ("python", "jupyter"):
        (venv / "bin" / exe).chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt and the locks: `make venv` has nothing to do
    docker_stack.stop("kafka")
    docker_stack.stop("postgres")
    out = subprocess.run(
        ["make", "--no-print-directory", "lab", f"VENV={venv}"],
        cwd=ROOT,
        env=_env(docker_stack.env(), tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kafka: NOT ANSWERING" in out.stdout and "postgres: NOT ANSWERING" in out.stdout
    assert "grafana: up" in out.stdout
    assert "JUPYTER STARTED: lab --ip=127.0.0.1 --ServerApp.root_dir=." in out.stdout
    assert out.stdout.rstrip().endswith("notebooks/01_setup.ipynb")  # JupyterLab opens the first notebook
    assert out.stdout.index("postgres: NOT ANSWERING") < out.stdout.index("JUPYTER STARTED")


def test_workbook_down_under_docker_stops_nothing_of_docker_and_says_so(docker_stack, tmp_path):
    out = _workbook(_env(docker_stack.env(), tmp_path), "down")
    assert out.returncode == 0, out.stderr
    assert "Docker Compose stops the Docker stack (`docker compose down`)" in out.stdout


# ---------------------------------------------------------------------------------------------- integration


def _as_docker(stack_config, grafana_port: int, **extra: str) -> dict[str, str]:
    """The embedded broker and PostgreSQL as if they were the Docker stack's (Grafana: an HTTP stand-in)."""
    settings = {
        "STACK": "docker",
        "KAFKA_BOOTSTRAP_SERVERS": stack_config.kafka_bootstrap_servers,
        "POSTGRES_HOST": stack_config.postgres_host,
        "POSTGRES_PORT": str(stack_config.postgres_port),
        "POSTGRES_DB": stack_config.postgres_db,
        "POSTGRES_USER": stack_config.postgres_user,
        "POSTGRES_PASSWORD": stack_config.postgres_password,
        "GRAFANA_URL": f"http://127.0.0.1:{grafana_port}",
        "FLINK_JOBMANAGER": "",
        "FLINK_REST_PORT": str(stack_config.flink_rest_port),
    }
    settings.update(extra)
    return settings


@pytest.mark.integration
def test_real_kafka_postgresql_and_jobmanager_answer_their_protocols(stack, flink_cluster, docker_stack, tmp_path):
    out = _workbook(_env(_as_docker(stack, docker_stack.port("grafana")), tmp_path), "up", "--flink")
    assert out.returncode == 0, out.stderr
    assert f"kafka: up: a Kafka broker answers at {stack.kafka_bootstrap_servers}" in out.stdout, out.stdout
    address = f"{stack.postgres_host}:{stack.postgres_port}"
    assert f"postgres: up: PostgreSQL answers at {address}, user {stack.postgres_user!r} logged in" in out.stdout
    assert "flink: up: 1 TaskManager(s)" in out.stdout and flink_cluster.address in out.stdout
    assert "WARNING" not in out.stdout and "NOT ANSWERING" not in out.stdout


@pytest.mark.integration
def test_a_wrong_postgres_password_is_said_as_such(stack, docker_stack, tmp_path, monkeypatch):
    settings = _as_docker(stack, docker_stack.port("grafana"), POSTGRES_PASSWORD="not-the-password")
    config = _config(settings, tmp_path, monkeypatch)
    frame = stack_mod.health_frame(stack_mod.up(config, say=lambda *_: None))
    assert not frame.loc["postgres", "healthy"] and frame.loc["kafka", "healthy"]
    detail = frame.loc["postgres", "detail"]
    assert f"rejected user {stack.postgres_user!r} with the password from .env (POSTGRES_PASSWORD)" in detail
    assert "`docker compose down -v`" in detail and "NOT ANSWERING" not in detail


@pytest.mark.integration
def test_workbook_status_counts_the_docker_kafka(stack, docker_stack, tmp_path):
    """PostgreSQL answers, Grafana and the JobManager do not (they are optional): exit 0; Kafka down: exit 3."""
    settings = _as_docker(stack, _free_port(), FLINK_REST_PORT=str(_free_port()))
    out = _workbook(_env(settings, tmp_path), "status")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kafka     healthy" in out.stdout and "grafana   UNHEALTHY" in out.stdout
    settings["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{_free_port()}"
    out = _workbook(_env(settings, tmp_path), "status")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "postgres  healthy" in out.stdout and "kafka     UNHEALTHY" in out.stdout


@pytest.mark.integration
def test_the_embedded_stacks_pid_files_are_named_under_docker(stack, docker_stack):
    """STACK=docker while the embedded stack runs (its pid files in the state folder): what answers on the ports is
    the embedded broker and PostgreSQL, not the Docker stack; said, with the command that stops them."""
    env = dict(
        os.environ, **_as_docker(stack, docker_stack.port("grafana")), WORKBOOK_STATE_DIR=str(stack.workbook_state_dir)
    )
    out = subprocess.run(
        [sys.executable, "-m", "workbook", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "WARNING: the embedded stack still runs (broker (pid " in out.stdout
    assert "Stop it with `python -m workbook down` before `docker compose up -d`" in out.stdout
    assert "kafka: the embedded broker (pid " in out.stdout and "postgres: the embedded postgres (pid " in out.stdout
    assert "not the Docker stack's kafka: stop the embedded stack with `python -m workbook down`" in out.stdout
    status = subprocess.run(
        [sys.executable, "-m", "workbook", "status"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert status.returncode == 3 and "WARNING: the embedded stack still runs" in status.stdout

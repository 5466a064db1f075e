"""STACK=docker: `make lab`, `python -m workbook up` and `stack.up()` in a notebook check the Docker stack's
services where they are published and report them, instead of raising; `make lab` then opens JupyterLab.
The Docker services are faked at the socket level: a TCP listener for Kafka and PostgreSQL, small HTTP servers
answering Grafana's /api/health and the JobManager's /overview, on free ports given as .env settings (so a real
stack on the default ports is neither used nor disturbed)."""

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

from workbook import stack
from workbook.config import load_config

ROOT = Path(__file__).resolve().parent.parent


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


class FakeDockerStack:
    """Kafka and PostgreSQL as listening sockets, Grafana and the JobManager as HTTP servers, on free ports."""

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

    def port(self, name: str) -> int:
        holder = self.listeners.get(name) or self.http[name].socket
        return holder.getsockname()[1]

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


def _env(fake: FakeDockerStack, tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, **fake.env(), WORKBOOK_STATE_DIR=str(tmp_path / "state"))


def test_workbook_up_reports_the_docker_services_and_exits_0(docker_stack, tmp_path):
    env = _env(docker_stack, tmp_path)
    run = [sys.executable, "-m", "workbook", "up", "--stream", "--flink"]
    out = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "error" not in out.stderr
    for name in ("kafka", "postgres", "grafana", "flink"):
        assert f"{name}: up: " in out.stdout, out.stdout
    assert f"accepts connections at 127.0.0.1:{docker_stack.port('kafka')}" in out.stdout
    assert "healthy (Grafana 11.6.16)" in out.stdout and "1 TaskManager(s)" in out.stdout
    assert "producer container streams the trades" in out.stdout
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").rglob("*.pid")), "nothing started"

    docker_stack.stop("postgres")
    docker_stack.stop("grafana")
    out = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "postgres: NOT ANSWERING: nothing answers at 127.0.0.1:" in out.stdout
    assert "start it with `docker compose up -d`, or fix POSTGRES_HOST/POSTGRES_PORT in .env" in out.stdout
    assert "grafana: NOT ANSWERING" in out.stdout and "kafka: up" in out.stdout


def test_stack_up_in_a_notebook_returns_the_docker_statuses(docker_stack, tmp_path, monkeypatch):
    for key, value in docker_stack.env().items():
        monkeypatch.setenv(key, value)
    config = load_config(env_file=tmp_path / "none")
    said = []
    frame = stack.health_frame(stack.up(config, flink=True, say=said.append))
    assert list(frame.index) == ["kafka", "postgres", "grafana", "flink"]
    assert frame["healthy"].all() and frame["running"].all()
    docker_stack.stop("flink")
    frame = stack.health_frame(stack.up(config, flink=True, say=said.append))
    assert not frame.loc["flink", "healthy"] and frame.loc["kafka", "healthy"]
    assert any("flink: NOT ANSWERING" in line and "--profile flink" in line for line in said)


def test_workbook_down_under_docker_stops_nothing_of_docker_and_says_so(docker_stack, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "workbook", "down"],
        cwd=ROOT,
        env=_env(docker_stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Docker Compose stops the Docker stack (`docker compose down`)" in out.stdout


def test_make_lab_under_docker_checks_the_services_then_opens_jupyterlab(docker_stack, tmp_path):
    """`STACK=docker make lab`: the real Makefile with a stand-in venv whose jupyter prints its arguments."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "bin" / "jupyter").write_text('#!/bin/sh\necho "JUPYTER STARTED: $*"\n')
    for exe in ("python", "jupyter"):
        (venv / "bin" / exe).chmod(0o755)
    (venv / ".installed").touch()  # newer than requirements.txt and the locks: `make venv` has nothing to do
    out = subprocess.run(
        ["make", "--no-print-directory", "lab", f"VENV={venv}"],
        cwd=ROOT,
        env=_env(docker_stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kafka: up" in out.stdout and "postgres: up" in out.stdout
    assert "JUPYTER STARTED: lab --ip=127.0.0.1 --ServerApp.root_dir=." in out.stdout
    assert out.stdout.rstrip().endswith("notebooks/01_setup.ipynb")  # JupyterLab opens the first notebook
    assert out.stdout.index("postgres: up") < out.stdout.index("JUPYTER STARTED")

"""Where a job on a session cluster runs, and the addresses it is given (notebook 9, `--jobmanager`).

- FlinkCluster.address and the Docker check of the JobManager honour FLINK_JOBMANAGER under STACK=docker (the
  jupyter container names the JobManager's service, jobmanager:8081; 127.0.0.1 there is the container itself);
- a job for a cluster whose TaskManagers are Docker containers (STACK=docker) or another machine (their hosts, from
  the REST API) is refused at once when it names Kafka or PostgreSQL by a loopback address: there 127.0.0.1 is the
  TaskManager itself, and the job would wait forever. The JobManager here is a small HTTP server answering
  /overview and /taskmanagers as Flink's REST API does (no JVM: the unit tier); the real embedded cluster's
  TaskManagers (on 127.0.0.1) are accepted by every session-cluster integration test that submits a job."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from workbook import processor
from workbook.config import host_port, is_loopback, load_config
from workbook.pipeline import ProcessorError, RunOptions, run
from workbook.pipeline.watch import check_cluster_reaches_services, taskmanager_hosts
from workbook.stack import docker
from workbook.stack.flink_cluster import FlinkCluster

ROOT = Path(__file__).resolve().parent.parent

EMBEDDED_TM = "pekko.tcp://flink@127.0.0.1:40123/user/rpc/taskmanager_0"
DOCKER_TM = "pekko.tcp://flink@172.18.0.6:6122/user/rpc/taskmanager_0"


class _JobManager(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        answers = {
            "/overview": {"taskmanagers": 1, "slots-total": 2, "slots-available": 2, "jobs-running": 0},
            "/taskmanagers": {"taskmanagers": [{"id": "tm-1", "path": self.server.tm_path}]},
            "/jobs/overview": {"jobs": []},
        }
        body = answers.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def do_PATCH(self):  # noqa: N802 - a cancel would be a bug here: no job may be touched
        self.server.patched.append(self.path)
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def jobmanager():
    """A stand-in JobManager REST API on a free port; `.tm_path` sets what its TaskManager reports."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JobManager)
    server.tm_path, server.patched = DOCKER_TM, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.address = f"127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def _config(tmp_path, monkeypatch, **settings):
    for key in ("STACK", "FLINK_JOBMANAGER", "KAFKA_BOOTSTRAP_SERVERS", "POSTGRES_HOST", "POSTGRES_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WORKBOOK_STATE_DIR", str(tmp_path / "state"))
    return load_config(env_file=tmp_path / "none", **settings)


def _jupyter_environment() -> dict[str, str]:
    """The workbook settings docker-compose.yml gives the jupyter container (the ${VAR:-default}s at their default)."""
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["jupyter"]["environment"]
    return {k: str(v).split(":-", 1)[-1].rstrip("}") if "${" in str(v) else str(v) for k, v in env.items()}


# ---------------------------------------------------------------------------------------------- addresses


def test_the_embedded_cluster_is_at_the_rest_port_on_this_machine(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, flink_rest_port="38081", flink_jobmanager="127.0.0.1:38081")
    assert FlinkCluster(config).address == "127.0.0.1:38081"
    # FLINK_JOBMANAGER only says where the processor submits: the embedded cluster is started here
    config = _config(tmp_path, monkeypatch, flink_rest_port="38081", flink_jobmanager="elsewhere:8081")
    assert FlinkCluster(config).address == "127.0.0.1:38081"


def test_under_docker_the_jobmanager_is_flink_jobmanager_if_set(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, stack="docker", flink_rest_port="38081")
    assert FlinkCluster(config).address == "127.0.0.1:38081"  # on the host: the published port
    config = _config(tmp_path, monkeypatch, stack="docker", flink_jobmanager="jobmanager:8081")
    assert FlinkCluster(config).address == "jobmanager:8081"
    assert [s.address for s in docker.services(config, flink=True) if s.name == "flink"] == ["http://jobmanager:8081"]


def test_the_jupyter_container_names_the_jobmanager_and_the_services_by_their_container_addresses(
    tmp_path, monkeypatch
):
    """Notebook 9 in the Docker stack's JupyterLab: the cluster it finds and the addresses its job is given."""
    env = _jupyter_environment()
    assert env["STACK"] == "docker" and env["FLINK_JOBMANAGER"] == "jobmanager:8081"
    config = _config(tmp_path, monkeypatch, **{k.lower(): v for k, v in env.items() if k != "JUPYTER_TOKEN"})
    assert FlinkCluster(config).address == "jobmanager:8081"
    assert (config.kafka_bootstrap_servers, config.postgres_host, config.postgres_port) == (
        "kafka:9092",
        "postgres",
        5432,
    )
    # a job from there to the Docker cluster names no loopback address: not refused (no REST call needed)
    check_cluster_reaches_services("jobmanager:8081", config)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:8081", ("127.0.0.1", 8081)),
        ("localhost:8081", ("127.0.0.1", 8081)),
        ("LocalHost:8081", ("127.0.0.1", 8081)),
        ("http://localhost:8081/", ("127.0.0.1", 8081)),
        ("[::1]:8081", ("127.0.0.1", 8081)),
        ("127.0.0.1", ("127.0.0.1", 8081)),
        ("jobmanager:8081", ("jobmanager", 8081)),
        ("http://JobManager", ("jobmanager", 8081)),
        ("10.0.0.5:38081", ("10.0.0.5", 38081)),
    ],
)
def test_host_port_normalises_an_address(address, expected):
    assert host_port(address, 8081) == expected


def test_host_port_rejects_nonsense():
    with pytest.raises(ValueError, match="port is not a number"):
        host_port("127.0.0.1:http", 8081)
    with pytest.raises(ValueError, match="no host"):
        host_port(":8081", 8081)


def test_loopback_addresses():
    for host in ("127.0.0.1", "127.0.1.1", "localhost", "::1", "[::1]", "0.0.0.0"):
        assert is_loopback(host), host
    for host in ("kafka", "postgres", "172.18.0.6", "10.0.0.5", "example.org"):
        assert not is_loopback(host), host


# ---------------------------------------------------------------------------------------------- refusals


def test_taskmanager_hosts_read_from_the_rest_api(jobmanager):
    assert taskmanager_hosts(jobmanager.address) == ["172.18.0.6"]
    jobmanager.tm_path = EMBEDDED_TM
    assert taskmanager_hosts(jobmanager.address) == ["127.0.0.1"]
    assert taskmanager_hosts("127.0.0.1:1") == []  # nothing answers: nothing known


def test_docker_cluster_with_host_addresses_is_refused_with_what_to_do(jobmanager, tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, stack="docker", kafka_bootstrap_servers="127.0.0.1:29092")
    with pytest.raises(ProcessorError) as exc:
        check_cluster_reaches_services(jobmanager.address, config)
    text = str(exc.value)
    assert text.startswith("not submitting: the job would run in the Docker stack's TaskManager containers")
    assert "127.0.0.1:29092 (KAFKA_BOOTSTRAP_SERVERS) and 127.0.0.1:25432 (POSTGRES_HOST/POSTGRES_PORT)" in text
    for advice in ("--local", "FLINK_JOBMANAGER empty", "kafka:9092", "POSTGRES_HOST=postgres", "STACK=embedded"):
        assert advice in text, advice


def test_a_dry_run_needs_no_postgresql_address(jobmanager, tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, stack="docker", kafka_bootstrap_servers="kafka:9092")
    check_cluster_reaches_services(jobmanager.address, config, dry_run=True)
    with pytest.raises(ProcessorError, match=r"127\.0\.0\.1:25432 \(POSTGRES_HOST/POSTGRES_PORT\) is the TaskManager"):
        check_cluster_reaches_services(jobmanager.address, config)


def test_embedded_stack_refuses_only_a_cluster_whose_taskmanagers_are_elsewhere(jobmanager, tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch)
    jobmanager.tm_path = EMBEDDED_TM
    check_cluster_reaches_services(jobmanager.address, config)  # the embedded session cluster
    jobmanager.tm_path = DOCKER_TM  # e.g. FLINK_JOBMANAGER=127.0.0.1:8081 at the Docker cluster, STACK left embedded
    with pytest.raises(ProcessorError, match=r"TaskManagers at 172\.18\.0\.6, not on this machine"):
        check_cluster_reaches_services(jobmanager.address, config)


def test_pipeline_run_refuses_at_once_before_any_jvm(jobmanager, tmp_path, monkeypatch):
    """Notebook 9 under STACK=docker on the host: pipeline.run says so within a second (the unit tier would fail
    the test if a JVM started)."""
    config = _config(tmp_path, monkeypatch, stack="docker")
    t0 = time.monotonic()
    with pytest.raises(ProcessorError, match="the job would run in the Docker stack's TaskManager containers"):
        run(RunOptions(bounded=True, jobmanager=jobmanager.address), config, say=lambda *_: None)
    assert time.monotonic() - t0 < 5


def test_the_processor_refuses_before_replace_cancels_anything(jobmanager, tmp_path, monkeypatch, capsys):
    _config(tmp_path, monkeypatch)
    monkeypatch.setenv("STACK", "docker")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:29092")
    assert processor.main(["--jobmanager", jobmanager.address, "--replace"]) == 1
    err = capsys.readouterr().err
    assert "processor: not submitting: the job would run in the Docker stack's TaskManager containers" in err
    assert "localhost:29092 (KAFKA_BOOTSTRAP_SERVERS)" in err
    assert jobmanager.patched == [] and not (tmp_path / "state" / "locks").exists()


@pytest.mark.integration
def test_the_embedded_clusters_taskmanagers_are_on_this_machine(flink_cluster, stack):
    """The real REST API says where its TaskManagers are: on 127.0.0.1, so a job with the embedded stack's
    loopback addresses is not refused."""
    hosts = taskmanager_hosts(flink_cluster.address)
    assert hosts and all(is_loopback(h) for h in hosts), hosts
    check_cluster_reaches_services(flink_cluster.address, stack)

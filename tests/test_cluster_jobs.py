"""One processor job per session cluster: `python -m workbook.processor --jobmanager ...` run twice
leaves one streaming job (what `docker compose up` does to the processor container each time),
and `--replace` swaps it for a new one. Against the real standalone session cluster."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from workbook import kafka, processor
from workbook.config import PROJECT_ROOT
from workbook.pipeline import cluster_jobs, pipeline_name

NAME = pipeline_name(bounded=False)


def _submit(address: str, topic: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "workbook.processor", "--jobmanager", address, "--topic", topic, *extra],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=300,
    )


def _wait_running(address: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        active = cluster_jobs.active_jobs(address, NAME)
        if active and all(j["state"] == "RUNNING" for j in active) or time.monotonic() > deadline:
            return active
        time.sleep(0.5)


@pytest.mark.integration
def test_second_submission_leaves_one_job_and_replace_swaps_it(stack, flink_cluster):
    address = flink_cluster.address
    assert not cluster_jobs.active_jobs(address, NAME), (
        f"a processor streaming job already runs on {address}: cancel it in the Flink web UI first"
    )
    topic = f"test-submit-{uuid.uuid4().hex[:10]}"
    kafka.write_records(stack.kafka_bootstrap_servers, topic, [])  # the (empty) topic: the job only has to run
    try:
        first = _submit(address, topic)
        assert first.returncode == 0, first.stdout + first.stderr
        running = _wait_running(address)
        assert [j["state"] for j in running] == ["RUNNING"], running
        job_id = running[0]["jid"]

        second = _submit(address, topic)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"Flink job {job_id}" in second.stdout and "not submitting a second one" in second.stdout
        assert "--replace" in second.stdout
        assert [j["jid"] for j in cluster_jobs.active_jobs(address, NAME)] == [job_id]

        third = _submit(address, topic, "--replace")
        assert third.returncode == 0, third.stdout + third.stderr
        assert f"cancelling Flink job {job_id}" in third.stdout
        running = _wait_running(address)
        assert len(running) == 1 and running[0]["state"] == "RUNNING", running
        assert running[0]["jid"] != job_id
        old = [j for j in cluster_jobs.jobs(address) if j["jid"] == job_id]
        assert [j["state"] for j in old] == ["CANCELED"]
    finally:
        active = [j["jid"] for j in cluster_jobs.active_jobs(address, NAME)]
        for jid in active:
            cluster_jobs.cancel(address, jid)
        cluster_jobs.wait_until_gone(address, active)
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_cluster_at_the_address_is_a_clear_error(capsys):
    address = f"127.0.0.1:{_free_port()}"
    assert processor.main(["--jobmanager", address]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach the Flink session cluster's REST API at http://{address}" in err
    assert "is the JobManager up?" in err


@pytest.mark.parametrize("argv", [["--replace", "--local"], ["--replace", "--bounded", "--jobmanager", "x:1"]])
def test_replace_only_for_a_streaming_job_on_a_cluster(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        processor.main(argv)
    assert exc.value.code == 2
    assert "--replace is for a streaming job on a session cluster" in capsys.readouterr().err

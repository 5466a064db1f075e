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


@pytest.mark.integration
@pytest.mark.slow  # two processor JVMs at once on 2 cores, ~1 min
def test_two_submitters_started_together_leave_one_job(stack, flink_cluster):
    """Both check the cluster at once; without the submission lock both found no job and both submitted."""
    address = flink_cluster.address
    assert not cluster_jobs.active_jobs(address, NAME), f"a processor streaming job already runs on {address}"
    topic = f"test-race-{uuid.uuid4().hex[:10]}"
    kafka.write_records(stack.kafka_bootstrap_servers, topic, [])
    argv = [sys.executable, "-m", "workbook.processor", "--jobmanager", address, "--topic", topic]
    before = {j["jid"] for j in cluster_jobs.jobs(address)}  # earlier tests' cancelled jobs stay listed
    try:
        submitters = [
            subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=300) for p in submitters]
        assert [p.returncode for p in submitters] == [0, 0], outs
        running = _wait_running(address)
        assert len(running) == 1 and running[0]["state"] == "RUNNING", running
        stdout = [out for out, _ in outs]
        assert sum(f"Flink job {running[0]['jid']} on session cluster" in out for out in stdout) == 1, stdout
        assert sum("not submitting a second one" in out for out in stdout) == 1, stdout
        assert any("is under way" in out and ": waiting" in out for out in stdout), "the second did not wait"
        made = [j for j in cluster_jobs.jobs(address) if j.get("name") == NAME and j["jid"] not in before]
        assert len(made) == 1, f"a second job was made: {made}"
    finally:
        active = [j["jid"] for j in cluster_jobs.active_jobs(address, NAME)]
        for jid in active:
            cluster_jobs.cancel(address, jid)
        cluster_jobs.wait_until_gone(address, active)
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def test_submission_lock_makes_the_second_holder_wait(tmp_path):
    """A holder in another process (its pid in the lock file): the second waits, says so, and gets it after."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from workbook.pipeline.cluster_jobs import submission_lock\n"
            f"with submission_lock({str(tmp_path)!r}, '127.0.0.1:1'):\n"
            "    print('held', flush=True); time.sleep(1.5)\n",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    said, t0 = [], time.monotonic()
    with cluster_jobs.submission_lock(tmp_path, "127.0.0.1:1", say=said.append) as path:
        waited = time.monotonic() - t0
        assert path.read_text().strip() == str(os.getpid())
    holder.wait(timeout=30)
    assert waited > 0.5, "the lock did not wait for its holder"
    assert said == [f"another submission to http://127.0.0.1:1 is under way (pid {holder.pid}): waiting"]
    with pytest.raises(cluster_jobs.ClusterJobsError, match="held for 0 s"):
        with cluster_jobs.submission_lock(tmp_path, "127.0.0.1:2"):
            with cluster_jobs.submission_lock(tmp_path, "127.0.0.1:2", timeout=0, say=lambda *_: None):
                pass


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


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1:8081", "localhost:8081", "http://localhost:8081/", "[::1]:8081", "127.0.0.1", "LOCALHOST"],
)
def test_the_lock_key_is_one_name_per_cluster(address):
    assert cluster_jobs.lock_key(address) == "127.0.0.1:8081"


def test_other_clusters_have_other_lock_keys():
    assert cluster_jobs.lock_key("jobmanager:8081") == "jobmanager:8081"
    assert cluster_jobs.lock_key("http://JobManager") == "jobmanager:8081"
    assert cluster_jobs.lock_key("127.0.0.1:38081") == "127.0.0.1:38081"
    with pytest.raises(cluster_jobs.ClusterJobsError, match="expected HOST:PORT"):
        cluster_jobs.lock_key("127.0.0.1:eighty")


def test_localhost_and_127_0_0_1_take_turns_on_one_lock(tmp_path):
    """Two submitters naming the same cluster differently hold one lock: the second waits (here: gives up at once)."""
    with cluster_jobs.submission_lock(tmp_path, "localhost:8081", say=lambda *_: None) as path:
        assert path.name == "submit-127.0.0.1_8081.lock"
        with pytest.raises(cluster_jobs.ClusterJobsError, match="held for 0 s"):
            with cluster_jobs.submission_lock(tmp_path, "http://127.0.0.1:8081/", timeout=0, say=lambda *_: None):
                pass
        with cluster_jobs.submission_lock(tmp_path, "127.0.0.1:38081", timeout=0, say=lambda *_: None):
            pass  # another cluster: another lock

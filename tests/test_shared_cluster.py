"""Shared-cluster mode (docs/classroom.md): three students, each with their own STUDENT_ID, submit their streaming
processors to one Flink session cluster at the same moment, reading one shared trades topic and writing into one
PostgreSQL database. Each student's results land in their own schema only; a student whose job keeps failing (its
sink refuses every row) does not stop the others; `status` lists a student's own jobs and no one else's;
`--replace` cancels only the student's own job; too few free task slots is said before submitting, naming the
setting. The embedded standalone session cluster (the session's `flink_cluster`, four slots) stands in for the
course's shared one."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
import uuid

import pandas as pd
import psycopg2
import pytest
from flinkutil import MINUTE, candles_of, read_table, trade, write_in_batches

from workbook import database, kafka
from workbook.config import PROJECT_ROOT
from workbook.pipeline import cluster_jobs, pipeline_name

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

T0 = 1_550_000_000_000 - 1_550_000_000_000 % MINUTE  # 2019-02-12 19:33 UTC: no other test writes windows there


def _env(student: str, address: str) -> dict:
    return {**os.environ, "STUDENT_ID": student, "FLINK_JOBMANAGER": address}


def _processor(student: str, address: str, topic: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "workbook.processor", "--solutions", "--topic", topic, *extra],
        cwd=PROJECT_ROOT,
        env=_env(student, address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def _rest(address: str, path: str) -> dict:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as r:
        return json.loads(r.read())


def _job_of(address: str, student: str) -> dict | None:
    name = f"{student}: {pipeline_name(False)}"
    active = cluster_jobs.active_jobs(address, name)
    return active[0] if active else None


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None and value is not False and (not hasattr(value, "__len__") or len(value)):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout:.0f} s: {what}")
        time.sleep(1)


def _candles(config, schema: str) -> pd.DataFrame:
    try:
        return read_table(config, schema, "candlesticks")
    except psycopg2.Error:  # the schema is not there yet: the processor creates it
        return pd.DataFrame()


def test_three_students_share_one_session_cluster(stack, flink_cluster):
    address = flink_cluster.address
    overview = _rest(address, "/overview")
    assert overview["slots-total"] >= 4, overview
    assert overview["slots-available"] >= 3, f"the test needs 3 free slots of the session cluster: {overview}"
    tag = uuid.uuid4().hex[:6]
    ada, bob, cy, dan = (f"{name}_{tag}" for name in ("ada", "bob", "cy", "dan"))
    topic = f"test-shared-{tag}"

    rng = random.Random(7)
    records = [
        trade(rng, base, "tether", T0 + k * 1_500 + i * 7)
        for k in range(160)  # four minutes
        for i, base in enumerate(("bitcoin", "ethereum"))
    ]
    records.append(trade(rng, "bitcoin", "tether", T0 + 6 * MINUTE))  # moves the watermark past the fourth minute
    write_in_batches(stack, topic, records)

    # cy's candlesticks table refuses every row: cy's job fails at its sink, restarts, and fails again
    database.apply_ddl(database.connect(stack), schema=cy)
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"ALTER TABLE {cy}.candlesticks ADD CONSTRAINT refuses_every_row CHECK (false)")
    try:
        started = [_processor(student, address, topic) for student in (ada, bob, cy)]  # at the same moment
        for student, proc in zip((ada, bob, cy), started):
            code, said = _finished(proc)
            assert code == 0, f"{student}: {said}"
        jobs = {s: _wait(lambda s=s: _job_of(address, s), 60, f"{s}'s job on the cluster") for s in (ada, bob, cy)}
        assert len({j["jid"] for j in jobs.values()}) == 3

        # results: each good student's own schema, all four minutes; the reference is the test's own (pandas)
        frame = pd.DataFrame(records[:-1])
        frame["ts_start"] = frame["timestamp"] // MINUTE * MINUTE
        frame["currency_pair"] = frame["base"] + "/" + frame["quote"]
        expected = candles_of(frame.sort_values("timestamp", kind="stable"))
        for student in (ada, bob):
            got = _wait(
                lambda s=student: (lambda c: c if len(c) == len(expected) else None)(_candles(stack, s)),
                120,
                f"{student}'s {len(expected)} candlesticks in schema {student}",
            )
            got = got.set_index(["ts_start", "currency_pair"])
            assert got["num_trades"].tolist() == expected["num_trades"].tolist()
            assert got["volume"].round(6).tolist() == expected["volume"].round(6).tolist()

        # cy's job failed (and is restarting), the others run on, and cy's schema holds no candlestick
        failures = _wait(
            lambda: _rest(address, f"/jobs/{jobs[cy]['jid']}/exceptions").get("exceptionHistory", {}).get("entries"),
            90,
            "cy's job to fail at its sink",
        )
        assert "refuses_every_row" in json.dumps(failures)
        states = {s: _rest(address, f"/jobs/{jobs[s]['jid']}")["state"] for s in (ada, bob)}
        assert states == {ada: "RUNNING", bob: "RUNNING"}, states
        assert _rest(address, f"/jobs/{jobs[ada]['jid']}/exceptions").get("exceptionHistory", {}).get("entries") == []
        assert len(_candles(stack, cy)) == 0
        with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:  # nothing in public
            cur.execute(
                "SELECT count(*) FROM public.candlesticks WHERE ts_start >= to_timestamp(%s) AND ts_start < to_timestamp(%s)",
                (T0 / 1000, T0 / 1000 + 600),
            )
            assert cur.fetchone()[0] == 0

        # status: ada sees her job only
        out = subprocess.run(
            [sys.executable, "-m", "workbook", "status"],
            cwd=PROJECT_ROOT,
            env=_env(ada, address),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert f"your Flink jobs (STUDENT_ID={ada})" in out.stdout, out.stdout + out.stderr
        assert jobs[ada]["jid"] in out.stdout
        assert jobs[bob]["jid"] not in out.stdout and jobs[cy]["jid"] not in out.stdout

        # bob replaces his job: his alone is cancelled
        code, said = _finished(_processor(bob, address, topic, "--replace"))
        assert code == 0, said
        assert f"cancelling Flink job {jobs[bob]['jid']}" in said
        assert jobs[ada]["jid"] not in said and jobs[cy]["jid"] not in said
        assert _job_of(address, ada)["jid"] == jobs[ada]["jid"]
        assert _job_of(address, cy)["jid"] == jobs[cy]["jid"]
        jobs[bob] = _job_of(address, bob)
        assert cluster_jobs.wait_for_state(address, jobs[bob]["jid"], "RUNNING", timeout=60) == "RUNNING"

        # too few slots: three jobs hold three of four; dan asks for more than are free
        free = _rest(address, "/overview")["slots-available"]
        code, said = _finished(_processor(dan, address, topic, "--parallelism", str(free + 1)))
        assert code == 1, said
        assert re.search(r"has \d+ free task slot\(s\) of \d+, and this job needs \d+", said), said
        assert "TASKMANAGER_SLOTS" in said
        assert _job_of(address, dan) is None
    finally:
        for student in (ada, bob, cy, dan):
            active = [j["jid"] for j in cluster_jobs.active_jobs(address, f"{student}: {pipeline_name(False)}")]
            for jid in active:
                cluster_jobs.cancel(address, jid)
            cluster_jobs.wait_until_gone(address, active)
        with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
            for student in (ada, bob, cy, dan):
                cur.execute(f"DROP SCHEMA IF EXISTS {student} CASCADE")
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def _workbook(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbook", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_students_up_status_and_down_under_stack_shared(stack, flink_cluster, tmp_path):
    """STACK=shared: `up` (what `make lab` runs) starts nothing, says the class's services answer and creates the
    student's schema; without STUDENT_ID it refuses; `down` leaves the class's services running."""
    student = f"eve_{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "STACK": "shared",
        "STUDENT_ID": student,
        # the class's addresses, as a student's .env gives them (under STACK=shared no chosen port is read)
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers,
        "POSTGRES_HOST": stack.postgres_host,
        "POSTGRES_PORT": str(stack.postgres_port),
        "FLINK_JOBMANAGER": flink_cluster.address,
        "WORKBOOK_STATE_DIR": str(tmp_path / "state"),  # the student's own folder: nothing of theirs runs
    }
    try:
        for command in (["-m", "workbook", "up"], ["-m", "workbook.processor", "--replace"]):  # no way around it
            out = subprocess.run(
                [sys.executable, *command],
                cwd=PROJECT_ROOT,
                env={**env, "STUDENT_ID": ""},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 2 and "STACK=shared needs STUDENT_ID" in out.stderr, out.stdout + out.stderr

        out = _workbook(env, "up", "--stream")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "kafka: up: a Kafka broker answers" in out.stdout and "postgres: up:" in out.stdout
        assert "flink: up:" in out.stdout and "nothing started here" in out.stdout
        with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (student,))
            assert cur.fetchone()[0] == 5  # candlesticks, volumes, late_trades, bad_records, assets
        assert not (tmp_path / "state" / "pgdata").exists()

        out = _workbook(env, "status")
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"your Flink jobs (STUDENT_ID={student}) on http://{flink_cluster.address}: none" in out.stdout

        out = _workbook(env, "down")
        assert out.returncode == 0 and "the class's services are the instructor's and keep running" in out.stdout
        assert _workbook(env, "status").returncode == 0  # still answering

        out = _workbook({**env, "POSTGRES_PORT": "1"}, "up")  # a wrong address: said, with the setting
        assert out.returncode == 0, out.stdout + out.stderr  # a report, as under STACK=docker: the notebooks say more
        assert "NOT ANSWERING" in out.stdout and "POSTGRES_HOST/POSTGRES_PORT" in out.stdout
        assert "the class's database is the instructor's" in out.stdout and "workbook up" not in out.stdout
    finally:
        with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {student} CASCADE")

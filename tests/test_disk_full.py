"""A full disk under the state folder, on a real tmpfs: `status` says PostgreSQL cannot write and names the disk
and its folder, `up` says the disk is full instead of a traceback (CREATE DATABASE, PostgreSQL's start, the
broker's pid file, the Flink cluster's configuration), nothing is left running without its pid file, and once
there is space again `up` and `status` are healthy with the data kept.

The stack of this test is its own (state folder on the tmpfs, free ports): the developer's stays untouched.
Mounting needs root (or CAP_SYS_ADMIN); where `mount` is refused, the test is skipped with mount's own words.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from workbook.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tmpfs():
    """A 128 MiB tmpfs, its root open to the non-root PostgreSQL user; unmounted afterwards."""
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("a tmpfs needs Linux and `mount`")
    where = Path(tempfile.mkdtemp(prefix="workbook-disk-full-", dir="/tmp"))
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128m,mode=0755", "tmpfs", str(where)], capture_output=True, text=True
    )
    if out.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {(out.stderr or out.stdout).strip()}")
    try:
        yield where
    finally:
        for proc in ours(where):  # what the test started and did not stop (none, if all went well)
            proc.kill()
        subprocess.run(["umount", "-l", str(where)], check=False)
        where.rmdir()


def fill(folder: Path) -> Path:
    """A file that takes every free byte of folder's disk."""
    filler = folder / "filler"
    chunk = b"\0" * 2**20
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    with open(filler, "ab", buffering=0) as f:  # the last partial MiB
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    assert shutil.disk_usage(folder).free < 2**16
    return filler


def workbook(env: dict, *args: str, **more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbook", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PROJECT_ROOT,
        env={**env, **more},
    )


def said(out: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    return out.stdout + out.stderr


def ours(where: Path) -> list[psutil.Process]:
    """The processes of the stack in `where`: named on their command line, or running in it (the broker runs in
    its state folder, which its command line does not name)."""
    return [
        p
        for p in psutil.process_iter(["cmdline", "cwd"])
        if str(where) in " ".join(p.info["cmdline"] or []) or str(where) in (p.info["cwd"] or "")
    ]


@pytest.mark.integration  # its own broker and PostgreSQL, on the tmpfs
def test_a_full_disk_is_said_by_status_and_up_and_recovered_from(tmpfs):
    state = tmpfs / "state"
    env = {
        **os.environ,
        "STACK": "embedded",
        "WORKBOOK_STATE_DIR": str(state),
        "POSTGRES_PORT": str(free_port()),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "FLINK_REST_PORT": str(free_port()),
        "FLINK_RPC_PORT": str(free_port()),
    }
    try:
        assert workbook(env, "up").returncode == 0
        filler = fill(tmpfs)

        # running, on a full disk: PostgreSQL answers but cannot write, and status says so
        out = workbook(env, "status")
        text = said(out)
        assert out.returncode == 3
        postgres = text[text.index("postgres ") : text.index("flink ")]
        assert "UNHEALTHY" in postgres and "cannot write" in postgres and "No space left on device" in postgres
        assert f"disk holding {state / 'pgdata'} is full" in postgres, postgres

        # up that must create a database: one line, the disk named
        out = workbook(env, "up", POSTGRES_DB="other")
        assert out.returncode == 2
        assert f"disk holding {state / 'pgdata'} is full" in said(out)
        assert "could not create the database 'other'" in out.stderr

        # the Flink cluster's configuration cannot be written: said before any JVM starts
        out = workbook(env, "up", "--flink")
        assert out.returncode == 2
        assert f"disk holding {state}" in said(out) and " is full" in out.stderr

        # stopped, then started on the full disk
        workbook(env, "down")
        out = workbook(env, "up")
        assert out.returncode == 2
        assert f"disk holding {state}" in said(out) and " is full" in out.stderr
        # what this up started before the disk stopped it (the broker) may run on, recorded for status and down
        recorded = {int(f.read_text()) for f in (state / "run").glob("*.pid")}
        unrecorded = [p for p in ours(tmpfs) if p.pid not in recorded]
        assert unrecorded == [], "a process left running without its pid file"

        # space again: up and status are healthy, and the results' tables are still there
        filler.unlink()
        out = workbook(env, "up")
        assert out.returncode == 0, said(out)
        out = workbook(env, "status")
        assert out.returncode == 0, said(out)
        assert "database 'db', 5 tables" in out.stdout
    finally:
        workbook(env, "down")

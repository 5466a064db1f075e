"""Two `python -m workbook up --stream` at once, from a cold start, on a scratch stack (its own ports and state
folder, so the developer's stack is not touched): one broker, one PostgreSQL, one producer, and nothing left
after `down` (issue 24, part 2). The processes are counted with psutil, by what they are, not by the pid files
the code under test keeps."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from workbook.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration
ROUNDS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scratch:
    """A stack of its own: ports nobody uses and a fresh state folder (under .state: as root, PostgreSQL runs as
    workbook_pg, which must be able to enter it; pytest's tmp folders are closed to other users)."""

    def __init__(self):
        (PROJECT_ROOT / ".state").mkdir(exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="concurrency-", dir=PROJECT_ROOT / ".state"))
        self.root.chmod(0o755)
        self.state = self.root / "state"
        self.kafka = f"127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "STACK": "embedded",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "POSTGRES_PORT": str(free_port()),
            "WORKBOOK_STATE_DIR": str(self.state),
            "PRODUCER_SOURCE": "synthetic",
            "PRODUCER_ARGS": "--speed 1 --rebase-time",
        }
        self.postmaster_family: set[int] = set()

    def workbook(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "workbook", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def run(self, *args: str, timeout: float = 180) -> tuple[int, str]:
        proc = self.workbook(*args)
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The scratch stack's processes, by kind: tansu brokers on its port, postmasters of its data folder,
        producers sending to its broker, and whatever a postmaster seen before had as children."""
        found = {"broker": [], "postgres": [], "producer": [], "postgres children": []}
        for p in psutil.process_iter():
            try:
                argv = p.cmdline()
                if p.name() == "tansu" and f"tcp://{self.kafka}" in argv:
                    found["broker"].append(p)
                elif argv and Path(argv[0]).name == "postgres" and str(self.state / "pgdata") in argv:
                    found["postgres"].append(p)
                elif argv[1:3] == ["-m", "producer"] and p.environ().get("KAFKA_BOOTSTRAP_SERVERS") == self.kafka:
                    found["producer"].append(p)
                elif p.pid in self.postmaster_family:
                    found["postgres children"].append(p)
            except psutil.Error:
                continue
        for master in found["postgres"]:
            try:
                self.postmaster_family |= {c.pid for c in master.children(recursive=True)}
            except psutil.Error:  # it, or a child, ended meanwhile
                continue
        return found

    def cleanup(self) -> None:
        """Whatever a failed round left: killed, and the state folder deleted."""
        for procs in self.processes().values():
            for p in procs:
                try:
                    p.kill()
                except psutil.Error:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def counts(found: dict[str, list[psutil.Process]]) -> dict[str, list[int]]:
    return {kind: sorted(p.pid for p in procs) for kind, procs in found.items() if procs}


@pytest.mark.slow
def test_two_cold_ups_at_once_start_one_stack_and_down_stops_it_all():
    t0 = time.monotonic()
    for round_ in range(1, ROUNDS + 1):
        scratch = Scratch()
        try:
            ups = [scratch.workbook("up", "--stream") for _ in range(2)]
            outs = [p.communicate(timeout=240)[0] for p in ups]
            for p, out in zip(ups, outs, strict=True):
                assert p.returncode == 0, f"round {round_}: an `up` failed:\n{out}"
            running = scratch.processes()
            assert [len(running[k]) for k in ("broker", "postgres", "producer")] == [1, 1, 1], (
                f"round {round_}: {counts(running)}\n" + "\n---\n".join(outs)
            )
            code, status = scratch.run("status")
            assert code == 0, f"round {round_}: status:\n{status}"
            for kind, name in (("broker", "broker"), ("postgres", "postgres"), ("producer", "stream")):
                line = next(line for line in status.splitlines() if line.startswith(name))
                assert "healthy" in line and str(running[kind][0].pid) in line, f"round {round_}:\n{status}"
            code, out = scratch.run("down")
            assert code == 0, f"round {round_}: down:\n{out}"
            left = counts(scratch.processes())
            assert not left, f"round {round_}: after `down`, still running: {left}\n{out}"
        finally:
            scratch.cleanup()
    print(f"{ROUNDS} rounds in {time.monotonic() - t0:.0f} s")


def start_producer(scratch: Scratch) -> subprocess.Popen:
    """A producer of this project sending to the scratch broker, in no pid file: one an earlier run left behind."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer", "--source", "synthetic", "--speed", "1"],
        cwd=PROJECT_ROOT,
        env=scratch.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(2)
    assert proc.poll() is None, "the stand-in producer did not start"
    return proc


def line_of(output: str, service: str) -> str:
    lines = output.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(service))
    return "\n".join(lines[i : i + 2])  # its row and its detail


def test_producers_and_brokers_out_of_the_pid_files_are_found_named_and_stopped():
    scratch = Scratch()
    try:
        code, out = scratch.run("up", "--stream")
        assert code == 0, out
        first = scratch.processes()
        broker, producer = first["broker"][0].pid, first["producer"][0].pid
        orphan = start_producer(scratch)
        run = scratch.state / "run"
        (run / "stream.pid").unlink()
        dead = subprocess.Popen(["true"])
        dead.wait()
        (run / "broker.pid").write_text(f"{dead.pid}\n")  # a pid file naming a process that is gone

        code, status = scratch.run("status")
        assert code == 0, status
        assert line_of(status, "broker").split()[:3] == ["broker", "healthy", str(broker)], status
        stream = line_of(status, "stream")
        assert "UNHEALTHY" in stream and f"pid {producer} " in stream and f"pid {orphan.pid} " in stream, status
        assert "2 producers send to 'trades'" in stream and "the stream is doubled" in stream, status

        code, out = scratch.run("up", "--stream")
        assert code == 0, out
        assert f"stream: stopping another producer sending to the same topic, pid {orphan.pid} (" in out, out
        assert (
            f"broker: already running at {scratch.kafka} (pid {broker}; its pid file was stale: now pid {broker})"
            in out
        )
        assert (run / "broker.pid").read_text() == f"{broker}\n"
        assert orphan.wait(10) is not None
        assert [p.pid for p in scratch.processes()["producer"]] == [producer]

        second = start_producer(scratch)
        code, out = scratch.run("down")
        assert code == 0, out
        assert f"stream: stopping (pids {producer}, {second.pid})" in out, out
        assert second.wait(10) is not None
        assert not counts(scratch.processes()), out
    finally:
        scratch.cleanup()


def test_down_racing_up_leaves_all_or_nothing_and_a_second_down_nothing():
    scratch = Scratch()
    try:
        up, down = scratch.workbook("up", "--stream"), scratch.workbook("down")
        outs = [p.communicate(timeout=240)[0] for p in (up, down)]
        assert (up.returncode, down.returncode) == (0, 0), "\n---\n".join(outs)
        found = scratch.processes()
        running = [len(found[kind]) for kind in ("broker", "postgres", "producer")]
        assert running in ([1, 1, 1], [0, 0, 0]), f"{running}\n" + "\n---\n".join(outs)
        code, out = scratch.run("down")
        assert code == 0, out
        assert not counts(scratch.processes()), out
    finally:
        scratch.cleanup()

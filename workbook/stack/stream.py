"""The background trade stream of `make lab`: `python -m producer` feeding the
broker, started and stopped like the other embedded services. Its processes
are every producer of this project sending to the broker of the configuration,
whoever started them: one left behind would double the stream."""

from __future__ import annotations

import os
import shlex
import sys

import psutil

from .. import kafka
from ..config import PROJECT_ROOT, file_setting, host_port
from . import procs
from .services import Service, ServiceError


class Stream(Service):
    name = "stream"

    @property
    def address(self) -> str:
        return f"{self.config.producer_source} -> {self.config.kafka_bootstrap_servers}/{self.config.kafka_topic}"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "producer",
            "--source",
            self.config.producer_source,
            *shlex.split(self.config.producer_args),
        ]

    def owns(self, pid: int) -> bool:
        return procs.cmdline(pid)[1:3] == ["-m", "producer"]

    def found(self) -> list[int]:
        return procs.matching(self._sends_here)

    def _sends_here(self, p: psutil.Process) -> bool:
        """A producer of this project (its program or its working folder in it) sending to our broker."""
        argv = p.cmdline()
        if argv[1:3] != ["-m", "producer"] or "--dry-run" in argv:
            return False
        program = argv[0] if os.path.isabs(argv[0]) else None  # a bare `python` says nothing of where
        inside = any(_within(path) for path in (program, p.cwd()) if path)
        return inside and _first_server(_target(p, argv)) == _first_server(self.config.kafka_bootstrap_servers)

    def too_many(self, pids: list[int]) -> str | None:
        if len(pids) < 2:
            return None
        return (
            f"{len(pids)} producers send to {self.config.kafka_topic!r} ({', '.join(map(procs.describe, pids))}): "
            "the stream is doubled. `python -m workbook up --stream` keeps one, `down` stops them all"
        )

    def health(self) -> tuple[bool, str]:
        try:  # the producer keeps running without its broker, sending nothing: say so
            kafka.check_broker(self.config.kafka_bootstrap_servers, timeout_s=1.0, metadata=False)
        except kafka.KafkaUnavailable:
            return False, (
                f"waiting for the broker at {self.config.kafka_bootstrap_servers} (unreachable): nothing is sent "
                "until it is back; `python -m workbook up` starts it, and the stream resumes by itself"
            )
        return True, f"running: {' '.join(self.argv()[1:])}"

    def state(self, healthy: bool) -> str | None:
        return None if healthy else "waiting"

    def start(self) -> None:
        # Where it sends, in its environment: `found` recognises it by that (.env may say otherwise by then).
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.config.kafka_bootstrap_servers,
            "KAFKA_TOPIC": self.config.kafka_topic,
        }
        pid = procs.start_detached(self.argv(), self.log_path, env=env, cwd=PROJECT_ROOT)
        # A producer that cannot reach the broker or parse its options exits at once.
        if procs.wait_until(lambda: not procs.is_alive(pid), timeout=3):
            refused = _options_refused(procs.tail(self.log_path, lines=1))
            if refused:  # the setting to fix, not the producer's usage text (20 lines) around its error
                raise ServiceError(
                    f"stream: python -m producer refused its options: {refused}. They come from "
                    f"PRODUCER_SOURCE={self.config.producer_source} and PRODUCER_ARGS={self.config.producer_args} "
                    "(.env, or the environment): fix them (`python -m producer --help` lists the options)"
                )
            raise self.died("exited right after starting")
        procs.record(self.state_dir, self.name, pid)


def _options_refused(last_line: str) -> str | None:
    """argparse's own error, the last line a producer that refused its options wrote, else None."""
    prefix = "python -m producer: error: "
    return last_line.strip().removeprefix(prefix) if last_line.strip().startswith(prefix) else None


def _target(p: psutil.Process, argv: list[str]) -> str:
    """The brokers producer `p` sends to, as it reads them: --bootstrap-servers (the last one given), else its
    environment's KAFKA_BOOTSTRAP_SERVERS, else the project's .env (producer/settings.py)."""
    given = None
    for i, arg in enumerate(argv):  # argparse takes the last one
        if arg == "--bootstrap-servers" and i + 1 < len(argv):
            given = argv[i + 1]
        elif arg.startswith("--bootstrap-servers="):
            given = arg.split("=", 1)[1]
    if given:
        return given
    try:
        from_env = p.environ().get("KAFKA_BOOTSTRAP_SERVERS")
    except psutil.Error:
        from_env = None
    return from_env or file_setting("KAFKA_BOOTSTRAP_SERVERS")


def _within(path: str) -> bool:
    """Whether `path` (the producer's program or working folder) is in this project."""
    absolute = os.path.abspath(path)
    return absolute == str(PROJECT_ROOT) or absolute.startswith(f"{PROJECT_ROOT}{os.sep}")


def _first_server(servers: str) -> tuple[str, int] | None:
    try:
        return host_port(servers.split(",")[0], 9092)
    except ValueError:
        return None

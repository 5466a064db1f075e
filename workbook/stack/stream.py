"""The background trade stream of `make lab`: `python -m producer` feeding the
broker, started and stopped like the other embedded services."""

from __future__ import annotations

import shlex
import sys

from .. import kafka
from ..config import PROJECT_ROOT
from . import procs
from .services import Service


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
        pid = procs.start_detached(self.state_dir, self.name, self.argv(), self.log_path, cwd=PROJECT_ROOT)
        # A producer that cannot reach the broker or parse its options exits at once.
        if procs.wait_until(lambda: not procs.is_alive(pid), timeout=3):
            procs.forget(self.state_dir, self.name)
            raise self.died("exited right after starting")

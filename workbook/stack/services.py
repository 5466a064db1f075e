"""What the embedded services have in common: a name, an address, a pid, a
log, a health check, and the error raised when one fails to start."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import procs
from ..config import Config


class ServiceError(RuntimeError):
    """A service could not start or stop; the message says what to do."""


@dataclass
class Status:
    name: str
    address: str
    pid: int | None
    healthy: bool
    detail: str
    log: Path
    rss_mb: float = 0.0


class Service:
    name = "service"

    def __init__(self, config: Config):
        self.config = config
        self.state_dir = config.workbook_state_dir

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    @property
    def address(self) -> str:
        raise NotImplementedError

    def pid(self) -> int | None:
        return procs.read_pid(self.state_dir, self.name)

    def health(self) -> tuple[bool, str]:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            procs.stop_pid(pid)
        procs.forget(self.state_dir, self.name)

    def status(self) -> Status:
        pid = self.pid()
        if pid is None:
            return Status(self.name, self.address, None, False, "stopped", self.log_path)
        ok, detail = self.health()
        return Status(self.name, self.address, pid, ok, detail, self.log_path, procs.process_rss_mb(pid))

    def died(self, what: str) -> ServiceError:
        return ServiceError(
            f"{self.name} {what}. Last lines of {self.log_path}:\n{procs.tail(self.log_path)}"
        )

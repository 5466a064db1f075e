"""What the embedded services have in common: a name, an address, a pid, a
log, a health check, and the error raised when one fails to start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from . import disk, procs


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
    state: str | None = None  # what `status` shows instead of healthy/UNHEALTHY/stopped (the stream's "waiting")


class Service:
    name = "service"
    setting = ""  # the .env setting of its address

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

    def running_address(self) -> str | None:
        """HOST:PORT where the running process listens (None: not running, or not known)."""
        return None

    def moved(self) -> str | None:
        """Why the running process is not the one the configuration asks for: it listens on
        another address (the pid file found it, the port of .env changed since); None if fine."""
        running = self.running_address()
        if running is None or running == self.address:
            return None
        return (
            f"{self.name}: the running {self.name} (pid {self.pid()}) listens on {running}, but {self.setting} "
            f"in the configuration says {self.address}. Either move it: `python -m workbook down`, then "
            f"`python -m workbook up` starts it on {self.address}{self.what_moving_keeps}; or set {self.setting} "
            f"back to where it runs ({running}) in .env."
        )

    what_moving_keeps = ""

    def state(self, healthy: bool) -> str | None:
        """A state of its own for `status` (None: healthy or UNHEALTHY)."""
        return None

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
        moved = self.moved()
        ok, detail = (False, moved) if moved else self.health()
        state = None if moved else self.state(ok)
        return Status(self.name, self.address, pid, ok, detail, self.log_path, procs.process_rss_mb(pid), state)

    def died(self, what: str) -> ServiceError:
        full = disk.full_note(self.state_dir)  # then the log may not hold the reason: it could not be written
        said = f"{self.name} {what}: {full}" if full else f"{self.name} {what}"
        return ServiceError(f"{said}. Last lines of {self.log_path}:\n{procs.tail(self.log_path)}")

"""What the embedded services have in common: a name, an address, its
processes (by pid file, and found by what they are: the port they hold, their
command line), a log, a health check, and the error raised when one fails to
start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Config, host_port
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

    def owns(self, pid: int) -> bool:
        """Whether process `pid` is one of this service's (a pid file's pid may since name another program)."""
        return True

    def found(self) -> list[int]:
        """This project's processes of this service found by what they are (the port they hold, their command
        line), whatever the pid files say: a pid file can be stale, or lost to a race."""
        return []

    def recorded_pid(self) -> int | None:
        pid = procs.read_pid(self.state_dir, self.name)
        return pid if pid is not None and self.owns(pid) else None

    def pids(self) -> list[int]:
        """Its processes: the recorded one first, then those found."""
        return list(dict.fromkeys(p for p in (self.recorded_pid(), *self.found()) if p is not None))

    def pid(self) -> int | None:
        pids = self.pids()
        return pids[0] if pids else None

    def adopt(self) -> str | None:
        """Record the running process in the pid file when the file lost it; what was done, or None."""
        pid, recorded = self.pid(), self.recorded_pid()
        if pid is None or pid == recorded:
            return None
        procs.record(self.state_dir, self.name, pid)
        return f"its pid file {'was stale' if recorded is None else f'named pid {recorded}'}: now pid {pid}"

    def too_many(self, pids: list[int]) -> str | None:
        """Why more than one process of this service is wrong; None if it is not."""
        if len(pids) < 2:
            return None
        return (
            f"{len(pids)} {self.name} processes of this project run ({', '.join(map(procs.describe, pids))}): "
            f"`python -m workbook down` stops them all, then `python -m workbook up` starts one"
        )

    def health(self) -> tuple[bool, str]:
        raise NotImplementedError

    def running_address(self) -> str | None:
        """HOST:PORT where the running process listens (None: not running, or not known)."""
        return None

    def moved(self) -> str | None:
        """Why the running process is not the one the configuration asks for: it listens on
        another address (the pid file found it, the port of .env changed since); None if fine."""
        running = self.running_address()
        if running is None or _same_address(running, self.address):
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
        for pid in self.pids():
            procs.stop_pid(pid)
        procs.forget(self.state_dir, self.name)

    def status(self) -> Status:
        pids = self.pids()
        if not pids:
            return Status(self.name, self.address, None, False, "stopped", self.log_path)
        problem = self.moved() or self.too_many(pids)
        ok, detail = (False, problem) if problem else self.health()
        state = None if problem else self.state(ok)
        rss = sum(procs.process_rss_mb(p) for p in pids)
        return Status(self.name, self.address, pids[0], ok, detail, self.log_path, rss, state)

    def died(self, what: str) -> ServiceError:
        full = disk.full_note(self.state_dir)  # then the log may not hold the reason: it could not be written
        said = f"{self.name} {what}: {full}" if full else f"{self.name} {what}"
        return ServiceError(f"{said}. Last lines of {self.log_path}:\n{procs.tail(self.log_path)}")


def _same_address(one: str, other: str) -> bool:
    """HOST:PORT spelt two ways for one place: localhost is 127.0.0.1 (config.host_port)."""
    try:
        return host_port(one, 0) == host_port(other, 0)
    except ValueError:
        return one == other

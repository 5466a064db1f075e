"""One `up` or `down` at a time per state folder: an exclusive lock on `<state>/run/stack.lock`, which holds the
holder's pid and command. fcntl.flock (stdlib) is released by the OS when its holder dies, however it dies, so a
killed holder never blocks the next command; the pid it left in the file is then only reported."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import procs
from .services import ServiceError

TIMEOUT = 600.0  # seconds a command waits for another one: `up --flink` on a busy laptop takes a few minutes
# the locks this thread holds: a nested `up` in the same thread does not wait for itself; another thread of the
# process (a notebook's) waits like another process
_local = threading.local()


def _held() -> set[Path]:
    if not hasattr(_local, "held"):
        _local.held = set()
    return _local.held


def lock_path(state_dir: Path) -> Path:
    return state_dir / "run" / "stack.lock"


def _holder(path: Path) -> tuple[int | None, str]:
    """The pid and command written in the lock file (None, "" if empty or unreadable)."""
    try:
        pid, _, command = path.read_text().strip().partition(" ")
        return int(pid), command
    except (OSError, ValueError):
        return None, ""


def _describe(pid: int | None, command: str) -> str:
    return f"pid {pid} ({command})" if pid else "another command (it is just starting)"


@contextmanager
def held(state_dir: Path, command: str, say=print, timeout: float = TIMEOUT) -> Iterator[None]:
    """Hold the state folder's lock while the block runs; `command` (e.g. "python -m workbook up --stream") is what
    another command waiting for it is told. Waits for a live holder, saying who it is, and raises ServiceError
    naming it after `timeout` seconds."""
    path = lock_path(state_dir)
    if path in _held():
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ServiceError(
            f"cannot open the stack's lock file {path} ({exc.strerror}): WORKBOOK_STATE_DIR in .env must name a "
            "folder you can write to."
        ) from None
    try:
        _acquire(fd, path, say, timeout)
        pid, previous = _holder(path)
        if pid is not None and pid != os.getpid() and not procs.is_alive(pid):
            say(f"taking over the stack's lock {path}: its holder, {_describe(pid, previous)}, is gone")
        os.ftruncate(fd, 0)
        try:
            os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        except OSError:  # a full disk: the flock alone is the lock (a waiter cannot name us); the command goes on
            pass  # and says what the full disk stops, if anything
        _held().add(path)
        try:
            yield
        finally:
            _held().discard(path)
            os.ftruncate(fd, 0)  # an empty file: released cleanly (a pid left in it means its holder died)
    finally:
        os.close(fd)  # closing releases the flock


def _acquire(fd: int, path: Path, say, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    told = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        pid, command = _holder(path)
        holder = _describe(pid, command)
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"gave up after {timeout:g} s waiting for {holder}, which still holds the stack's lock {path}: "
                "let it finish (or stop it), then run the command again."
            )
        if pid is not None and holder != told:  # said once per holder (named once it has written its pid)
            say(f"waiting for {holder}, which is starting or stopping this stack: one command at a time")
            told = holder
        time.sleep(0.2)

"""Background processes of the embedded stack: start detached with a log file,
record them in a pid file under the state folder, find them again (by pid file
or by what they are), stop them."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import deque
from pathlib import Path

import psutil


def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"


def read_pid(state_dir: Path, name: str) -> int | None:
    """The pid recorded for `name`, if that process still runs (not a zombie)."""
    path = pid_file(state_dir, name)
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if is_alive(pid) else None


def is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_detached(
    argv: list[str],
    log_path: Path,
    env: dict | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start argv in its own session (it outlives this Python process), output to log_path;
    as `user` (with that user's group only) when given. The caller records the pid (`record`) once the
    process does its job (holds its port): a pid file never names a process that lost a race for it."""
    drop = {}
    if user:
        import pwd

        ids = pwd.getpwnam(user)
        drop = dict(user=ids.pw_uid, group=ids.pw_gid, extra_groups=[])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            **drop,
        )
    return proc.pid


def record(state_dir: Path, name: str, pid: int) -> None:
    path = pid_file(state_dir, name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{pid}\n")
    except OSError:  # a full disk: the process is stopped rather than left running unrecorded
        stop_pid(pid)
        path.unlink(missing_ok=True)
        raise


def matching(predicate) -> list[int]:
    """The pids of the live processes for which predicate(psutil.Process) is true (errors: not matching)."""
    pids = []
    for p in psutil.process_iter():
        try:
            if p.status() != psutil.STATUS_ZOMBIE and predicate(p):
                pids.append(p.pid)
        except psutil.Error:
            continue
    return pids


def matching_pid(pid: int, predicate) -> bool:
    """Whether process `pid` lives and predicate(psutil.Process) is true for it (errors: false)."""
    try:
        return is_alive(pid) and bool(predicate(psutil.Process(pid)))
    except psutil.Error:
        return False


def cmdline(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def describe(pid: int) -> str:
    """`pid N (command line)`, the command line cut at 100 characters."""
    return f"pid {pid} ({' '.join(cmdline(pid))[:100]})"


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process (and its children), SIGKILL what is left after timeout. A zombie counts as stopped:
    its parent (maybe not us) reaps it."""
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return
    procs = [proc] + children(proc)
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    wait_until(lambda: not any(is_alive(p.pid) for p in procs), timeout)
    for p in procs:
        try:
            if is_alive(p.pid):
                p.kill()
        except psutil.Error:
            pass
    wait_until(lambda: not any(is_alive(p.pid) for p in procs), 5)


def children(proc: psutil.Process) -> list[psutil.Process]:
    """Its children, recursively; a child that ends while they are listed makes psutil fail: listed again."""
    for _ in range(3):
        try:
            return proc.children(recursive=True)
        except psutil.Error:
            continue
    return []


def forget(state_dir: Path, name: str) -> None:
    pid_file(state_dir, name).unlink(missing_ok=True)


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(deque(f, maxlen=lines)).rstrip()
    except OSError:
        return f"(no log at {path})"


def wait_until(predicate, timeout: float, interval: float = 0.2, while_alive: int | None = None) -> bool:
    """Poll predicate until true or timeout; stop early when process while_alive has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if while_alive is not None and not is_alive(while_alive):
            return bool(predicate())
        time.sleep(interval)
    return bool(predicate())


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return 0.0
    procs = [proc] + children(proc)
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def option_of(pid: int | None, option: str, strip: str = "") -> str | None:
    """The value after `option` on the command line of process `pid` (None if not found)."""
    if pid is None:
        return None
    try:
        argv = psutil.Process(pid).cmdline()
    except psutil.Error:
        return None
    for flag, value in zip(argv[:-1], argv[1:], strict=True):
        if flag == option:
            return value.removeprefix(strip)
    return None

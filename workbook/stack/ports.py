"""Is a TCP port free, and if not, who holds it (which process, which user); which processes listen on it."""

from __future__ import annotations

import pwd
import socket
from pathlib import Path

import psutil

from . import procs
from .services import ServiceError


class PortInUse(ServiceError):
    """A port of a service is held by another process (before or while the service started)."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listening_pids(port: int) -> list[int]:
    """The pids of the processes listening on TCP `port` that this user can see (on macOS, where only root
    sees every socket, this user's own processes)."""
    try:
        return sorted({c.pid for c in psutil.net_connections(kind="tcp") if c.pid and _listens_on(c, port)})
    except psutil.AccessDenied:
        pass
    except psutil.Error:
        return []
    pids = []
    for p in psutil.process_iter():
        try:
            if any(_listens_on(c, port) for c in p.net_connections(kind="tcp")):
                pids.append(p.pid)
        except psutil.Error:
            continue
    return pids


def held_by(port: int, pid: int) -> bool:
    """Whether process `pid` listens on `port`. Its children count as it: a socket shared with a child just
    forked (PostgreSQL's) may be reported as the child's."""
    try:
        family = {pid, *(c.pid for c in procs.children(psutil.Process(pid)))}
    except psutil.Error:
        return False
    return bool(family & set(listening_pids(port)))


def _listens_on(conn, port: int) -> bool:
    return bool(conn.laddr) and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN


def listener_user(port: int) -> str | None:
    """The user owning the socket listening on TCP `port`, from Linux's /proc/net/tcp (which every user may
    read, other users' sockets included); None elsewhere or when none listens."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()  # sl local_address rem_address st ... uid
            if len(cols) > 7 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                try:
                    return pwd.getpwuid(int(cols[7])).pw_name
                except (KeyError, ValueError):
                    return f"uid {cols[7]}"
    return None


def holder_of(port: int) -> str:
    """A human description of the process listening on `port`, as far as we can see: its pid, user and command
    (another user's process: its user only, unless we are root)."""
    user = listener_user(port)
    of_user = f", user {user}" if user else ""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # macOS shows other processes' sockets to root only
        return f"a process this user cannot see (`lsof -nP -iTCP:{port} -sTCP:LISTEN` names it)"
    except psutil.Error:
        conns = []
    for c in conns:
        if _listens_on(c, port):
            if c.pid is None:
                return f"another user's process (user {user})" if user else "a process this user cannot see"
            try:
                p = psutil.Process(c.pid)
                cmd = " ".join(p.cmdline())[:120] or p.name()
                return f"pid {c.pid}{of_user} ({cmd})"
            except psutil.Error:
                return f"pid {c.pid}{of_user}"
    if user:
        return f"another user's process (user {user})"
    return "another socket (not listening yet, or owned by another user)"


def free_port(host: str, start: int, avoid: set[int] = frozenset(), tries: int = 500) -> int | None:
    """The first free port from `start` upwards that is not in `avoid` (None after `tries` ports)."""
    for port in range(start, min(start + tries, 65536)):
        if port not in avoid and port_is_free(host, port):
            return port
    return None


def ensure_free(host: str, port: int, service: str, setting: str) -> None:
    if not port_is_free(host, port):
        raise PortInUse(
            f"{service}: port {port} on {host} is already in use by {holder_of(port)}. "
            f"Stop that process, or give {service} another port with {setting} in .env."
        )


def taken_meanwhile(service: str, host: str, port: int) -> PortInUse:
    """The error of a port another process took between our check and our server's start (a user starting at the
    same moment): `up` then chooses another port, unless .env set this one."""
    return PortInUse(f"{service}: port {port} on {host} was taken by {holder_of(port)} while ours started.")

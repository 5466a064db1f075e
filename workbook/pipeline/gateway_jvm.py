"""The PyFlink JVM of this process as an operating-system process (psutil): found by the Py4J port it
listens on, killed when it stops answering, and what it leaves behind removed. Only the notebooks' session
uses it (the processor never restarts its JVM), so psutil stays out of the processor's image."""

from __future__ import annotations

import os

import psutil

PLANNER_JAR = "flink-table-planner_"  # Flink extracts its planner jar (43 MB) to the temporary folder per JVM


def find(port: int | None) -> psutil.Process | None:
    """The child process that listens on `port` (PyFlink's JVM), or None."""
    if port is None:
        return None
    for child in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == port for c in child.net_connections("tcp")):
                return child
        except psutil.Error:
            continue
    return None


def scratch_files(process: psutil.Process | None) -> list[str]:
    """The files `process` deletes only when it exits normally: Flink's planner jar; a killed JVM leaves it."""
    if process is None:
        return []
    try:
        return [f.path for f in process.open_files() if os.path.basename(f.path).startswith(PLANNER_JAR)]
    except psutil.Error:
        return []


def end(process: psutil.Process | None, files=()) -> None:
    """Kill `process` if it still runs (it may hang or have lost its Py4J server) and remove its scratch files."""
    if process is not None:
        try:
            process.kill()
            process.wait(10)  # reaps it
        except (psutil.Error, psutil.TimeoutExpired):
            pass
    for path in files:
        try:
            os.remove(path)
        except OSError:
            pass

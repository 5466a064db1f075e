"""What the browser tests share: JupyterLab started on a free port with a random token and
a fresh profile (the `start_lab` fixture: each test says how to start it), and
run_notebook.js driving Debian's headless Chromium through a notebook (`Lab.run_notebook`).

The browser side is run_notebook.js (playwright-core from package-lock.json, driving
/usr/bin/chromium; no browser download). Screenshots and JupyterLab logs are kept in
test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# A fresh JupyterLab profile for the test: default settings, except no news
# toast over the chart and no autosave (which would write outputs into the repo).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # every cell in the DOM, so that the whole dashboard can be found and photographed
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_node_deps() -> None:
    """playwright-core as pinned in package-lock.json (`npm ci` if missing or stale)."""
    pinned = json.loads((HERE / "package.json").read_text())["dependencies"]["playwright-core"]
    installed = HERE / "node_modules" / "playwright-core" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == pinned:
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("the browser test needs Node.js >= 20 with npm (for playwright-core)")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"npm ci in {HERE} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def stop_lab(proc: subprocess.Popen) -> None:
    """End JupyterLab (started in a session of its own): its process group (for `make lab`:
    make, jupyter), then the kernels it started in sessions of their own; services
    `workbook up` started are left running, as after a student's Ctrl-C."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    groups = {proc.pid}
    for p in family:
        try:
            if any("ipykernel" in part for part in p.cmdline()):
                groups.add(os.getpgid(p.pid))
        except (psutil.Error, OSError):
            pass
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # jupyter shuts its kernels down on SIGTERM
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _, alive = psutil.wait_procs(family, timeout=10)
    for p in alive:
        try:
            if os.getpgid(p.pid) in groups:
                p.kill()
        except (psutil.Error, OSError):
            pass


@dataclass
class Lab:
    """A JupyterLab server that a test started: its address, token and log, and the notebook to open."""

    notebook: Path  # in notebooks/, checked to exist
    base_url: str
    token: str
    log: Path
    served_from: Path = ROOT / "notebooks"  # the server's root: `make lab` serves the project's
    artifacts: Path = ARTIFACTS  # test-artifacts/browser/: the logs and the screenshots

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)

    def run_notebook(self, screenshot: str, run_timeout: int, *options: str) -> dict:
        """Open the notebook in headless Chromium, Run All Cells (run_notebook.js, `options`
        added) and return the driver's RESULT; `screenshot`, a file in `artifacts`, is taken afresh."""
        screenshot = self.artifacts / screenshot
        screenshot.unlink(missing_ok=True)
        cmd = [
            "node",
            str(HERE / "run_notebook.js"),
            "--base-url",
            self.base_url,
            "--token",
            self.token,
            "--notebook",
            self.notebook.relative_to(self.served_from).as_posix(),
            "--screenshot",
            str(screenshot),
            "--run-timeout",
            str(run_timeout),
            "--executable",
            CHROMIUM,
            *options,
        ]
        driver = subprocess.Popen(
            cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            out, err = driver.communicate(timeout=run_timeout + 300)
        except subprocess.TimeoutExpired:
            os.killpg(driver.pid, signal.SIGKILL)  # node and its Chromium
            out, err = driver.communicate()
            pytest.fail(f"the browser driver hung; its log:\n{err[-4000:]}")
        print(err)
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        assert lines, f"the browser driver exited with {driver.returncode} and no result:\n{out[-2000:]}\n{err[-4000:]}"
        return json.loads(lines[-1][len("RESULT ") :])

    @staticmethod
    def cell_errors(result: dict) -> list[str]:
        """The error outputs of the notebook's cells in a RESULT, without ANSI colours."""
        return [re.sub(r"\x1b\[[0-9;]*m", "", e) for e in result["notebook"]["errors"]]

    @staticmethod
    def cells_not_run(result: dict) -> list[int]:
        """The numbers (from 1) of the code cells of a RESULT that have source but no execution count."""
        state = result["notebook"]
        return [
            i + 1
            for i, (prompt, empty) in enumerate(zip(state["prompts"], state["emptyCells"], strict=True))
            if not empty and not re.fullmatch(r"\[\d+\]:", prompt)
        ]


@pytest.fixture
def start_lab(tmp_path):
    """start_lab(notebook, command, log, timeout, what, served_from=notebooks/, **env) -> Lab: checks Chromium,
    playwright-core and notebooks/<notebook>, then runs `command(port, token)` (`what`: a
    JupyterLab serving `served_from` on 127.0.0.1:port with that token) from the project's root
    in a session of its own, with a fresh JupyterLab profile and `env` added to the environment,
    its output into `log` (a file in test-artifacts/browser/); returns once JupyterLab answers
    (within `timeout` s). Stopped at the end of the test."""
    started = []

    def start(
        notebook: str, command, log: str, timeout: int, what: str, served_from: Path = ROOT / "notebooks", **env: str
    ) -> Lab:
        if not os.access(CHROMIUM, os.X_OK):
            pytest.fail(
                f"no Chromium at {CHROMIUM}: `make test-browser` installs Debian's chromium (apt-get install -y chromium)"
            )
        path = ROOT / "notebooks" / notebook
        if not path.exists():
            pytest.fail(f"{path} is missing")
        ensure_node_deps()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = ARTIFACTS / log
        for rel, values in LAB_SETTINGS.items():
            settings = tmp_path / "lab-settings" / rel
            settings.parent.mkdir(parents=True, exist_ok=True)
            settings.write_text(json.dumps(values))
        (tmp_path / "lab-workspaces").mkdir()
        port, token = free_port(), secrets.token_hex(24)
        env = dict(
            os.environ,
            JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
            **env,
        )
        with log.open("w") as out:
            proc = subprocess.Popen(
                command(port, token),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        started.append(proc)
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{what} exited with {proc.returncode} before JupyterLab answered; {log}:\n{tail(log)}")
            try:
                req = urllib.request.Request(f"{base_url}/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=5) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {base_url} within {timeout}s; {log}:\n{tail(log)}")
            time.sleep(1)
        return Lab(path, base_url, token, log, served_from)

    yield start
    for proc in started:
        stop_lab(proc)

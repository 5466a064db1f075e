"""The dashboard as a student sees it: JupyterLab started by `make lab`, the
dashboard notebook opened in Debian's headless Chromium, Run > Run All Cells,
and the Plotly candlestick chart found in the page. Then, as a student would:
pick another pair in the dashboard's dropdown and see the candlestick title
change; run another cell while the live view refreshes and see both.

The browser side is run_notebook.js (playwright-core from package-lock.json,
driving /usr/bin/chromium; no browser download). `make test-browser` installs
Debian's chromium and the npm package when missing and runs this file.
The screenshots are kept in test-artifacts/browser/: dashboard.png (the whole
interactive dashboard) and page.png (the page at the end).
"""

from __future__ import annotations

import hashlib
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
from pathlib import Path

import psutil
import pytest

NOTEBOOK = "07_dashboard.ipynb"  # in notebooks/, the folder `make lab` serves
RUN_TIMEOUT = 420  # s for Run All Cells (the bounded Flink job takes 30-60 s, 2 min on a busy machine)
LAB_START_TIMEOUT = 300  # s for `make lab` to answer (services, maybe the venv)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SCREENSHOT = ARTIFACTS / "dashboard.png"
LAB_LOG = ARTIFACTS / "lab.log"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# A fresh JupyterLab profile for the test: default settings, except no news
# toast over the chart and no autosave (which would write outputs into the repo).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # every cell in the DOM, so that the whole dashboard can be found and photographed
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

pytestmark = pytest.mark.browser


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_node_deps() -> None:
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


def _stop(proc: subprocess.Popen) -> None:
    """End `make lab`: its process group (make, jupyter), then the kernels it
    started in sessions of their own; services `workbook up` started are left
    running, as after a student's Ctrl-C."""
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


@pytest.fixture
def prerequisites():
    """Chromium, playwright-core and the notebook, checked before JupyterLab starts."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test-browser` installs Debian's chromium (apt-get install -y chromium)"
        )
    notebook = ROOT / "notebooks" / NOTEBOOK
    if not notebook.exists():
        pytest.fail(f"{notebook} is missing")
    _ensure_node_deps()
    return notebook


@pytest.fixture
def lab(prerequisites, tmp_path):
    """JupyterLab exactly as `make lab` starts it, on a free port with a random token."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for rel, values in LAB_SETTINGS.items():
        path = tmp_path / "lab-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    (tmp_path / "lab-workspaces").mkdir()
    port, token = _free_port(), secrets.token_hex(24)
    args = (
        f"--no-browser --port={port} --IdentityProvider.token={token} "
        "--ServerApp.open_browser=False --ServerApp.port_retries=0"
    )
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    with LAB_LOG.open("w") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"JUPYTER_ARGS={args}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"`make lab` exited with {proc.returncode} before JupyterLab answered; {LAB_LOG}:\n{_tail(LAB_LOG)}"
                )
            try:
                req = urllib.request.Request(f"{base_url}/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=5) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterLab did not answer on {base_url} within {LAB_START_TIMEOUT}s; {LAB_LOG}:\n{_tail(LAB_LOG)}"
                )
            time.sleep(1)
        yield base_url, token
    finally:
        _stop(proc)


def test_dashboard_candlestick_in_browser(prerequisites, lab):
    notebook = prerequisites
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    base_url, token = lab
    SCREENSHOT.unlink(missing_ok=True)

    cmd = [
        "node",
        str(HERE / "run_notebook.js"),
        "--base-url",
        base_url,
        "--token",
        token,
        "--notebook",
        NOTEBOOK,
        "--screenshot",
        str(SCREENSHOT),
        "--run-timeout",
        str(RUN_TIMEOUT),
        "--executable",
        CHROMIUM,
    ]
    driver = subprocess.Popen(
        cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = driver.communicate(timeout=RUN_TIMEOUT + 300)
    except subprocess.TimeoutExpired:
        os.killpg(driver.pid, signal.SIGKILL)  # node and its Chromium
        out, err = driver.communicate()
        pytest.fail(f"the browser driver hung; its log:\n{err[-4000:]}")
    print(err)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the browser driver exited with {driver.returncode} and no result:\n{out[-2000:]}\n{err[-4000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    shot = result.get("screenshot")
    print(f"screenshot: {shot}")

    def explain(what: str) -> str:
        console = "\n  ".join(result.get("consoleErrors") or []) or "(none)"
        return (
            f"{what}\nscreenshot: {shot}\nbrowser console errors:\n  {console}\n"
            f"notebook state: {json.dumps({k: v for k, v in (result.get('notebook') or {}).items() if k != 'errors'})}\n"
            f"JupyterLab log {LAB_LOG} (tail):\n{_tail(LAB_LOG, 25)}"
        )

    assert result["ok"], explain(f"in the browser, while '{result['stage']}': {result['error']}")
    state = result["notebook"]
    errors = [re.sub(r"\x1b\[[0-9;]*m", "", e) for e in state["errors"]]
    assert not errors, explain("a cell produced an error output:\n" + "\n\n".join(errors))
    not_run = [
        i + 1
        for i, (prompt, empty) in enumerate(zip(state["prompts"], state["emptyCells"]))
        if not empty and not re.fullmatch(r"\[\d+\]:", prompt)
    ]
    assert not not_run, explain(f"code cells {not_run} did not run (prompts {state['prompts']})")

    candles = [(plot, trace) for plot in result["plots"] for trace in plot["traces"] if trace["type"] == "candlestick"]
    assert candles, explain(f"no Plotly candlestick chart in the page; charts: {result['plots']}")
    plot, trace = max(candles, key=lambda pt: pt[1]["points"])
    assert trace["points"] > 0, explain(f"the candlestick trace has no data points: {plot}")
    assert plot["candlestickBoxes"] > 0 and plot["width"] > 0 and plot["height"] > 0, explain(
        f"the candlestick chart was not drawn: {plot}"
    )
    print(
        f"candlestick '{trace['name']}': {trace['points']} points, {plot['candlestickBoxes']} boxes drawn; "
        f"all charts: {[[t['type'] for t in p['traces']] for p in result['plots']]}; "
        f"timings: {result['timings']}"
    )
    assert SCREENSHOT.stat().st_size > 0

    # The interactive dashboard: every panel of the JSON, and the pair picker redraws it.
    picker = result["picker"]
    shown, redrawn = picker["before"], picker.get("after")
    assert shown and len(shown["options"]) > 1, explain(f"the pair picker has no other pair: {shown}")
    assert shown["titles"][:1] == [f"Candlesticks · {shown['selected']}"], explain(f"titles: {shown['titles']}")
    assert [t.split(" · ")[0] for t in shown["titles"]] == [
        "Candlesticks",
        "Bought and sold volume",
        "Net volume (bought - sold)",
        "Trades per minute",
    ], explain(f"the dashboard's panels: {shown['titles']}")
    assert redrawn and redrawn["candleTitle"] == f"Candlesticks · {picker['picked']}", explain(
        f"picking {picker['picked']!r} did not change the candlestick title: {redrawn}"
    )
    assert redrawn["selected"] == picker["picked"]
    print(f"picker: {shown['candleTitle']!r} -> {redrawn['candleTitle']!r}; traces {redrawn['traces']}")

    # The live view refreshes in the background while another cell runs.
    live = result["live"]
    assert live["refreshesBefore"] >= 1 and live["refreshesAfter"] > live["refreshesBefore"], explain(
        f"the live view did not refresh: {live['before']} -> {live['after']}"
    )
    assert live["cellAfter"]["prompt"] != live["cellBefore"]["prompt"] and "trades of" in live["cellAfter"]["output"], (
        explain(f"the other cell did not run while the live view refreshed: {live}")
    )
    assert live["cellSeconds"] < 10, explain(f"the other cell waited {live['cellSeconds']} s: the kernel was busy")
    print(
        f"live: refresh {live['refreshesBefore']} -> {live['refreshesAfter']} ({live['after']['status']}); "
        f"other cell {live['cellBefore']['prompt']} -> {live['cellAfter']['prompt']} in {live['cellSeconds']} s"
    )
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before, (
        f"the browser session changed {notebook} (it must not save outputs into the repo)"
    )

"""The watermark lab as a student sees it: JupyterLab, the notebook opened in Debian's
headless Chromium, Run > Run All Cells (run_notebook.js, as for the dashboard), and the
Plotly timeline found in the page; its screenshot is kept in
test-artifacts/browser/watermark_lab.png.

The lab needs no services (a simulation in Python), so JupyterLab is started directly
with this Python, not with `make lab` (which also starts the stack and the producer).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from test_dashboard_browser import (  # the same runner and helpers as the dashboard's test
    ARTIFACTS,
    CHROMIUM,
    HERE,
    LAB_SETTINGS,
    ROOT,
    _ensure_node_deps,
    _free_port,
    _stop,
    _tail,
)

NOTEBOOK = "04_watermark_lab.ipynb"  # in notebooks/
SCREENSHOT = ARTIFACTS / "watermark_lab.png"
LAB_LOG = ARTIFACTS / "watermark_lab_jupyter.log"
RUN_TIMEOUT = 180
LAB_START_TIMEOUT = 120

pytestmark = pytest.mark.browser


@pytest.fixture
def lab_server(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    if not (ROOT / "notebooks" / NOTEBOOK).exists():
        pytest.fail(f"notebooks/{NOTEBOOK} is missing")
    _ensure_node_deps()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for rel, values in LAB_SETTINGS.items():
        path = tmp_path / "lab-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    (tmp_path / "lab-workspaces").mkdir()
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--ip=127.0.0.1",
        "--notebook-dir=notebooks",
        "--no-browser",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with LAB_LOG.open("w") as log:
        proc = subprocess.Popen(
            cmd,
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
                pytest.fail(f"JupyterLab exited with {proc.returncode}; {LAB_LOG}:\n{_tail(LAB_LOG)}")
            try:
                req = urllib.request.Request(f"{base_url}/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(req, timeout=5) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {LAB_START_TIMEOUT}s; {LAB_LOG}:\n{_tail(LAB_LOG)}")
            time.sleep(1)
        yield base_url, token
    finally:
        _stop(proc)


def test_watermark_lab_timeline_in_browser(lab_server):
    notebook = ROOT / "notebooks" / NOTEBOOK
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    base_url, token = lab_server
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
        "--focus-trace",
        "watermark",
    ]
    driver = subprocess.Popen(
        cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = driver.communicate(timeout=RUN_TIMEOUT + 300)
    except subprocess.TimeoutExpired:
        os.killpg(driver.pid, signal.SIGKILL)
        out, err = driver.communicate()
        pytest.fail(f"the browser driver hung; its log:\n{err[-4000:]}")
    print(err)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the browser driver exited with {driver.returncode} and no result:\n{out[-2000:]}\n{err[-4000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    where = f"screenshot: {result.get('screenshot')}; JupyterLab log {LAB_LOG}:\n{_tail(LAB_LOG, 25)}"
    assert result["ok"], f"in the browser, while '{result['stage']}': {result['error']}\n{where}"
    state = result["notebook"]
    errors = [re.sub(r"\x1b\[[0-9;]*m", "", e) for e in state["errors"]]
    assert not errors, "a cell produced an error output:\n" + "\n\n".join(errors)
    not_run = [
        i + 1
        for i, (prompt, empty) in enumerate(zip(state["prompts"], state["emptyCells"], strict=True))
        if not empty and not re.fullmatch(r"\[\d+\]:", prompt)
    ]
    assert not not_run, f"code cells {not_run} did not run (prompts {state['prompts']})"
    timelines = [p for p in result["plots"] if any(t["name"] == "watermark" for t in p["traces"])]
    assert timelines, f"no timeline (a chart with a 'watermark' line) in the page: {result['plots']}\n{where}"
    names = {t["name"] for t in timelines[0]["traces"]}
    assert "window closes" in names and any(n.startswith("late trade") for n in names), names
    assert timelines[0]["width"] > 0 and timelines[0]["height"] > 0
    # the slider's timeline and the two-partition one are drawn too
    assert any("watermark (min over partitions)" in {t["name"] for t in p["traces"]} for p in result["plots"])
    print(f"{len(result['plots'])} charts; timeline traces {sorted(names)}; timings {result['timings']}")
    assert SCREENSHOT.stat().st_size > 0
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before, "the browser session changed the notebook"

"""The watermark lab as a student sees it: JupyterLab, the notebook opened in Debian's
headless Chromium, Run > Run All Cells (run_notebook.js, as for the dashboard), and the
Plotly timeline found in the page; its screenshot is kept in
test-artifacts/browser/watermark_lab.png.

The lab needs no services (a simulation in Python), so JupyterLab is started directly
with this Python, not with `make lab` (which also starts the stack and the producer).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

NOTEBOOK = "04_watermark_lab.ipynb"  # in notebooks/
SCREENSHOT = "watermark_lab.png"  # in test-artifacts/browser/, as the log
LAB_LOG = "watermark_lab_jupyter.log"
RUN_TIMEOUT = 180
LAB_START_TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser


@pytest.fixture
def lab(start_lab):
    """JupyterLab started directly with this Python (the project on its PYTHONPATH)."""

    def jupyter_lab(port: int, token: str) -> list[str]:
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
        return cmd

    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return start_lab(NOTEBOOK, jupyter_lab, LAB_LOG, LAB_START_TIMEOUT, "JupyterLab", PYTHONPATH=pythonpath)


def test_watermark_lab_timeline_in_browser(lab):
    notebook = lab.notebook
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    result = lab.run_notebook(SCREENSHOT, RUN_TIMEOUT, "--focus-trace", "watermark")
    where = f"screenshot: {result.get('screenshot')}; JupyterLab log {lab.log}:\n{lab.log_tail(25)}"
    assert result["ok"], f"in the browser, while '{result['stage']}': {result['error']}\n{where}"
    state = result["notebook"]
    errors = lab.cell_errors(result)
    assert not errors, "a cell produced an error output:\n" + "\n\n".join(errors)
    not_run = lab.cells_not_run(result)
    assert not not_run, f"code cells {not_run} did not run (prompts {state['prompts']})"
    timelines = [p for p in result["plots"] if any(t["name"] == "watermark" for t in p["traces"])]
    assert timelines, f"no timeline (a chart with a 'watermark' line) in the page: {result['plots']}\n{where}"
    names = {t["name"] for t in timelines[0]["traces"]}
    assert "window closes" in names and any(n.startswith("late trade") for n in names), names
    assert timelines[0]["width"] > 0 and timelines[0]["height"] > 0
    # the slider's timeline and the two-partition one are drawn too
    assert any("watermark (min over partitions)" in {t["name"] for t in p["traces"]} for p in result["plots"])
    print(f"{len(result['plots'])} charts; timeline traces {sorted(names)}; timings {result['timings']}")
    assert (lab.artifacts / SCREENSHOT).stat().st_size > 0
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before, "the browser session changed the notebook"

"""The dashboard as a student sees it: JupyterLab started by `make lab`, the
dashboard notebook opened in Debian's headless Chromium, Run > Run All Cells,
and the Plotly candlestick chart found in the page. Then, as a student would:
pick another pair in the dashboard's dropdown and see the candlestick title
change; run another cell while the live view refreshes and see both.

The browser side is run_notebook.js, run by conftest.py (playwright-core from package-lock.json,
driving /usr/bin/chromium; no browser download). `make test-browser` installs
Debian's chromium and the npm package when missing and runs this file.
The screenshots are kept in test-artifacts/browser/: dashboard.png (the whole
interactive dashboard) and page.png (the page at the end).
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import pytest

NOTEBOOK = "07_dashboard.ipynb"  # in notebooks/
ROOT = Path(__file__).resolve().parents[2]  # the folder `make lab` serves
RUN_TIMEOUT = 420  # s for Run All Cells (the bounded Flink job takes 30-60 s, 2 min on a busy machine)
LAB_START_TIMEOUT = 300  # s for `make lab` to answer (services, maybe the venv)
SCREENSHOT = "dashboard.png"  # in test-artifacts/browser/, as the log
LAB_LOG = "lab.log"

pytestmark = pytest.mark.browser


@pytest.fixture
def lab(start_lab):
    """JupyterLab exactly as `make lab` starts it, on a free port with a random token."""

    def make_lab(port: int, token: str) -> list[str]:
        args = (
            f"--no-browser --port={port} --IdentityProvider.token={token} "
            "--ServerApp.open_browser=False --ServerApp.port_retries=0"
        )
        return ["make", "--no-print-directory", "lab", f"JUPYTER_ARGS={args}"]

    # The instructor's queries fill the tables (as in nbval): this test is about drawing the dashboard,
    # not about the state of the checkout's exercise files or what an earlier test left in PostgreSQL.
    return start_lab(
        NOTEBOOK, make_lab, LAB_LOG, LAB_START_TIMEOUT, "`make lab`", served_from=ROOT, WORKBOOK_SOLUTIONS="1"
    )


def _contents(lab, path: str, content: int = 0) -> dict:
    """JupyterLab's Contents API: the file or folder at `path` of the served root."""
    url = f"{lab.base_url}/api/contents/{path}?content={content}"
    req = urllib.request.Request(url, headers={"Authorization": f"token {lab.token}"})
    with urllib.request.urlopen(req, timeout=10) as reply:
        return json.loads(reply.read())


def test_make_lab_serves_the_project_root_and_opens_notebook_01(lab):
    """The file browser shows sql/ beside notebooks/ (the notebooks link to the exercise files); the
    notebook `make lab` opens (tests/test_makefile.py) is there."""
    assert {"notebooks", "sql"} <= {item["name"] for item in _contents(lab, "", content=1)["content"]}
    assert _contents(lab, "sql/40_candlesticks.sql")["type"] == "file"
    assert _contents(lab, "notebooks/01_setup.ipynb")["type"] == "notebook"
    log = lab.log.read_text()
    assert f"Serving notebooks from local directory: {ROOT}" in log, lab.log_tail(20)
    assert "01_setup.ipynb" not in log or "does not exist" not in log, lab.log_tail(20)


def test_dashboard_candlestick_in_browser(lab):
    notebook = lab.notebook
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    result = lab.run_notebook(SCREENSHOT, RUN_TIMEOUT)
    shot = result.get("screenshot")
    print(f"screenshot: {shot}")

    def explain(what: str) -> str:
        console = "\n  ".join(result.get("consoleErrors") or []) or "(none)"
        return (
            f"{what}\nscreenshot: {shot}\nbrowser console errors:\n  {console}\n"
            f"notebook state: {json.dumps({k: v for k, v in (result.get('notebook') or {}).items() if k != 'errors'})}\n"
            f"JupyterLab log {lab.log} (tail):\n{lab.log_tail(25)}"
        )

    assert result["ok"], explain(f"in the browser, while '{result['stage']}': {result['error']}")
    state = result["notebook"]
    errors = lab.cell_errors(result)
    assert not errors, explain("a cell produced an error output:\n" + "\n\n".join(errors))
    not_run = lab.cells_not_run(result)
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
    assert (lab.artifacts / SCREENSHOT).stat().st_size > 0

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

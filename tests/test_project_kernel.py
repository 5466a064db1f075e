"""The project's kernel (jupyter/kernels/python3/, which `make lab` puts first on JUPYTER_PATH) has `%%flinksql`
and `hint` from its start (workbook/course/autoload.py): a restarted kernel whose first cell is an exercise needs
no `%load_ext workbook` (issue 24, fault 2); a notebook's own `%load_ext workbook` stays harmless."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "jupyter"


def test_make_lab_puts_the_project_kernel_first_and_it_loads_the_workbook(monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    dry = subprocess.run(["make", "-n", "--no-print-directory", "lab"], cwd=ROOT, capture_output=True, text=True)
    lab = next(line for line in dry.stdout.replace("\\\n", " ").splitlines() if "jupyter lab" in line)
    assert lab.startswith(f'JUPYTER_PATH="{KERNELS}'), lab
    monkeypatch.setenv("JUPYTER_PATH", str(KERNELS))
    spec = KernelSpecManager().get_kernel_spec("python3")  # the notebooks' kernel name
    assert Path(spec.resource_dir) == KERNELS / "kernels" / "python3"
    assert "--ext=workbook.course.autoload" in spec.argv
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert json.loads(notebook.read_text())["metadata"]["kernelspec"]["name"] == "python3", notebook.name


def test_the_docker_jupyterlab_uses_the_project_kernel():
    assert "JUPYTER_PATH=/opt/app/jupyter" in (ROOT / "docker" / "jupyter.Dockerfile").read_text()


@pytest.fixture
def fresh_shell(monkeypatch):
    """The IPython shell without the workbook's extension (a test may have loaded it before)."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("WORKBOOK_WARM_UP", "0")
    ip = InteractiveShell.instance()
    ip.extension_manager.loaded.discard("workbook")
    ip.extension_manager.loaded.discard("workbook.course.autoload")
    ip.magics_manager.magics["cell"].pop("flinksql", None)
    ip.magics_manager.magics["line"].pop("flinksql", None)
    ip.user_ns.pop("hint", None)
    return ip


def test_the_autoload_gives_the_magic_and_hint_and_load_ext_after_it_is_harmless(fresh_shell, capsys):
    from workbook.course import magic

    fresh_shell.run_line_magic("load_ext", "workbook.course.autoload")
    stub = fresh_shell.find_cell_magic("flinksql")
    assert stub is not None and stub is not magic.flinksql
    fresh_shell.user_ns["hint"]("tumble_counts")
    assert "Hint 1 of" in capsys.readouterr().out

    fresh_shell.run_line_magic("load_ext", "workbook")  # the notebook's own first cell

    assert capsys.readouterr().out == ""  # no "already loaded"
    assert fresh_shell.find_cell_magic("flinksql") is magic.flinksql
    fresh_shell.run_line_magic("reload_ext", "workbook.course.autoload")  # the stand-in never replaces the magic
    assert fresh_shell.find_cell_magic("flinksql") is magic.flinksql


@pytest.mark.flink
def test_a_kernel_of_the_project_runs_an_exercise_cell_without_load_ext(monkeypatch):
    from jupyter_client.manager import start_new_kernel

    from workbook.course import exercises

    monkeypatch.setenv("JUPYTER_PATH", str(KERNELS))
    monkeypatch.setenv("WORKBOOK_WARM_UP", "0")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"))
    try:

        def run(code: str) -> str:
            out = []

            def keep(msg):
                content = msg["content"]
                out.append(content.get("text") or content.get("data", {}).get("text/plain") or content.get("ename", ""))

            reply = kc.execute_interactive(code, output_hook=keep, timeout=240)
            assert reply["content"]["status"] == "ok", (code, out)
            return "".join(o for o in out if o)

        assert "Hint 1 of" in run('hint("tumble_counts")')
        verdict = run("%%flinksql --exercise tumble_counts\n" + exercises.solution("tumble_counts"))
        assert "\u2705 tumble_counts: correct" in verdict, verdict
        assert run("%load_ext workbook").startswith("The workbook extension is already loaded")  # IPython's word
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

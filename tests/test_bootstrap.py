"""scripts/bootstrap_venv.py: the interpreter `make venv` picks, the messages when none fits, the
platform check. Each test runs the script against a venv path under tmp_path (the project's .venv is
never touched), with a PATH made of fake interpreters in front of (or instead of) the real one; the
venvs created are empty (no PyFlink install)."""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "bootstrap_venv.py"

spec = importlib.util.spec_from_file_location("bootstrap_venv", SCRIPT)
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)


def fake_python(version: str) -> str:
    """A fake interpreter's script: answers --version and the set-up's probe (version, sys.executable)."""
    return (
        f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python {version}"; exit 0; fi\n'
        f"printf '{version}\\n%s\\n' \"$0\"\n"
    )


FAKE_313 = fake_python("3.13.1")


def _real_python(versions: tuple[str, ...]) -> str | None:
    """A working interpreter of one of `versions` on this machine (PATH or pyenv), or None."""
    candidates = [shutil.which(f"python{v}") for v in versions]
    for v in versions:
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{v}*/bin/python{v}")))
    for c in filter(None, candidates):
        found, _ = bootstrap.probe(c)
        if found and ".".join(map(str, found.version[:2])) in versions:
            return found.executable
    return None


def _uv() -> str | None:
    """uv from the project's venv (requirements.txt pins it) or the PATH."""
    for c in (Path(sys.prefix) / "bin" / "uv", shutil.which("uv")):
        if c and Path(c).exists() and bootstrap.uv_version(str(c)):
            return str(c)
    return None


PY311 = _real_python(("3.11",))
UV = _uv()
needs_py311 = pytest.mark.skipif(PY311 is None, reason="no Python 3.11 on this machine")
needs_uv = pytest.mark.skipif(UV is None, reason="no uv binary (the project's venv has it from requirements.txt)")


def _bin_dir(tmp_path: Path, name: str, **links: str) -> Path:
    """A folder of executables: name -> a script text (starting with #!) or a path to link to."""
    d = tmp_path / name
    d.mkdir(parents=True)
    for exe, target in links.items():
        p = d / exe.replace("_", ".")
        if target.startswith("#!"):
            p.write_text(target)
            p.chmod(0o755)
        else:
            p.symlink_to(target)
    return d


def _run(
    tmp_path: Path, path: list[Path | str], *args: str, requirements: str = "# nothing to install\n", **env_extra: str
) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHON", "VIRTUAL_ENV", "UV_PYTHON", "WORKBOOK_UV", "WORKBOOK_SKIP_PLATFORM_CHECK")
    }
    env["PATH"] = os.pathsep.join(map(str, path))
    # uv: never download a Python here (no internet but PyPI), and see no managed Pythons of the machine.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_PYTHON_INSTALL_DIR"] = str(tmp_path / "uv-pythons")
    env.update(env_extra)
    (tmp_path / "req.txt").write_text(requirements)  # the tests check the set-up, not the packages
    # a tiny project for the editable install step (the real one is pyproject.toml: workbook, producer)
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tinyproj"\nversion = "0"\n'
        '[tool.setuptools]\npackages = ["tinyproj"]\n'
    )
    (tmp_path / "tinyproj").mkdir(exist_ok=True)
    (tmp_path / "tinyproj" / "__init__.py").write_text("")
    argv = [
        sys.executable,
        str(SCRIPT),
        "--venv",
        str(tmp_path / ".venv"),
        "--project",
        str(tmp_path),
        "--requirements",
        str(tmp_path / "req.txt"),
        "--bootstrap-dir",
        str(tmp_path / "bootstrap"),
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


def _venv_version(venv: Path) -> tuple[int, int]:
    found, why = bootstrap.probe(str(venv / "bin" / "python"))
    assert found, why
    return found.version[:2]


def _real_path() -> list[str]:
    return os.environ["PATH"].split(os.pathsep)


# --------------------------------------------------------------------------- interpreter search


@needs_py311
def test_fake_313_first_on_path_search_picks_a_supported_python(tmp_path):
    fakes = _bin_dir(tmp_path, "fakes", python3=FAKE_313)
    out = _run(tmp_path, [fakes, *_real_path()], "--check-only", "--uv", "never")
    assert out.returncode == 0, out.stderr
    assert "interpreter: Python 3.11." in out.stdout and "3.13.1" not in out.stdout
    assert "on the PATH" in out.stdout  # says where it came from
    assert not (tmp_path / ".venv").exists()  # --check-only creates nothing


@needs_py311
@pytest.mark.slow  # a real venv with pip and an editable install: ~10 s
def test_search_creates_the_venv_with_pip(tmp_path):
    fakes = _bin_dir(tmp_path, "fakes", python3=FAKE_313)
    real = _bin_dir(tmp_path, "real", python3_11=PY311)
    out = _run(tmp_path, [fakes, real], "--uv", "never")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"from `python{'.'.join(map(str, _venv_version(tmp_path / '.venv')))}` on the PATH" in out.stdout
    assert _venv_version(tmp_path / ".venv") in bootstrap.SUPPORTED
    # the project step: an editable install, the project's package importable from the venv
    where = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "python"), "-c", "import tinyproj; print(tinyproj.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert where.stdout.strip() == str(tmp_path / "tinyproj" / "__init__.py"), where.stderr


@needs_py311
@needs_uv
def test_search_creates_the_venv_with_uv(tmp_path):
    fakes = _bin_dir(tmp_path, "fakes", python3=FAKE_313, uv=UV)
    real = _bin_dir(tmp_path, "real", python3_11=PY311)
    out = _run(tmp_path, [fakes, real])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "installer: uv" in out.stdout and "uv venv --python" in out.stdout and "--seed" not in out.stdout
    assert _venv_version(tmp_path / ".venv") in bootstrap.SUPPORTED
    assert (tmp_path / ".venv" / "bin" / "pip").exists()  # from locks/build.txt: %pip works in the notebooks


@needs_py311
@needs_uv
def test_uv_provides_python_311_when_the_search_finds_none(tmp_path):
    # Only uv can see this 3.11: it is named plain `python`, which the set-up's own search does not try.
    fakes = _bin_dir(tmp_path, "fakes", python3=FAKE_313, uv=UV)
    hidden = _bin_dir(tmp_path, "hidden", python=PY311)
    out = _run(tmp_path, [fakes, hidden])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "python3: Python 3.13.1" in out.stdout and "uv will provide Python 3.11" in out.stdout
    assert "--python 3.11" in out.stdout
    assert f"{tmp_path / '.venv'}: Python 3.11." in out.stdout
    assert _venv_version(tmp_path / ".venv") == (3, 11)


@needs_py311
@needs_uv
def test_a_failed_install_removes_the_venv_it_created(tmp_path):
    fakes = _bin_dir(tmp_path, "fakes", uv=UV)
    real = _bin_dir(tmp_path, "real", python3_11=PY311)
    out = _run(tmp_path, [fakes, real], requirements=f"{tmp_path}/missing/pkg-1.0-py3-none-any.whl\n")
    assert out.returncode == 1
    assert "installing req.txt with uv failed" in out.stderr
    assert "removed the half-built" in out.stderr
    assert not (tmp_path / ".venv").exists()


# --------------------------------------------------------------------------- nothing fits


def test_no_supported_python_and_no_uv_says_what_to_do_and_leaves_nothing(tmp_path):
    fakes = _bin_dir(tmp_path, "fakes", python3=FAKE_313)
    out = _run(tmp_path, [fakes], "--uv", "never")
    assert out.returncode == 1
    msg = out.stderr
    assert "no Python 3.11 was found" in msg
    assert "PyFlink 2.0.0 (apache-flink) has wheels for CPython 3.9-3.11 only" in msg and "pandas 3.1.1" in msg
    assert "python3: Python 3.13.1" in msg and "python3.11: not on the PATH" in msg  # what was found
    assert "Install Python 3.11" in msg and "PYTHON=/path/to/python3.11 make lab" in msg
    assert not (tmp_path / ".venv").exists()
    assert "Traceback" not in msg


def test_python_310_is_not_enough_for_the_pins(tmp_path):
    # Ubuntu 22.04's default: PyFlink 2.0.0 would take it, pandas 3.1.1 would not.
    fakes = _bin_dir(tmp_path, "fakes", python3=fake_python("3.10.12"))
    out = _run(tmp_path, [fakes], "--uv", "never")
    assert out.returncode == 1
    assert "python3: Python 3.10.12" in out.stderr and "not supported" in out.stderr
    assert not (tmp_path / ".venv").exists()


@needs_uv
def test_uv_without_a_python_to_use_or_download_leaves_no_venv(tmp_path):
    unsupported = _real_python(("3.13", "3.12", "3.14"))
    fakes = _bin_dir(tmp_path, "fakes", python3=unsupported or FAKE_313, uv=UV)
    out = _run(tmp_path, [fakes])
    assert out.returncode == 1, out.stdout
    assert "no Python 3.11 was found" in out.stderr
    assert "found no Python 3.11 and could not download one" in out.stderr
    assert not (tmp_path / ".venv").exists()


def test_advice_names_the_system_package_manager():
    assert "brew install python@3.11" in bootstrap.install_advice("Darwin")
    linux = bootstrap.install_advice("Linux")
    assert "pyenv install 3.11" in linux
    if shutil.which("apt-get"):
        assert "sudo apt install python3.11 python3.11-venv" in linux and "deadsnakes" in linux


# --------------------------------------------------------------------------- PYTHON and an existing venv


def test_python_env_var_unsupported_is_named(tmp_path):
    fakes = _bin_dir(tmp_path, "fakes", python3=FAKE_313)
    out = _run(tmp_path, [fakes, *_real_path()], "--check-only", PYTHON=str(fakes / "python3"))
    assert out.returncode == 1
    assert f"PYTHON={fakes / 'python3'} is Python 3.13.1" in out.stderr and "unset it" in out.stderr


@needs_py311
def test_python_env_var_is_used_first(tmp_path):
    out = _run(tmp_path, _real_path(), "--check-only", "--uv", "never", PYTHON=PY311)
    assert out.returncode == 0, out.stderr
    assert f"({PY311}), from PYTHON" in out.stdout


def test_existing_venv_of_the_wrong_version_is_named_not_reused(tmp_path):
    venv = tmp_path / ".venv"
    _bin_dir(venv, "bin", python=FAKE_313)
    out = _run(tmp_path, _real_path(), "--uv", "never")
    assert out.returncode == 1
    assert f"{venv} was made with Python 3.13.1" in out.stderr
    assert f"rm -rf {venv}" in out.stderr and "make clean" in out.stderr
    assert (venv / "bin" / "python").exists()  # the user's venv is not deleted behind their back


def test_existing_folder_without_python_is_named(tmp_path):
    (tmp_path / ".venv").mkdir()
    out = _run(tmp_path, _real_path(), "--check-only")
    assert out.returncode == 1 and "is not a virtual environment (no bin/python)" in out.stderr


@needs_py311
def test_existing_supported_venv_is_reused(tmp_path):
    _bin_dir(tmp_path / ".venv", "bin", python=PY311)
    out = _run(tmp_path, _real_path(), "--check-only", "--uv", "never")
    assert out.returncode == 0, out.stderr
    assert f"using the existing {tmp_path / '.venv'}" in out.stdout


# --------------------------------------------------------------------------- platforms


@pytest.mark.parametrize(
    "system, machine, sys_platform, expect",
    [
        ("Linux", "x86_64", "linux", None),
        ("Darwin", "arm64", "darwin", None),
        ("Darwin", "x86_64", "darwin", None),
        ("Windows", "AMD64", "win32", "WSL 2"),
        ("MINGW64_NT-10.0-19045", "x86_64", "msys", "WSL 2"),
        ("MSYS_NT-10.0-19045", "x86_64", "msys", "WSL 2"),
        ("CYGWIN_NT-10.0", "x86_64", "cygwin", "WSL 2"),
        ("Linux", "aarch64", "linux", "Linux ARM wheels"),
        ("FreeBSD", "amd64", "freebsd14", "not a platform"),
    ],
)
def test_platform_problem(system, machine, sys_platform, expect):
    problem = bootstrap.platform_problem(system, machine, sys_platform)
    if expect is None:
        assert problem is None
    else:
        assert problem and expect in problem


def test_platform_notes():
    assert "not tested" in bootstrap.platform_note("Darwin", "arm64", "24.0.0")
    assert "WSL" in bootstrap.platform_note("Linux", "x86_64", "6.6.87.2-microsoft-standard-WSL2")
    assert bootstrap.platform_note("Linux", "x86_64", "6.1.0") == "Linux x86_64: tested"


@pytest.mark.parametrize(
    "system, machine, sys_platform, says",
    [
        ("Windows", "AMD64", "win32", "wsl --install"),
        ("MINGW64_NT-10.0-19045", "x86_64", "msys", "wsl --install"),
        ("Linux", "aarch64", "linux", "Linux ARM wheels"),
    ],
)
def test_unsupported_platform_stops_before_anything(tmp_path, monkeypatch, capsys, system, machine, sys_platform, says):
    monkeypatch.setattr(bootstrap.platform, "system", lambda: system)
    monkeypatch.setattr(bootstrap.platform, "machine", lambda: machine)
    monkeypatch.setattr(bootstrap.sys, "platform", sys_platform)
    monkeypatch.delenv("WORKBOOK_SKIP_PLATFORM_CHECK", raising=False)
    calls = []
    monkeypatch.setattr(bootstrap.subprocess, "run", lambda *a, **k: calls.append(a))
    rc = bootstrap.main(["--venv", str(tmp_path / ".venv"), "--bootstrap-dir", str(tmp_path / "b")])
    assert rc == 1
    assert says in capsys.readouterr().err
    assert calls == [] and not (tmp_path / ".venv").exists() and not (tmp_path / "b").exists()


# --------------------------------------------------------------------------- the script itself


@pytest.mark.parametrize("version", ["3.8", "3.13"])
def test_script_runs_on_any_python3(tmp_path, version):
    python = _real_python((version,))
    if python is None:
        pytest.skip(f"no Python {version} here")
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    env.pop("PYTHON", None)
    out = subprocess.run(
        [python, str(SCRIPT), "--check-only", "--venv", str(tmp_path / ".venv"), "--uv", "never"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Traceback" not in out.stderr and "SyntaxError" not in out.stderr
    assert "platform:" in out.stdout


def test_uv_pin_matches_requirements():
    pins = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert f"uv=={bootstrap.UV_VERSION}" in pins


# --------------------------------------------------------------------------- the build lock, and sync


def _lock_entries(*names: str) -> str:
    """The entries (`name==version` and its hashes) of these packages in the Linux host lock."""
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "locks" / "host-linux-x86_64.txt").read_text())
    wanted = [b for b in blocks if re.match(r"([A-Za-z0-9][\w.-]*)==", b) and b.split("==")[0] in names]
    assert len(wanted) == len(names), names
    return "\n".join("\n".join(line for line in b.splitlines() if "# via" not in line) for b in wanted) + "\n"


def _installed(venv: Path) -> dict[str, str]:
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))",
        ],
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


BUILD = {
    re.match(r"([\w.-]+)==([\w.]+)", line).group(1): re.match(r"([\w.-]+)==([\w.]+)", line).group(2)
    for line in (ROOT / "locks" / "build.txt").read_text().splitlines()
    if re.match(r"[A-Za-z]", line)
}


@needs_py311
@needs_uv
@pytest.mark.slow  # real venvs; pip builds two packages from their sources: ~40 s
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_venv_has_the_locked_tools_builds_with_them_and_drops_what_the_lock_lacks(tmp_path, installer):
    """locks/build.txt: the venv's pip, setuptools and wheel are its versions (not the newest), a package that PyPI
    has as sources only (crcmod, docopt) is built with its setuptools (the wheel's Generator says which), and a
    package the requirements no longer have is removed on the next run (uv pip sync; pip: uninstalled)."""
    assert set(BUILD) == {"pip", "setuptools", "wheel", "poetry-core"}
    real = _bin_dir(tmp_path, "real", python3_11=PY311, **({"uv": UV} if installer == "uv" else {}))
    args = () if installer == "uv" else ("--uv", "never")
    # a wheel of crcmod and docopt built with another setuptools, in the pip cache the user has: not taken
    cache = str(tmp_path / "user-pip-cache")
    if installer == "pip":
        other = tmp_path / "other"
        subprocess.run([PY311, "-m", "venv", str(other)], check=True)
        (tmp_path / "both.txt").write_text(_lock_entries("crcmod", "docopt"))
        subprocess.run(
            [str(other / "bin" / "pip"), "install", "-q", "setuptools==75.8.0", "wheel"],
            check=True,
            env=dict(os.environ, PIP_CACHE_DIR=cache),
        )
        built = subprocess.run(
            [str(other / "bin" / "pip"), "install", "-q", "--no-build-isolation", "-r", str(tmp_path / "both.txt")],
            env=dict(os.environ, PIP_CACHE_DIR=cache),
        )
        assert built.returncode == 0 and list(Path(cache).glob("wheels/**/crcmod-1.7-*.whl"))
    both = _lock_entries("crcmod", "docopt")
    out = _run(tmp_path, [real], *args, requirements=both, PIP_CACHE_DIR=cache)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "--build-constraint" in out.stdout and str(ROOT / "locks" / "build.txt") in out.stdout
    venv = tmp_path / ".venv"
    installed = _installed(venv)
    assert {name: installed.get(name) for name in BUILD} == BUILD, installed
    assert installed["crcmod"] == "1.7" and installed["docopt"] == "0.6.2"
    for dist in ("crcmod-1.7", "docopt-0.6.2"):
        wheel = next((venv / "lib").glob(f"python3.11/site-packages/{dist}.dist-info/WHEEL")).read_text()
        assert f"Generator: setuptools ({BUILD['setuptools']})" in wheel, (dist, wheel)

    out = _run(tmp_path, [real], *args, requirements=_lock_entries("crcmod"), PIP_CACHE_DIR=cache)
    assert out.returncode == 0, out.stdout + out.stderr
    installed = _installed(venv)
    assert "docopt" not in installed and installed["crcmod"] == "1.7", installed
    assert {name: installed.get(name) for name in BUILD} == BUILD
    if installer == "pip":
        assert "removing what req.txt does not have: docopt" in out.stdout
        assert list((tmp_path / "pip-cache").glob("build-*/wheels/**/crcmod-1.7-*.whl")), "the set-up's own cache"

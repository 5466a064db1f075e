"""The package as a user gets it from a wheel: built from pyproject.toml, installed (not editable) into a
scratch virtual environment, it runs an exercise check from outside the project, with the hints and the
stored expected outputs it ships as package data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(*argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=240, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the files git tracks (what a clone has; setuptools writes its build/
    folder there, not here)."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    tracked = run("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0")
    for rel in filter(None, tracked):
        if (ROOT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, source / rel)
    # no build isolation: setuptools comes from this venv (no download)
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, source)
    assert built.returncode == 0, built.stderr
    return next(dist.glob("crypto_trade_workbook-*.whl"))


def test_wheel_ships_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"workbook/course/hints/candlesticks.md", "workbook/course/expected/candlesticks.json"} <= names
    assert "workbook/course/expected/hop_vwap.csv" in names and "producer/synthetic.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry).decode()
    assert "workbook = workbook.cli:main" in scripts


def test_wheel_installed_runs_a_check_outside_the_project(wheel, tmp_path):
    scratch = tmp_path / "venv"
    venv.create(scratch, with_pip=False)
    python = scratch / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", site, wheel)
    assert installed.returncode == 0, installed.stderr
    # the dependencies from this venv's site-packages, after the wheel's (a plain path: its .pth files, the
    # project's editable finder among them, are not read)
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run(python, "-c", "import workbook; print(workbook.__file__)", cwd=tmp_path, env=env)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr

    answer = tmp_path / "stream_counts.py"
    answer.write_text((ROOT / "solutions" / "notebooks" / "02_trade_stream" / "stream_counts.py").read_text())
    good = run(python, "-m", "workbook.course", "check", "stream_counts", answer, cwd=tmp_path, env=env)
    assert good.returncode == 0 and "stream_counts: correct" in good.stdout, good.stdout + good.stderr
    answer.write_text(answer.read_text().replace('("volume", "sum")', '("volume", "mean")'))
    wrong = run(python, "-m", "workbook.course", "check", "stream_counts", answer, cwd=tmp_path, env=env)
    assert wrong.returncode == 1 and "Yours is the mean" in wrong.stdout, wrong.stdout + wrong.stderr
    hint = run(
        python, "-c", "from workbook.course import hints; print(hints.hint('candlesticks', 1))", cwd=tmp_path, env=env
    )
    assert hint.stdout.startswith("Hint 1 of"), hint.stdout + hint.stderr

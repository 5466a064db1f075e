"""The PyFlink JVM's temporary folder is the project's (.state/tmp/jvm-PID-TIME), not /tmp: Flink unpacks a
21 MB RPC jar and a 43 MB planner jar there per JVM and deletes them only on a clean shutdown, which a PyFlink JVM
ending with its Python process does not have (in /tmp they piled up to gigabytes and once filled CI's disk). The
next JVM's start removes the folders of processes that are gone."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import time

import pytest

from workbook.config import load_config
from workbook.paths import PROJECT_ROOT
from workbook.pipeline import flink_env


def _old(path) -> None:
    past = time.time() - flink_env.SCRATCH_GRACE_S - 5
    os.utime(path, (past, past))


@pytest.mark.unit
def test_the_sweep_removes_the_folders_of_processes_that_are_gone(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    dead = tmp_path / f"jvm-{dead_pid}-1"
    young = tmp_path / f"jvm-{dead_pid}-2"  # may be a JVM that is starting: kept
    mine = tmp_path / f"jvm-{os.getpid()}-3"
    for folder in (dead, young, mine):
        (folder / "sub").mkdir(parents=True)
        (folder / "flink-rpc-akka.jar").write_bytes(b"x")
    for folder in (dead, mine):
        _old(folder)
    assert flink_env.sweep_scratch(tmp_path) == [dead]
    assert not dead.exists() and young.exists() and mine.exists()
    assert flink_env.sweep_scratch(tmp_path / "none") == []


@pytest.mark.flink
def test_a_session_leaves_nothing_in_tmp_and_its_folder_goes_with_the_next_start():
    started = time.time()
    code = (
        "from workbook.course import feedback; from workbook.pipeline import flink_env; "
        "from workbook.config import load_config; "
        "assert len(feedback.run_answer('SELECT COUNT(*) AS n FROM valid_trades', 180)) == 1; "
        "print(flink_env.scratch_dir(load_config().workbook_state_dir))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    folder = out.stdout.strip().splitlines()[-1]
    tmp = os.environ.get("TMPDIR", "/tmp")
    new_in_tmp = [
        p
        for pattern in ("flink-rpc-akka*.jar", "flink-table-planner_*.jar")
        for p in glob.glob(os.path.join(tmp, pattern))
        if os.path.getmtime(p) >= started
    ]
    assert not new_in_tmp, new_in_tmp
    assert glob.glob(os.path.join(folder, "flink-rpc-akka*.jar"))  # Flink unpacked it here (and left it)
    _old(folder)
    removed = flink_env.sweep_scratch(load_config().workbook_state_dir / "tmp")
    assert str(folder) in map(str, removed) and not os.path.exists(folder)

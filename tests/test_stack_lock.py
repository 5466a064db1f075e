"""The stack's lock (workbook/stack/lock.py), held by another real process: a live holder is waited for and named,
then the lock is taken when it finishes, or a timeout names it; a holder killed with SIGKILL leaves the lock free,
and the next command says it took it over from that pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbook.stack import lock
from workbook.stack.services import ServiceError

HOLDER = """
import sys, time
from pathlib import Path
from workbook.stack import lock
with lock.held(Path(sys.argv[1]), "python -m workbook up --flink", say=print):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(state: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes the lock, says so, and keeps it `seconds`."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_holder_is_named_and_waited_for(tmp_path):
    holder = hold(tmp_path, 1.5)
    said = []
    t0 = time.monotonic()
    with lock.held(tmp_path, "python -m workbook down", say=said.append):
        waited = time.monotonic() - t0
        assert lock.lock_path(tmp_path).read_text() == f"{os.getpid()} python -m workbook down\n"
    assert holder.wait(5) == 0
    assert 0.5 < waited < 10
    assert said == [
        f"waiting for pid {holder.pid} (python -m workbook up --flink), which is starting or stopping this stack: "
        "one command at a time"
    ]
    assert lock.lock_path(tmp_path).read_text() == ""  # released cleanly: nothing to take over next time


def test_a_holder_that_does_not_finish_is_named_when_waiting_gives_up(tmp_path):
    holder = hold(tmp_path, 60)
    try:
        with pytest.raises(ServiceError) as err, lock.held(tmp_path, "python -m workbook up", lambda _: None, 0.5):
            pytest.fail("the lock was taken while another process held it")
        assert str(err.value) == (
            f"gave up after 0.5 s waiting for pid {holder.pid} (python -m workbook up --flink), which still holds "
            f"the stack's lock {lock.lock_path(tmp_path)}: let it finish (or stop it), then run the command again."
        )
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_the_lock_free_and_is_named(tmp_path):
    holder = hold(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    said = []
    t0 = time.monotonic()
    with lock.held(tmp_path, "python -m workbook up", say=said.append):
        assert time.monotonic() - t0 < 1  # not waited for: the OS released its lock when it died
    assert said == [
        f"taking over the stack's lock {lock.lock_path(tmp_path)}: its holder, pid {holder.pid} "
        "(python -m workbook up --flink), is gone"
    ]


def test_the_holder_may_take_it_again_inside(tmp_path):
    """`up` from code already holding the lock (same process) does not wait for itself."""
    with lock.held(tmp_path, "outer", say=print), lock.held(tmp_path, "inner", say=print):
        assert lock.lock_path(tmp_path).read_text().endswith(" outer\n")


def test_a_state_folder_that_cannot_be_written_is_named(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    with pytest.raises(ServiceError) as err, lock.held(blocker, "python -m workbook up", say=print):
        pytest.fail("the lock was taken in a folder that cannot exist")
    assert str(err.value) == (
        f"cannot open the stack's lock file {blocker / 'run' / 'stack.lock'} (Not a directory): WORKBOOK_STATE_DIR in "
        ".env must name a folder you can write to."
    )

"""`status` counts what a student's session costs beside the services: this user's kernels (with their children,
such as the Flink JVM a kernel starts) and JupyterLab running in the project, each process once."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from workbook.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from workbook.stack.usage import session_usage

# a stand-in kernel that starts a child holding ~40 MiB (as a kernel starts its JVM), both sleeping
KERNEL = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(40 * 2**20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(60)']); "
    "time.sleep(60)"
)


def test_a_kernel_and_its_child_are_counted_once_and_other_folders_not_at_all(tmp_path):
    # whatever runs now (another kernel of this project) is left out, with its children; not this test's ancestors,
    # whose children the two processes below will be
    me = psutil.Process()
    already = set(psutil.pids()) - {me.pid} - {p.pid for p in me.parents()}
    ours = subprocess.Popen([sys.executable, "-c", KERNEL, "ipykernel_launcher"], cwd=NOTEBOOKS_DIR)
    # another project's kernel: its own Python, its own folder
    elsewhere = subprocess.Popen([sys._base_executable, "-c", KERNEL, "ipykernel_launcher"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the child has touched its 40 MiB
            children = psutil.Process(ours.pid).children()
            if children and children[0].memory_info().rss >= 40 * 2**20:
                break
            time.sleep(0.1)
        n, mib = session_usage(PROJECT_ROOT, exclude=already)["kernel"]
        assert n == 1  # the one in notebooks/, not the other project's
        assert mib >= 40, mib  # the child's memory is the kernel's
        assert "kernel" not in session_usage(PROJECT_ROOT, exclude=already | {ours.pid})  # and its child with it
    finally:
        for proc in (ours, elsewhere):
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()

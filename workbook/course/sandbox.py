"""A Python answer (`stream_counts`, `watermark_delay`), checked on the grading data in a process of its own
(instructor-only: the grader runs it, `workbook/course/grader.py`).

    python -m workbook.course.sandbox NAME RESULT_FILE TIMEOUT_S   < the answer's code

The process limits itself as it starts: memory (RLIMIT_AS), CPU seconds, the size of any file it writes (its
prints go to a file: megabytes of them stop there), and the parent (`run`) kills it after the time limit. Inside,
before the student's code runs, an audit hook refuses what an answer never needs: starting programs
(os.system, subprocess, exec, fork), the network (sockets), and writing files; the verdict then fails and names
what was refused, whatever the code did with the exception. The verdict comes back as JSON in RESULT_FILE.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from ..paths import PROJECT_ROOT

MEMORY_BYTES = 2 * 1024**3  # address space of the process (pandas and numpy need ~1 GiB of it)
OUTPUT_BYTES = 1024**2  # what the answer may print
REFUSED = {
    "os.system": "os.system",
    "os.exec": "os.exec*",
    "os.posix_spawn": "os.posix_spawn",
    "os.spawn": "os.spawn*",
    "os.fork": "os.fork",
    "os.forkpty": "os.forkpty",
    "os.kill": "os.kill",
    "subprocess.Popen": "subprocess",
    "socket.connect": "the network",
    "socket.bind": "the network",
    "socket.getaddrinfo": "the network",
    "socket.sendto": "the network",
    "ctypes.dlopen": "ctypes",
    "os.remove": "file deletion",
    "os.rmdir": "file deletion",
    "os.rename": "file renaming",
    "shutil.rmtree": "file deletion",
}


def limit_myself(timeout_s: float) -> None:
    """The limits of the answer's process, set by the process itself as it starts (the grader's worker runs
    threads: no preexec_fn there)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    cpu = int(timeout_s) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_BYTES, OUTPUT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def failed(summary: str, problem: str) -> dict:
    return {"passed": False, "summary": summary, "problems": [problem]}


def run(name: str, code: str, timeout_s: float = 30.0) -> dict:
    """The verdict of exercise `name`'s check on the answer `code`, on the grading data, in a limited process:
    {"passed", "summary", "problems"}; a failed verdict naming why when the process misbehaved."""
    with tempfile.TemporaryDirectory(prefix="workbook-sandbox-") as tmp:
        result, output = Path(tmp) / "result.json", Path(tmp) / "output.txt"
        with open(output, "wb") as out:
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "workbook.course.sandbox", name, str(result), str(timeout_s)],
                    input=code.encode(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=tmp,
                    env={
                        **os.environ,
                        "PYTHONPATH": str(PROJECT_ROOT),
                        "WORKBOOK_SOLUTIONS": "",
                        "PYTHONDONTWRITEBYTECODE": "1",
                    },
                    start_new_session=True,
                    timeout=timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return failed(
                    f"{name}: your code did not finish.",
                    f"it ran for more than {timeout_s:g} s and was stopped (an endless loop?)",
                )
        printed = output.stat().st_size
        if printed >= OUTPUT_BYTES:
            return failed(f"{name}: your code printed too much.", f"it printed more than {OUTPUT_BYTES // 1024} KiB")
        try:
            return json.loads(result.read_text())
        except (OSError, ValueError):
            tail = output.read_bytes()[-300:].decode("utf-8", errors="replace").strip().splitlines()
            why = f"exit status {proc.returncode}" + (f": {tail[-1]}" if tail else "")
            if proc.returncode in (-9, -24, 137):
                why = "it used more CPU time or memory than allowed"
            return failed(f"{name}: your code stopped the check.", f"the check's process ended ({why})")


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _guard(refused: list) -> None:
    def hook(event: str, args) -> None:
        what = REFUSED.get(event)
        if what is None and event == "open" and len(args) > 2:
            mode, flags = args[1], args[2]
            writes = any(m in mode for m in "wax+") if isinstance(mode, str) else bool(flags & _WRITE_FLAGS)
            what = "file writing" if writes else None
        if what is not None:
            refused.append(what)
            raise PermissionError(f"the grader does not allow {what}")

    sys.addaudithook(hook)


def main(argv: list[str]) -> int:
    name, result_path, timeout_s = argv
    limit_myself(float(timeout_s))
    code = sys.stdin.read()
    result = open(result_path, "w")  # noqa: SIM115 (opened before the guard, which refuses writing files)
    # deferred on purpose: imported before the guard; the grading data is instructor-only
    from . import checks, datasets
    from .grading import GRADING  # deferred: the grading data, instructor-only

    with datasets.using(GRADING):
        refused: list = []
        _guard(refused)
        verdict = checks.run_check(name, code)
    out = {"passed": verdict.passed, "summary": verdict.summary, "problems": [str(p) for p in verdict.problems]}
    if refused:
        out = failed(
            f"{name}: your code did something grading does not allow.", f"it used {refused[0]}, which grading refuses"
        )
    result.write(json.dumps(out))
    result.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A Python answer (`stream_counts`, `watermark_delay`, `candles_table_api`, `state_operator`), checked on the
grading data in a process of its own (instructor-only: the grader runs it, `workbook/course/grader.py`).

    python -m workbook.course.sandbox NAME RESULT_FILE TIMEOUT_S   < the answer's code

The process limits itself as it starts: memory (RLIMIT_AS), CPU seconds, the size of any file it writes (its
prints go to a file: megabytes of them stop there), and the parent (`run`) kills it after the time limit. Inside,
before the student's code runs, an audit hook refuses what an answer never needs: starting programs
(os.system, subprocess, exec, fork), the network (sockets), writing files, and reading the workbook's own files
(the expected outputs, the grading data's module, the solutions); the verdict then fails and names what was
refused, whatever the code did with the exception.

The process only runs the answer on the grading data's input (the records of `stream_counts`, the stream of
`watermark_delay`: what the check passes in; `candles_table_api`'s function gets a recorded Table, without a JVM,
table_answers.py, and what it built is rebuilt in the parent through an allow-list) and writes what it gave (a DataFrame as JSON, a number, what it
raised) to RESULT_FILE. The expected outputs never enter it: the parent (`run`) judges that output with the
exercise's own check, so the verdict's words are the practice feedback's, and nothing the answer does in its
process can change them.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from ..paths import PROJECT_ROOT

MEMORY_BYTES = 2 * 1024**3  # address space of the process (pandas and numpy need ~1 GiB of it)
OUTPUT_BYTES = 1024**2  # what the answer may print
# the process's start (Python, pandas, the grading input) is not the answer's time: on a busy machine it can take
# seconds; the answer's own time limit starts when it does (an alarm), this is on top for the parent's backstop
STARTUP_S = 30
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
    cpu = int(timeout_s) + STARTUP_S
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
                    timeout=timeout_s + STARTUP_S,
                    check=False,
                )
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                returncode = -signal.SIGALRM  # as if its alarm had gone off
        if output.stat().st_size >= OUTPUT_BYTES:
            return failed(f"{name}: your code printed too much.", f"it printed more than {OUTPUT_BYTES // 1024} KiB")
        if returncode == -signal.SIGALRM:
            return failed(
                f"{name}: your code did not finish.",
                f"it ran for more than {timeout_s:g} s and was stopped (an endless loop?)",
            )
        try:
            out = json.loads(result.read_text())
        except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
            tail = output.read_bytes()[-300:].decode("utf-8", errors="replace").strip().splitlines()
            why = f"exit status {returncode}" + (f": {tail[-1]}" if tail else "")
            if returncode in (-9, -24, 137):
                why = "it used more CPU time or memory than allowed"
            return failed(f"{name}: your code stopped the check.", f"the check's process ended ({why})")
    return judge(name, out)


def judge(name: str, out: dict) -> dict:
    """The verdict of exercise `name`'s check, in this process, on what the answer gave in its own."""
    from . import checks, datasets  # deferred on purpose: the grading data is instructor-only
    from .grading import GRADING

    if "refused" in out:
        return failed(
            f"{name}: your code did something grading does not allow.",
            f"it used {out['refused']}, which grading refuses",
        )
    with datasets.using(GRADING):
        verdict = checks.run_check(name, replayed(name, out))
    return {"passed": verdict.passed, "summary": verdict.summary, "problems": [str(p) for p in verdict.problems]}


def _raising_code(error: list) -> str:
    """Code that raises what the answer raised (its exception's name and message), for the check's words."""
    kind = error[0] if re.fullmatch(r"[A-Za-z_]\w{0,80}", str(error[0])) else "Exception"
    return f"class {kind}(Exception):\n    pass\nraise {kind}({str(error[1])!r})\n"


class _Shown:
    """A value of the answer's process, as its repr."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _raises(error: list):
    def function(stream):
        namespace: dict = {}
        exec(compile(_raising_code(error), "<answer>", "exec"), namespace)  # noqa: S102 (our own code: raises)

    return function


def replayed(name: str, out: dict):
    """What the answer gave, as the check takes it: a frame, a value or a function giving what it returned, or
    code that raises what it raised."""
    if "raised" in out:
        return _raising_code(out["raised"])
    if name == "stream_counts":
        if "frame" in out:
            import pandas as pd

            return pd.read_json(io.StringIO(out["frame"]), orient="table")
        if "series" in out:
            import pandas as pd

            return pd.Series(dtype=float)
        if "other" in out:
            return type(str(out["other"]), (), {})()
        return None
    if "value" in out:  # a value the cell assigns (state_operator's name): judged as it is
        return out["value"]
    if "not_a_value" in out:
        return _Shown(out["not_a_value"])
    if "undefined" in out:
        return None
    if "table" in out:  # candles_table_api: the Table its function built, rebuilt on the check's Table
        from .table_answers import rebuild  # deferred on purpose: PyFlink's Table API, for this exercise only

        return lambda trades: rebuild(out["table"], trades)
    if "not_callable" in out:
        return _Shown(out["not_callable"])
    if "call_raised" in out:
        return _raises(out["call_raised"])
    value = out.get("returned")
    value = _Shown(value["repr"]) if isinstance(value, dict) else value
    return lambda stream: value


# --- in the answer's process -------------------------------------------------------------------------------


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _workbook_file(path) -> bool:
    """A file of the workbook itself (its expected outputs, grading data, solutions), not of the venv."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    real = os.path.realpath(os.fsdecode(path))
    venv = os.path.realpath(sys.prefix) + os.sep
    return real.startswith(str(PROJECT_ROOT) + os.sep) and not real.startswith(venv)


def _guard(refused: list) -> None:
    def hook(event: str, args) -> None:
        what = REFUSED.get(event)
        if what is None and event == "open" and len(args) > 2:
            mode, flags = args[1], args[2]
            writes = any(m in mode for m in "wax+") if isinstance(mode, str) else bool(flags & _WRITE_FLAGS)
            what = "file writing" if writes else ("the workbook's own files" if _workbook_file(args[0]) else None)
        if what is not None:
            refused.append(what)
            raise PermissionError(f"the grader does not allow {what}")

    sys.addaudithook(hook)


def _error(exc: BaseException) -> list:
    return [type(exc).__name__, str(exc)[:500]]


def _value(value):
    """A returned value as JSON takes it and the check judges it alike: None, a bool, an int, a float (NaN too),
    else its repr (e.g. numpy's int64, which is no int for the check either)."""
    if value is None or isinstance(value, (bool, float)):
        return float(value) if isinstance(value, float) else value
    if isinstance(value, int) and abs(value) <= 2**53:
        return int(value)
    return {"repr": repr(value)[:500]}


def _stream_output(frame) -> dict:
    import pandas as pd

    if frame is None or frame is Ellipsis:
        return {}
    if isinstance(frame, pd.Series):
        return {"series": True}
    if not isinstance(frame, pd.DataFrame):
        return {"other": type(frame).__name__}
    return {"frame": frame.to_json(orient="table", index=True)}


def _delay_output(function, stream) -> dict:
    if function is None or function is Ellipsis:
        return {"undefined": True}
    if not callable(function):
        return {"not_callable": repr(function)[:500]}
    try:
        return {"returned": _value(function([dict(t) for t in stream]))}
    except Exception as exc:  # noqa: BLE001 (the answer's: said in its verdict)
        return {"call_raised": _error(exc)}


def _table_output(code: str) -> dict:
    """candles_table_api: its function called on a recorded Table (no PyFlink, no JVM in this process)."""
    from . import checks_table_api, table_answers  # deferred on purpose: imported before the guard, by main

    names = table_answers.recorded_names(checks_table_api.NOTEBOOK_NAMES)
    function = checks_table_api.defined_function(code, names)
    if function is None or function is Ellipsis:
        return {"undefined": True}
    if not callable(function):
        return {"not_callable": repr(function)[:500]}
    try:
        return table_answers.record(function)
    except Exception as exc:  # noqa: BLE001 (the answer's: said in its verdict)
        return {"call_raised": _error(exc)}


VALUE_ANSWERS = ("state_operator",)  # exercises whose answer is a value the cell assigns, not a function or frame


def _value_output(name: str, code: str) -> dict:
    from .feedback import cell_value  # deferred on purpose: imported before the guard (with the checks), by main

    value = cell_value(code, name)
    if value is None or isinstance(value, str):
        return {"value": value}
    return {"not_a_value": repr(value)[:500]}  # judged as what it shows: "not a name"


def answer_output(name: str, code: str, given: list) -> dict:
    """What the answer gave on the input `given`, as JSON takes it: the checks' own way of running a cell."""
    from . import checks_stream, checks_watermark  # deferred on purpose: imported before the guard, by main

    try:
        if name == "stream_counts":
            return _stream_output(checks_stream.cell_result(code, given))
        if name == "candles_table_api":
            return _table_output(code)
        if name in VALUE_ANSWERS:
            return _value_output(name, code)
        return _delay_output(checks_watermark.defined_function(code), given)
    except Exception as exc:  # noqa: BLE001 (the answer's: said in its verdict)
        return {"raised": _error(exc)}


def main(argv: list[str]) -> int:
    name, result_path, timeout_s = argv
    limit_myself(float(timeout_s))
    code = sys.stdin.read()
    result = open(result_path, "w")  # noqa: SIM115 (opened before the guard, which refuses writing files)
    # what the check passes in (the grading data's input, never its expected outputs), taken before the guard
    from . import datasets  # deferred on purpose: the grading data is instructor-only
    from .grading import GRADING

    with datasets.using(GRADING):
        given = datasets.records("sample" if name == "stream_counts" else "lab")
    from . import checks_stream, checks_watermark  # noqa: F401  deferred on purpose: imported before the guard

    if name == "candles_table_api":  # PyFlink's modules replaced by recording ones (no JVM here)
        from . import table_answers  # deferred on purpose: imported before the guard, for this exercise only
        from .checks_table_api import star_names  # deferred on purpose: as table_answers

        table_answers.install(star_names())

    refused: list = []
    _guard(refused)
    signal.setitimer(signal.ITIMER_REAL, float(timeout_s))  # the answer's time: SIGALRM ends the process
    out = answer_output(name, code, given)
    signal.setitimer(signal.ITIMER_REAL, 0)
    if refused:
        out = {"refused": refused[0]}
    result.write(json.dumps(out))
    result.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

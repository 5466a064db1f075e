"""The registry of the exercises' checks, on top of the course: it imports every check module and
knows which check judges which exercise (the way datasette's plugins.py lists its default plugins).

    checks.check("candlesticks", sql)            a CheckResult, shown as a box in a notebook
    checks.checked("candlesticks", sql)          the same, raising CheckFailed when a solution fails

A check module has a dict CHECKS {exercise name: function(answer, timeout_s=None) -> CheckResult},
its checks built on workbook.course.feedback (feedback.Wrong names a mistake, feedback.judged turns
it into the box). The checks' expected outputs are stored under workbook/course/expected/ (the
references that compute them are not in the student release).
"""

from __future__ import annotations

from ..paths import PROJECT_ROOT
from . import (
    checks_basics,
    checks_candles,
    checks_dashboard,
    checks_dedup,
    checks_interval,
    checks_jobs,
    checks_lookup,
    checks_over,
    checks_pattern,
    checks_plans,
    checks_sink,
    checks_source,
    checks_stream,
    checks_table_api,
    checks_temporal,
    checks_watermark,
    checks_windows,
    progress,
)
from .exercises import get, solution, solution_path, solutions_enabled
from .feedback import CheckResult

CHECK_MODULES = (
    checks_stream,
    checks_source,
    checks_basics,
    checks_watermark,
    checks_candles,
    checks_dashboard,
    checks_windows,
    checks_over,
    checks_dedup,
    checks_pattern,
    checks_interval,
    checks_temporal,
    checks_lookup,
    checks_jobs,
    checks_table_api,
    checks_plans,
    checks_sink,
)


class CheckFailed(AssertionError):
    """An instructor solution does not pass its check (raised in the solution run only)."""


def find_check(name: str):
    """The check function of exercise `name`, from the CHECKS of its module."""
    for module in CHECK_MODULES:
        if name in module.CHECKS:
            return module.CHECKS[name]
    raise KeyError(f"no check for exercise {name!r}")


def names() -> list[str]:
    """Every exercise that has a check, module by module."""
    return [name for module in CHECK_MODULES for name in module.CHECKS]


def run_check(name: str, answer, timeout_s: float | None = None) -> CheckResult:
    """Run exercise `name`'s check on `answer` (its SQL, code or number): a CheckResult, whatever went wrong
    (a check never raises: what it did not foresee, a JVM that stopped, ..., is a failed CheckResult too)."""
    check_function = find_check(name)
    try:
        return check_function(answer, timeout_s)
    except Exception as exc:  # noqa: BLE001 - the verdict box says what happened; the notebook goes on
        what = " ".join(str(exc).split())[:300] or type(exc).__name__
        return CheckResult(name, False, f"{name}: the check could not run.", [f"{what} ({type(exc).__name__})"])


def check(name: str, sql: str) -> CheckResult:
    """Run the check of exercise `name` on `sql`: a CheckResult (shown as a box in a notebook)."""
    return run_check(name, sql)


def checked(name: str, answer, timeout_s: float | None = None) -> CheckResult:
    """Run exercise `name`'s check on `answer`: its CheckResult. With WORKBOOK_SOLUTIONS=1 (the instructor's and
    CI's run) a failing check raises CheckFailed instead: every solution must pass. Every exercise cell ends here."""
    result = run_check(name, answer, timeout_s=timeout_s)
    if not solutions_enabled():
        progress.record_check(name, bool(result))  # the submission's manifest (never raises)
    if solutions_enabled() and not result:
        raise CheckFailed(f"the solution of {name!r} fails its check:\n{result.text()}")
    return result


def python_exercise(name: str, namespace: dict) -> CheckResult:
    """Check a Python exercise cell: the cell assigns its answer to the variable `name` in `namespace`
    (the notebook's globals()). With WORKBOOK_SOLUTIONS=1 the instructor's solution (solutions/...py) runs
    first, in the same namespace, and a failing check raises (CI sees it). Returns the CheckResult."""
    if get(name).answer != "python":
        raise ValueError(f"exercise {name!r} is not a Python exercise (its answer is {get(name).answer})")
    if solutions_enabled():
        print(f"WORKBOOK_SOLUTIONS=1: using the instructor solution {solution_path(name).relative_to(PROJECT_ROOT)}")
        exec(compile(solution(name), str(solution_path(name)), "exec"), namespace)  # noqa: S102 (our own file)
    return checked(name, namespace.get(name))

"""The check of notebook 12's Table API exercise (advanced track): `candles_table_api`, the candlestick statistics of
`candle_stats` (per 1-minute tumbling window and pair: min, max, VWAP, volume, count) written with PyFlink's Table
API. The answer is a function `candles_table_api(trades)` that gets the `valid_trades` Table and returns a Table.

The check calls it on the check session's `valid_trades` of the active data (practice; grading: the held-out data),
runs the Table it returns, and judges the rows with candle_stats' own comparison (checks_candles.require_result):
a Table API answer and a SQL answer get the same named mistakes. Then the plan: the Table must run as a window
aggregate whose result only appends (a group_by on a floored ts is an updating aggregation, named so).

In grading the function runs in its own limited process on a recorded Table (table_answers): what it built is
rebuilt here through an allow-list, so an answer never holds the JVM's Py4J gateway in its process.
"""

from __future__ import annotations

import itertools

from ..pipeline.session import short_message
from .checks_candles import require_result
from .feedback import CheckResult, Wrong, cell_value, data_key, judged, passed, plan_operators, run_answer, session
from .table_answers import Refused, modules

EXERCISE = "candles_table_api"
STATS = "candle_stats"  # the exercise whose result it is, and whose comparison judges it
WINDOW = "Tumble.over(lit(1).minutes).on(col('ts')).alias('w')"
# the SQL words of candle_stats' verdicts, in the Table API
IN_TABLE_API = (
    "In the Table API: AS is .alias('name'), MIN(price) is col('price').min, SUM(x) is x.sum, COUNT(*) is "
    "col('price').count, window_start / window_end are col('w').start / col('w').end of "
    f"trades.window({WINDOW}), CAST(x AS INT) is x.cast(DataTypes.INT())."
)
_VIEWS = itertools.count()
# the names of PyFlink an exercise cell may use without importing them (notebook 12's first cell imports most), and
# the module of each
NOTEBOOK_NAMES = {
    "col": "pyflink.table.expressions",
    "lit": "pyflink.table.expressions",
    "call": "pyflink.table.expressions",
    "Tumble": "pyflink.table.window",
    "DataTypes": "pyflink.table",
    "TimeIntervalUnit": "pyflink.table.expression",
}


def namespace() -> dict:
    """What the exercise cell may use without importing it: NOTEBOOK_NAMES, PyFlink's own."""
    real = modules()
    return {name: getattr(real[module], name) for name, module in NOTEBOOK_NAMES.items()}


def star_names() -> dict:
    """module -> the names `from module import *` takes (the recording modules of grading take the same)."""
    import pyflink.table.expressions

    return {"pyflink.table.expressions": list(pyflink.table.expressions.__all__)}


def defined_function(code: str, names: dict | None = None):
    """What the cell's code defines as candles_table_api (what it raises, raised); `names`: what it may use."""
    return cell_value(code, EXERCISE, namespace() if names is None else names)


def answer_function(answer):
    """The student's function: given as it is, or defined by the code of the cell. Wrong when there is none."""
    if isinstance(answer, str):
        try:
            answer = defined_function(answer)
        except Exception as exc:  # noqa: BLE001 (the student's code: say what it raised)
            raise Wrong(f"your code raised {type(exc).__name__}: {short_message(exc)}", hint_level=1) from None
    if answer is None or answer is Ellipsis:
        raise Wrong(
            "candles_table_api is not defined yet: write the function candles_table_api(trades) of the cell.",
            hint_level=1,
        )
    if not callable(answer):
        raise Wrong(f"candles_table_api is {answer!r}, not a function: write candles_table_api(trades).")
    return answer


def answer_table(function, trades):
    """The Table the function makes of `trades`; Wrong when it raises or returns no Table."""
    from pyflink.table import Table

    try:
        table = function(trades)
    except Refused as exc:
        raise Wrong(
            f"grading does not take {exc}: build the Table with the Table API's select, group_by, window, filter, "
            "... and expressions only.",
            summary="a step grading refuses.",
        ) from None
    except Exception as exc:  # noqa: BLE001 (the student's code: PyFlink's ValidationException and the like)
        raise Wrong(
            f"candles_table_api(trades) raised {type(exc).__name__}: {short_message(exc)}",
            summary="your function did not run.",
            hint_level=1,
        ) from None
    if table is None or table is Ellipsis:
        raise Wrong("candles_table_api(trades) returns None: return the Table you built.", hint_level=1)
    if not isinstance(table, Table):
        what = type(table).__name__
        shown = repr(table) if what == "_Shown" else f"a {what}"  # graded: what the answer's process said it was
        what = shown.split()[-1]
        more = (
            " Return the Table itself (no .execute() or .to_pandas(): the check runs it)."
            if what in ("DataFrame", "TableResult")
            else " A grouped or windowed table needs its .select(...)."
            if what.endswith(("GroupedTable", "WindowedTable"))
            else ""
        )
        raise Wrong(f"candles_table_api(trades) returns {shown}, not a Table.{more}", hint_level=1)
    return table


def check_env():
    """The check session's environment of the check dataset (the active data's)."""
    return session().env(data_key("check"), protected=True)


def as_view(t_env, table) -> str:
    """A temporary view of `table` in `t_env` (the session's), to run and plan it as a SQL answer is."""
    name = f"candles_table_api_{next(_VIEWS)}"
    t_env.create_temporary_view(name, table)
    return name


def require_window(plan) -> None:
    """Wrong when the answer's plan has no window aggregate, or its result updates rows."""
    if plan is None or (any(op.endswith("WindowAggregate") for op in plan.operators) and not plan.updating):
        return
    raise Wrong(
        "your Table gives the right rows, but it is an updating aggregation, not a windowed one (Flink's plan: "
        f"{plan_operators(plan)}; its rows: {','.join(sorted(plan.kinds))}). A group_by on a column you computed "
        "(the minute of ts, floored) is a group like any other: Flink never closes it, rewrites its row with every "
        "trade and keeps its state forever. Group the rows of a window: "
        f"trades.window({WINDOW}).group_by(col('w'), col('currency_pair')).",
        summary="an updating aggregation, not a window.",
        hint_level=2,
    )


def _with_table_api_words(wrong: Wrong) -> Wrong:
    wrong.problems.append(IN_TABLE_API)
    return wrong


@judged(EXERCISE)
def check_candles_table_api(answer, timeout_s: float | None = None) -> CheckResult:
    function = answer_function(answer)
    t_env = check_env()
    table = answer_table(function, t_env.from_path("valid_trades"))
    view = as_view(t_env, table)
    try:
        frame = run_answer(f"SELECT * FROM `{view}`", timeout_s)
        try:
            result = require_result(STATS, frame)
        except Wrong as wrong:
            raise _with_table_api_words(wrong) from None
        require_window(session().plan(f"SELECT * FROM `{view}`", data_key("check")))
    finally:
        try:
            t_env.drop_temporary_view(view)
        except Exception:  # noqa: BLE001 (Py4J raises plain exceptions) - a JVM that stopped: the verdict says so
            pass
    return passed(
        EXERCISE,
        f"correct: {len(result)} rows ({result['currency_pair'].nunique()} pairs, {result['ts_start'].nunique()} "
        "windows) match candle_stats' expected output, from a window aggregate that only appends rows.",
    )


# exercise -> its check (answer, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {EXERCISE: check_candles_table_api}

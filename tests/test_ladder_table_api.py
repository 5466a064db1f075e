"""The advanced track, notebook 12 (optional): candle_stats in the Table API (candles_table_api).
The check fails on the skeleton, passes on the solution (on the practice and the grading data), names known wrong
answers with candle_stats' own words (the same comparison: a Table API answer and a SQL answer get the same
verdicts), reads the plan (a group_by on a floored ts is an updating aggregation); graded, the function runs in the
limited process of sandbox.py on a recorded Table, and what it built is rebuilt through an allow-list only."""

import json
import time

import pytest

from workbook.course import checks, exercises, hints, sandbox, table_answers
from workbook.course.datasets import active, using
from workbook.course.grading import GRADING
from workbook.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration

NAME = "candles_table_api"
NOTEBOOK = "notebooks/12_table_api_and_jobs.ipynb"
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

# the notebook's exercise cell without its python_exercise line (what grading takes from a submission)
SKELETON = '''from pyflink.table.expressions import col, lit
from pyflink.table.window import Tumble


def candles_table_api(trades):
    """candle_stats with the Table API: per 1-minute Tumble window and pair, min, max, VWAP, volume, count."""
    # ✏️ TODO: trades.window(...) with a 1-minute Tumble on ts, named "w"
    # ✏️ TODO: .group_by(...) the window and the pair
    # ✏️ TODO: .select(...) ts_start, ts_end, currency_pair, price_min, price_max, price_avg, volume, num_trades
    return None
'''

IMPORTS = """from pyflink.table import DataTypes
from pyflink.table.expression import TimeIntervalUnit
from pyflink.table.expressions import col, lit
from pyflink.table.window import Tumble
"""
WINDOWED = (
    'trades.window(Tumble.over(lit({size}).minutes).on(col("ts")).alias("w")).group_by(col("w"), col("currency_pair"))'
)
# a group_by on the minute of ts, floored by hand: no window
FLOORED_GROUPS = (
    'trades.add_columns(col("ts").floor(TimeIntervalUnit.MINUTE).alias("minute"))'
    '.group_by(col("minute"), col("currency_pair"))'
)
VWAP = '(col("price") * col("volume")).sum / col("volume").sum'


def table_api(
    size=1,
    lo='col("price").min',
    hi='col("price").max',
    avg=VWAP,
    count='col("price").count',
    count_name="num_trades",
    groups=WINDOWED,
    start='col("w").start',
    end='col("w").end',
) -> str:
    """A Table API answer: `groups`' rows, with the eight columns (a mistake in one of them)."""
    columns = [
        f'{start}.alias("ts_start")',
        f'({end}).alias("ts_end")',
        'col("currency_pair")',
        f'{lo}.alias("price_min")',
        f'{hi}.alias("price_max")',
        f'({avg}).alias("price_avg")',
        'col("volume").sum.alias("volume")',
        f'{count}.alias("{count_name}")',
    ]
    select = ", ".join(columns)
    return f"{IMPORTS}\n\ndef candles_table_api(trades):\n    return {groups.format(size=size)}.select({select})\n"


FLOORED = table_api(groups=FLOORED_GROUPS, start='col("minute")', end='col("minute") + lit(1).minutes')

SQL = """SELECT window_start AS ts_start, window_end AS ts_end, currency_pair, {lo} AS price_min, {hi} AS price_max,
  {avg} AS price_avg, SUM(volume) AS volume, {count} AS {count_name}
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '{size}' MINUTE))
GROUP BY window_start, window_end, currency_pair"""


def sql(
    size=1,
    lo="MIN(price)",
    hi="MAX(price)",
    avg="SUM(price * volume) / SUM(volume)",
    count="COUNT(*)",
    count_name="num_trades",
) -> str:
    return SQL.format(size=size, lo=lo, hi=hi, avg=avg, count=count, count_name=count_name)


# (Table API answer, the same mistake in SQL, the words both verdicts name it with)
MISTAKES = {
    "plain-average": (table_api(avg='col("price").avg'), sql(avg="AVG(price)"), "plain average AVG(price)"),
    "5-minute-window": (table_api(size=5), sql(size=5), "tumbling windows of 5 minutes"),
    "swapped-min-max": (
        table_api(lo='col("price").max', hi='col("price").min'),
        sql(lo="MAX(price)", hi="MIN(price)"),
        "price_min holds the values of price_max",
    ),
    "wrong-column-name": (table_api(count_name="trades"), sql(count_name="trades"), "missing ['num_trades']"),
    "count-as-float": (
        table_api(count='col("price").count.cast(DataTypes.DOUBLE())'),
        sql(count="CAST(COUNT(*) AS DOUBLE)"),
        "num_trades should be a whole number",
    ),
}


def test_registered():
    exercise = exercises.get(NAME)
    assert (exercise.notebook, exercise.student, exercise.answer) == (NOTEBOOK, NOTEBOOK, "python")
    assert exercise.solution == PROJECT_ROOT / "solutions/notebooks/12_table_api_and_jobs/candles_table_api.py"
    assert exercise.solution.exists()
    assert len(hints.levels(NAME)) == 3
    from workbook.course.grader import load_table

    assert load_table().points[NAME] == 3


def test_notebook_cell_is_the_skeleton():
    cells = json.loads((PROJECT_ROOT / NOTEBOOK).read_text())["cells"]
    (cell,) = [c for c in cells if c["metadata"].get("workbook", {}).get("exercise") == NAME]
    assert "".join(cell["source"]).strip() == f'{SKELETON.strip()}\n\n\npython_exercise("{NAME}", globals())'


def test_skeleton_fails():
    result = checks.run_check(NAME, SKELETON, timeout_s=TIMEOUT_S)
    assert not result
    assert "returns None" in result.problems[0]


@pytest.mark.parametrize("grading", [False, True], ids=["practice", "grading"])
def test_solution_passes(grading):
    started = time.monotonic()
    with using(GRADING) if grading else using(active()):
        result = checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)
    assert result, result.text()
    assert time.monotonic() - started < TIMEOUT_S


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_named_mistakes_are_candle_stats_verdicts(mistake):
    """The Table API answer and its SQL twin fail with the same words: candle_stats' comparison judges both."""
    code, query, named = MISTAKES[mistake]
    mine = checks.run_check(NAME, code, timeout_s=TIMEOUT_S)
    theirs = checks.run_check("candle_stats", query, timeout_s=TIMEOUT_S)
    assert not mine and not theirs
    assert named in mine.problems[0], mine.text()
    assert mine.problems[0] == theirs.problems[0]
    assert (mine.got, mine.expected) == (theirs.got, theirs.expected)
    assert "In the Table API: AS is .alias('name')" in mine.problems[-1]


def test_solutions_of_sql_and_table_api_both_pass_the_same_comparison():
    assert checks.run_check("candle_stats", exercises.solution("candle_stats"), timeout_s=TIMEOUT_S)
    assert checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)


def test_group_by_on_a_floored_ts_is_named_updating():
    result = checks.run_check(NAME, FLOORED, timeout_s=TIMEOUT_S)
    assert not result
    assert result.summary == f"{NAME}: an updating aggregation, not a window."
    assert "GroupAggregate" in result.problems[0] and "I,UA" in result.problems[0]
    twin = checks.run_check(
        "candle_stats",
        "SELECT FLOOR(ts TO MINUTE) AS ts_start, FLOOR(ts TO MINUTE) + INTERVAL '1' MINUTE AS ts_end, currency_pair, "
        "MIN(price) AS price_min, MAX(price) AS price_max, SUM(price * volume) / SUM(volume) AS price_avg, "
        "SUM(volume) AS volume, COUNT(*) AS num_trades FROM valid_trades "
        "GROUP BY FLOOR(ts TO MINUTE), currency_pair",
        timeout_s=TIMEOUT_S,
    )
    assert twin.summary == "candle_stats: an updating aggregation, not a window."


@pytest.mark.parametrize(
    "code, named",
    [
        (
            "def candles_table_api(trades):\n    return trades.select(col('price')).to_pandas()\n",
            "returns a DataFrame, not a Table. Return the Table itself",
        ),
        (
            "def candles_table_api(trades):\n    return trades.group_by(col('currency_pair'))\n",
            "returns a GroupedTable, not a Table. A grouped or windowed table needs its .select(...)",
        ),
        ("def candles_table_api(trades):\n    return trades.select(col('prize'))\n", "raised"),
        ("candles_table_api = 3\n", "not a function"),
    ],
    ids=["a-dataframe", "no-select", "unknown-column", "not-a-function"],
)
def test_other_mistakes_named(code, named):
    result = checks.run_check(NAME, code, timeout_s=TIMEOUT_S)
    assert not result
    assert named in result.problems[0], result.text()


# --- grading: the limited process and the allow-list -------------------------------------------------------


def test_graded_solution_passes_and_mistake_is_named_in_the_sandbox():
    started = time.monotonic()
    out = sandbox.run(NAME, exercises.solution(NAME), 30)
    assert out["passed"], out
    assert "correct: 67 rows" in out["summary"]  # the grading data's candles, not the practice's 73
    out = sandbox.run(NAME, FLOORED, 30)
    assert out["summary"] == f"{NAME}: an updating aggregation, not a window."
    assert time.monotonic() - started < 120


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_graded_mistakes_are_named_as_in_practice(mistake):
    """Rebuilt from its recording on the grading data, a wrong answer gets the practice verdict's words."""
    code, _, named = MISTAKES[mistake]
    out = sandbox.run(NAME, code, 30)
    assert not out["passed"] and named in out["problems"][0], out


def test_graded_answer_may_use_the_notebooks_names_without_importing_them():
    code = exercises.solution(NAME).split("\n\n\n", 1)[1]  # the function alone: col, lit, Tumble from the notebook
    assert "import" not in code
    assert sandbox.run(NAME, code, 30)["passed"]
    assert checks.run_check(NAME, code, timeout_s=TIMEOUT_S)


@pytest.mark.parametrize(
    "code, said",
    [
        (
            "def candles_table_api(trades):\n    return trades.execute()\n",
            "grading does not take Table.execute",
        ),
        (
            "def candles_table_api(trades):\n    return trades._j_table\n",
            "AttributeError",
        ),
        (
            "from pyflink.java_gateway import get_gateway\n\ndef candles_table_api(trades):\n"
            "    get_gateway().jvm.java.lang.Runtime.getRuntime().exec('touch /tmp/x')\n    return trades\n",
            "grading does not allow",
        ),
        (
            "import pyflink.table.window as w\n\ndef candles_table_api(trades):\n    return w.get_gateway()\n",
            "pyflink.table.window.get_gateway",
        ),
    ],
    ids=["execute", "private-name", "the-gateway", "a-module-function"],
)
def test_grading_refuses_what_reaches_beyond_the_table(code, said):
    out = sandbox.run(NAME, code, 30)
    assert not out["passed"]
    assert said in " ".join([out["summary"], *out["problems"]]), out


def test_rebuild_refuses_without_a_jvm():
    for tree in (
        ["get", ["module", "pyflink.table.window"], "get_gateway"],
        ["get", ["module", "os"], "system"],
        ["call", ["root", "trades"], [], {}],
        ["op", "getattr", {"node": ["root", "trades"]}, {"value": "x"}],
    ):
        with pytest.raises(table_answers.Refused):
            table_answers.rebuild(tree, None)
    deep = ["root", "trades"]
    for _ in range(table_answers.MAX_DEPTH):
        deep = ["get", deep, "x"]
    with pytest.raises(table_answers.Refused):
        table_answers.rebuild(deep, None)

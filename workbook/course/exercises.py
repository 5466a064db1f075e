"""The exercises: one model for all of them, and their instructor solutions.

Every exercise has one name, one place where the student writes (a file under
`sql/`, or a cell of a notebook that passes its SQL to `exercise(name, sql)`),
one solution at the mirrored place under `solutions/` (`workbook.paths.
solution_of`), and one check (found by name in the registry, `workbook.course.checks`).
Solutions replace the student's text only on purpose:

- the instructor sets `WORKBOOK_SOLUTIONS=1` before starting JupyterLab (CI
  does the same so every cell runs), or
- calls `reveal("name")` in a cell to show one solution in class.

The student release (`python -m workbook.course.release`) has no `solutions/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..paths import PROJECT_ROOT, SOLUTIONS_DIR, has_solutions, solution_of
from ..pipeline.sql_files import read_sql_file
from . import hints, progress


class SolutionsMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Exercise:
    name: str
    notebook: str  # where it is taught, relative to the project
    student: str  # the file the student edits, relative to the project: a sql/ file or the notebook itself
    writes: str  # what the student writes, in a few words
    answer: str = "sql"  # what the answer is: "sql" or "python" (the code of a cell)

    @property
    def in_cell(self) -> bool:
        return self.student.endswith(".ipynb")

    @property
    def solution(self) -> Path:
        path = solution_of(self.student, self.name if self.in_cell else None)
        return path.with_suffix({"sql": ".sql", "python": ".py"}[self.answer])

    @property
    def student_path(self) -> Path:
        return PROJECT_ROOT / self.student


EXERCISES = {
    e.name: e
    for e in (
        # The ladder, in the order of the workbook; every concept comes before the exercise that needs it.
        # --- part L1: notebooks 02 and 03 (checks in checks_basics.py) ---
        Exercise(
            "stream_counts",
            "notebooks/02_trade_stream.ipynb",
            "notebooks/02_trade_stream.ipynb",
            "pandas: trades and volume per pair and direction of the records read back from Kafka",
            "python",
        ),
        Exercise(
            "source_table",
            "notebooks/03_flink_sql_basics.ipynb",
            "notebooks/03_flink_sql_basics.ipynb",
            "CREATE TABLE trades: the event-time column ts and a 5-second WATERMARK",
        ),
        Exercise(
            "filter_project",
            "notebooks/03_flink_sql_basics.ipynb",
            "notebooks/03_flink_sql_basics.ipynb",
            "the valid trades of 'bitcoin / tether' with their notional value (filter and project)",
        ),
        Exercise(
            "changelog_counts",
            "notebooks/03_flink_sql_basics.ipynb",
            "notebooks/03_flink_sql_basics.ipynb",
            "trades per pair without a window: an updating result and its changelog (-U/+U)",
        ),
        Exercise(
            "tumble_counts",
            "notebooks/03_flink_sql_basics.ipynb",
            "notebooks/03_flink_sql_basics.ipynb",
            "trades per pair and 1-minute TUMBLE window",
        ),
        # --- end of part L1 ---
        Exercise(
            "watermark_delay",
            "notebooks/04_watermark_lab.ipynb",
            "notebooks/04_watermark_lab.ipynb",
            "a function: the smallest watermark delay that leaves at most 1 % of a disordered stream late",
            "python",
        ),
        # part L2: candlesticks and volumes (checks in checks_candles.py)
        Exercise(
            "candle_stats",
            "notebooks/05_candlesticks.ipynb",
            "notebooks/05_candlesticks.ipynb",
            "the whole SELECT of a 1-minute TUMBLE: min, max, VWAP, volume, count per pair",
        ),
        Exercise(
            "candlesticks",
            "notebooks/05_candlesticks.ipynb",
            "sql/40_candlesticks.sql",
            "the processor's INSERT INTO candlesticks, open and close by event time",
        ),
        Exercise(
            "volumes",
            "notebooks/06_volumes.ipynb",
            "sql/41_volumes.sql",
            "the processor's INSERT INTO volumes: bought and sold volume per pair and minute "
            "(the original lab's Exercise 2)",
        ),
        # part L3: the dashboard panel (07) and the optional window types of 08
        Exercise(
            "panel_sql",
            "notebooks/07_dashboard.ipynb",
            "notebooks/07_dashboard.ipynb",
            "the PostgreSQL query, with Grafana's macros, of a new panel: price range per minute",
        ),
        Exercise(
            "hop_vwap",
            "notebooks/08_more_windows.ipynb",
            "notebooks/08_more_windows.ipynb",
            "a sliding HOP window: the 5-minute VWAP every minute per pair (optional)",
        ),
        Exercise(
            "cumulate_volume",
            "notebooks/08_more_windows.ipynb",
            "notebooks/08_more_windows.ipynb",
            "CUMULATE: the volume so far in the hour, step 1 minute, per pair (optional)",
        ),
        Exercise(
            "top_pairs",
            "notebooks/08_more_windows.ipynb",
            "notebooks/08_more_windows.ipynb",
            "window Top-N: the 3 pairs with the most volume in each minute (optional)",
        ),
        # the advanced track (optional), part A1: rows over time, notebook 10 (checks in checks_over.py,
        # checks_dedup.py and checks_pattern.py)
        Exercise(
            "moving_vwap",
            "notebooks/10_rows_over_time.ipynb",
            "notebooks/10_rows_over_time.ipynb",
            "an OVER window: every trade with its pair's VWAP over the 5 minutes up to it (advanced)",
        ),
        Exercise(
            "first_trades",
            "notebooks/10_rows_over_time.ipynb",
            "notebooks/10_rows_over_time.ipynb",
            "deduplication: each replayed trade once, the first copy kept (ROW_NUMBER; advanced)",
        ),
        Exercise(
            "rising_closes",
            "notebooks/10_rows_over_time.ipynb",
            "notebooks/10_rows_over_time.ipynb",
            "MATCH_RECOGNIZE: three 1-minute closes in a row, each above the last, per pair (advanced)",
        ),
        # part A2: joins, notebook 11 (checks in checks_interval.py and checks_temporal.py)
        Exercise(
            "quick_reversals",
            "notebooks/11_joins.ipynb",
            "notebooks/11_joins.ipynb",
            "an interval join: each buy with the sells of its pair within 2 seconds of it (advanced)",
        ),
        Exercise(
            "trades_usd",
            "notebooks/11_joins.ipynb",
            "notebooks/11_joins.ipynb",
            "an event-time temporal join: each trade's price in USD at the rate of its time (advanced)",
        ),
        Exercise(
            "trade_assets",
            "notebooks/11_joins.ipynb",
            "notebooks/11_joins.ipynb",
            "a lookup join: each trade with its base asset's symbol and category from PostgreSQL (advanced)",
        ),
        # part A3: the Table API and running jobs, notebook 12 (checks in checks_table_api.py, checks_plans.py,
        # checks_sink.py and checks_jobs.py)
        Exercise(
            "candles_table_api",
            "notebooks/12_table_api_and_jobs.ipynb",
            "notebooks/12_table_api_and_jobs.ipynb",
            "the Table API: candle_stats' min, max, VWAP, volume and count per 1-minute Tumble window (advanced)",
            "python",
        ),
        Exercise(
            "state_operator",
            "notebooks/12_table_api_and_jobs.ipynb",
            "notebooks/12_table_api_and_jobs.ipynb",
            "the operator of a query's plan that keeps state for every key forever (advanced)",
            "python",
        ),
        Exercise(
            "upsert_sink",
            "notebooks/12_table_api_and_jobs.ipynb",
            "notebooks/12_table_api_and_jobs.ipynb",
            "CREATE TABLE of an upsert-kafka sink for an updating query: key, formats, PRIMARY KEY (advanced)",
        ),
        Exercise(
            "savepoint_restore",
            "notebooks/12_table_api_and_jobs.ipynb",
            "notebooks/12_table_api_and_jobs.ipynb",
            "stop the processor with a savepoint and restart it from it with parallelism 2 (advanced)",
            "python",
        ),
    )
}


def get(name: str) -> Exercise:
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"no exercise named {name!r} (have: {', '.join(EXERCISES)})") from None


def of_student_file(path: Path | str) -> Exercise | None:
    """The exercise whose student file this is, if any."""
    rel = str(Path(path).resolve().relative_to(PROJECT_ROOT)) if Path(path).is_absolute() else str(path)
    return next((e for e in EXERCISES.values() if e.student == rel), None)


def solutions_enabled() -> bool:
    return os.environ.get("WORKBOOK_SOLUTIONS", "").strip().lower() in ("1", "true", "yes")


def solution_path(name: str) -> Path:
    path = get(name).solution
    if not path.exists():
        if not has_solutions():
            raise SolutionsMissing("this is a student release: it has no solutions/ folder.")
        raise SolutionsMissing(f"exercise {name!r} has no solution at {path.relative_to(SOLUTIONS_DIR.parent)}")
    return path


def solution(name: str) -> str:
    return solution_path(name).read_text()


_ANSWERS: dict[str, str] = {}  # exercise -> the answer its cell last gave in this kernel


def exercise(name: str, student_sql: str) -> str:
    """The student's SQL of an exercise cell, or the instructor solution when WORKBOOK_SOLUTIONS=1; kept for
    `answer(name)`."""
    if solutions_enabled():
        print(f"WORKBOOK_SOLUTIONS=1: using the instructor solution {solution_path(name).relative_to(PROJECT_ROOT)}")
        student_sql = solution(name)
    _ANSWERS[name] = student_sql
    return student_sql


def answer(name: str) -> str | None:
    """Exercise `name`'s answer, for the cells after it: a file exercise's file (as saved now), an exercise
    cell's SQL as it last ran in this kernel; None, with a line saying what to run, when the cell has not
    run since the kernel started."""
    if not get(name).in_cell:
        return exercise_file(name)
    if name not in _ANSWERS:
        print(f"\u2139\ufe0f {name}: run the exercise cell of {name} above first (this kernel has not run it yet).")
        return None
    return _ANSWERS[name]


def exercise_file(name: str) -> str:
    """The student's file of an exercise, or its solution when WORKBOOK_SOLUTIONS=1."""
    ex = get(name)
    if ex.in_cell:
        raise ValueError(f"exercise {name!r} is written in a cell of {ex.notebook}, not in a file")
    if solutions_enabled():
        return exercise(name, "")
    return read_sql_file(ex.student_path)  # SqlFileError names the file and its encoding problem


def hint(name: str, level: int | None = None) -> None:
    """Print a hint for exercise `name`: the next level each time you ask (1: a nudge ... 3: nearly the
    answer), or the `level` you ask for. The texts are workbook/course/hints/<name>.md."""
    get(name)
    text = hints.hint(name, level)
    if hints.levels(name) and not solutions_enabled():
        progress.record_hint(name, level or hints.asked(name))
    print(text)


def reveal(name: str):
    """Show one solution, highlighted, for the instructor (on purpose, never by default)."""
    from IPython.display import Markdown

    rel = solution_path(name).relative_to(PROJECT_ROOT)
    lang = {"sql": "sql", "python": "python"}.get(get(name).answer, "")
    return Markdown(f"**Instructor solution** `{rel}`\n\n```{lang}\n{solution(name)}\n```")

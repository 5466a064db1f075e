"""Every exercise check fails on the untouched student skeleton, with its
specific feedback, and passes on the instructor solution. The checks run the
SQL on the real Flink (MiniCluster) over the real embedded broker."""

from pathlib import Path

import pytest

from workbook.course import checks, exercises

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def test_candlesticks_skeleton_is_a_specification_and_fails(stack):
    skeleton = (ROOT / "sql" / "40_candlesticks.sql").read_text()
    assert "TODO" in skeleton and "order_key" not in skeleton and "SELECT" not in skeleton.replace("SELECT ...", "")
    result = checks.check("candlesticks", skeleton)
    assert not result and "there is no query" in result.summary


def test_candlesticks_solution_passes(stack):
    result = checks.check("candlesticks", exercises.solution("candlesticks"))
    assert result and result.summary.startswith("candlesticks: correct: 73 rows"), result.text()


def test_volumes_skeleton_fails(stack):
    skeleton = (ROOT / "sql" / "41_volumes.sql").read_text()
    assert "order book" in skeleton and "INSERT INTO volumes" in skeleton
    assert "CASE" not in skeleton and "GROUP BY" not in skeleton and "TUMBLE" not in skeleton
    assert not checks.check("volumes", skeleton)


def test_volumes_solution_passes(stack):
    result = checks.check("volumes", exercises.solution("volumes"))
    assert result and result.summary.startswith("volumes: correct: 73 rows"), result.text()


def test_volumes_swapped_gets_specific_feedback(stack):
    swapped = (
        exercises.solution("volumes").replace("'buy'", "'tmp'").replace("'sell'", "'buy'").replace("'tmp'", "'sell'")
    )
    result = checks.check("volumes", swapped)
    assert not result and "buy and sell are swapped" in result.problems[0]


def test_sql_that_does_not_compile_is_reported(stack):
    result = checks.check("volumes", "SELECT nonsense FROM valid_trades")
    assert not result and result.summary == "volumes: your query did not run."
    assert "Column 'nonsense' not found" in result.problems[0] and "(line 1, column 8)" in result.problems[0]


def test_answer_gives_the_cells_after_an_exercise_its_answer_even_after_a_kernel_restart(capsys, monkeypatch):
    """notebooks 03, 05, 06, 07: the cells after an exercise ask `answer(NAME)`; no variable to lose."""
    from workbook.course import exercises as ex

    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    monkeypatch.setattr(ex, "_ANSWERS", {})  # a fresh kernel
    assert ex.answer("candlesticks") == (ex.PROJECT_ROOT / "sql" / "40_candlesticks.sql").read_text()
    assert ex.answer("changelog_counts") is None
    assert "run the exercise cell of changelog_counts above first" in capsys.readouterr().out
    ex.exercise("changelog_counts", "SELECT 1")
    assert ex.answer("changelog_counts") == "SELECT 1"

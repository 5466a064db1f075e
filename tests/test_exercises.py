"""Every exercise check fails on the untouched student skeleton, with its
specific feedback, and passes on the instructor solution. The checks run the
SQL on the real Flink (MiniCluster) over the real embedded broker."""
import ast
import json
from pathlib import Path

import pytest

from workbook.course import checks, exercises

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def notebook_exercise(notebook: str, name: str) -> str:
    """The student's SQL string of the `exercise(name, ...)` call in a committed notebook."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "exercise" \
                    and node.args[0].value == name:
                return node.args[1].value
    raise AssertionError(f"no exercise({name!r}, ...) cell in {notebook}")


def test_candlesticks_skeleton_fails_with_arrival_order_feedback(stack):
    skeleton = notebook_exercise("05_candlesticks.ipynb", "candlesticks")
    assert "FIRST_VALUE(price)" in skeleton and "TODO" in skeleton
    with pytest.raises(checks.CheckFailed) as err:
        checks.check_candlesticks(skeleton)
    assert "price_open/price_close follow arrival order (FIRST_VALUE/LAST_VALUE), not event time" in str(err.value)


def test_candlesticks_solution_passes(stack):
    assert checks.check_candlesticks(exercises.solution("candlesticks")).startswith("candlesticks: correct: 72 rows")


def test_volumes_skeleton_fails_with_todo_feedback(stack):
    skeleton = (ROOT / "sql" / "41_volumes.sql").read_text()
    with pytest.raises(checks.CheckFailed) as err:
        checks.check_volumes(skeleton)
    assert "volume_buy is NULL in every row: the TODO in your query is still there." in str(err.value)


def test_volumes_solution_passes(stack):
    assert checks.check_volumes(exercises.solution("volumes")).startswith("volumes: correct: 72 rows")


def test_volumes_swapped_gets_specific_feedback(stack):
    swapped = exercises.solution("volumes").replace("'buy'", "'tmp'").replace("'sell'", "'buy'").replace("'tmp'", "'sell'")
    with pytest.raises(checks.CheckFailed, match="buy and sell are swapped"):
        checks.check_volumes(swapped)


def test_sql_that_does_not_compile_is_reported(stack):
    with pytest.raises(checks.CheckFailed, match="your query did not run: the query does not compile"):
        checks.check_volumes("SELECT nonsense FROM valid_trades")

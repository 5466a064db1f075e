"""The advanced track, notebook 12 (optional): reading a plan (state_operator, a Python answer). The check fails on
the notebook's skeleton, passes on the solution (practice and grading data, in the kernel and in the grader's
sandbox), takes its answer from Flink's plan of the query (another query, another answer), and names the
mistakes: a stateless operator, the source, an operator not in the plan, a window operator whose state is freed."""

import pytest
from ladderkit import exercise_cell

from workbook.course import checks, checks_plans, datasets, exercises, hints, plans, sandbox
from workbook.course.grading import GRADING

pytestmark = pytest.mark.integration

NAME = "state_operator"
NOTEBOOK_STEM = "12_table_api_and_jobs"
NOTEBOOK = f"notebooks/{NOTEBOOK_STEM}.ipynb"


def skeleton() -> str:
    """The code of the exercise cell as committed, without its check call (what a student starts from)."""
    return exercise_cell(NOTEBOOK_STEM, NAME).split("python_exercise(")[0]


def test_registered():
    ex = exercises.get(NAME)
    assert ex.notebook == NOTEBOOK and ex.answer == "python" and ex.solution.exists()
    assert len(hints.levels(NAME)) == 3
    assert checks.find_check(NAME) is checks_plans.check


def test_notebook_holds_the_skeleton_not_the_solution():
    body = skeleton()
    assert "TODO" in body and "GroupAggregate" not in body


@pytest.mark.parametrize("data", [datasets.PRACTICE, GRADING], ids=["practice", "grading"])
def test_solution_passes(data):
    with datasets.using(data):
        result = checks.run_check(NAME, exercises.solution(NAME))
    assert result, result.text()
    assert "GroupAggregate(groupBy=[currency_pair]" in result.summary


def test_skeleton_fails():
    result = checks.run_check(NAME, skeleton())
    assert not result and result.hint == NAME and "not set yet" in result.text()


@pytest.mark.parametrize(
    "answer, named",
    [
        ('state_operator = "Calc"', "a Calc computes columns and filters rows one at a time"),
        ('state_operator = "Exchange"', "an Exchange only sends each row"),
        ('state_operator = "TableSourceScan"', "the source reads the topic"),
        ('state_operator = "WatermarkAssigner"', "keeps only the largest timestamp"),
        ('state_operator = "GlobalWindowAggregate"', "a window operator: its state is freed"),
        ('state_operator = "LocalWindowAggregate"', "a window operator: its state is freed"),
        ('state_operator = "Join"', "not an operator of this query's plan"),
        ("state_operator = 42", "not a name"),
        ("state_operator = [", "your code raised SyntaxError"),
    ],
)
def test_named_mistakes(answer, named):
    result = checks.run_check(NAME, answer)
    assert not result and named in result.text(), result.text()


def test_the_answer_comes_from_the_plan(monkeypatch):
    # the same check over a regular join: its Join keeps both sides forever, and no GroupAggregate is left
    monkeypatch.setattr(
        checks_plans,
        "STATE_QUERY",
        "SELECT a.currency_pair, a.price, b.price FROM valid_trades a JOIN valid_trades b "
        "ON a.currency_pair = b.currency_pair WHERE a.direction = 'buy' AND b.direction = 'sell'",
    )
    assert checks.run_check(NAME, "Join")
    assert "not an operator of this query's plan" in checks.run_check(NAME, "GroupAggregate").text()


def test_the_plan_outline_names_key_and_changelog():
    text = plans.explain(checks_plans.STATE_QUERY)
    first = text.splitlines()[0]
    assert first == "GroupAggregate(groupBy=[currency_pair], changelogMode=[I,UA])", text
    assert "Exchange(distribution=[hash[currency_pair]]" in text and "GlobalWindowAggregate(" in text


@pytest.mark.parametrize(
    "code, passes, words",
    [
        (None, True, "correct"),
        ('state_operator = "GlobalWindowAggregate"', False, "its state is freed"),
        ("state_operator = 42", False, "not a name"),
        ("state_operator = [", False, "SyntaxError"),
    ],
)
def test_graded_in_the_sandbox(code, passes, words):
    out = sandbox.run(NAME, code or exercises.solution(NAME), timeout_s=30)
    assert out["passed"] is passes, out
    assert words in out["summary"] + " ".join(out["problems"]), out

"""The advanced track, notebook 10 (optional): an OVER window (moving_vwap) and a deduplication (first_trades).
Each check fails on the notebook's skeleton, passes on the solution (on the practice and the grading data), and
names known wrong answers, those whose final rows are right included (the changelog and the operator Flink runs
tell them apart); the stored expected outputs are up to date and equal what Flink computes for the solutions.
And what notebook 10 says Flink does: an OVER window drops a trade behind the watermark that a window counts; a
window can follow a deduplication but not a DISTINCT."""

import pandas as pd
import pytest
from ladderkit import skeletons

from workbook.course import checks, datasets, exercises, feedback, hints
from workbook.course.grading import GRADING
from workbook.course.references import dedup, over, valid

pytestmark = pytest.mark.integration

NAMES = ["moving_vwap", "first_trades"]
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

W = "PARTITION BY currency_pair ORDER BY ts RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW"


def over_sql(value="SUM(price * volume) OVER w / SUM(volume) OVER w", window=W, where=""):
    return f"SELECT currency_pair, ts, price, {value} AS vwap FROM valid_trades{where} WINDOW w AS ({window})"


def dedup_sql(order="ts", key="currency_pair, direction, price, volume, ts", keep="rn = 1"):
    return f"""SELECT currency_pair, direction, price, volume, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order}) AS rn FROM valid_trades)
WHERE {keep}"""


def _same(stored: pd.DataFrame, fresh: pd.DataFrame) -> None:
    assert list(stored.columns) == list(fresh.columns) and len(stored) == len(fresh)
    for col in stored.columns:
        if pd.api.types.is_float_dtype(fresh[col]):
            assert ((stored[col] - fresh[col]).abs() <= 1e-9 * fresh[col].abs().clip(lower=1)).all(), col
        else:
            assert (stored[col].astype(str) == fresh[col].astype(str)).all(), col


@pytest.mark.parametrize("data", [datasets.PRACTICE, GRADING], ids=["practice", "grading"])
def test_expected_outputs_are_up_to_date(data):
    with datasets.using(data):
        for name, make in (("moving_vwap", over.moving_vwap), ("first_trades", dedup.first_trades)):
            stored = pd.read_csv(data.expected_dir / f"{name}.csv", parse_dates=["ts"])
            _same(stored, make().assign(ts=lambda f: f["ts"].astype("datetime64[ns]")))


def test_registered_in_workbook_order():
    names = list(exercises.EXERCISES)
    assert names[names.index("top_pairs") + 1 : names.index("top_pairs") + 4] == [*NAMES, "rising_closes"]
    for name in NAMES:
        assert (
            exercises.get(name).notebook == "notebooks/10_rows_over_time.ipynb"
            and exercises.get(name).solution.exists()
        )


def test_notebook_holds_skeletons_not_solutions():
    found = skeletons("10_rows_over_time")
    assert sorted(found) == sorted([*NAMES, "rising_closes"])
    for name, body in found.items():
        assert " ".join(exercises.solution(name).split()) not in " ".join(body.split())
        assert "TODO" in body


@pytest.mark.parametrize("data", [datasets.PRACTICE, GRADING], ids=["practice", "grading"])
@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_and_flink_equals_the_reference(name, data):
    with datasets.using(data):
        result = checks.run_check(name, exercises.solution(name), timeout_s=TIMEOUT_S)
    assert result, result.text()


@pytest.mark.parametrize("name", NAMES)
def test_skeleton_fails(name):
    result = checks.run_check(name, skeletons("10_rows_over_time")[name], timeout_s=TIMEOUT_S)
    assert not result and result.hint == name


@pytest.mark.parametrize(
    "name, wrong, named",
    [
        ("moving_vwap", over_sql(value="AVG(price) OVER w"), "a simple average, not the VWAP"),
        (
            "moving_vwap",
            over_sql(window="PARTITION BY currency_pair ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"),
            "the VWAP since the first trade",
        ),
        (
            "moving_vwap",  # Flink runs ROWS with a time interval as every earlier row (the message says so)
            over_sql(window=W.replace("RANGE", "ROWS")),
            "the VWAP since the first trade",
        ),
        (
            "moving_vwap",
            over_sql(window="ORDER BY ts RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW"),
            "the trades of every pair in one average",
        ),
        ("moving_vwap", over_sql(window=W.replace("ORDER BY ts", "ORDER BY price")), "not the time"),
        (
            "moving_vwap",
            over_sql(window="PARTITION BY currency_pair ORDER BY price ROWS BETWEEN 10 PRECEDING AND CURRENT ROW"),
            "not a time attribute",
        ),
        ("moving_vwap", over_sql(window=W.replace("'5' MINUTE", "'1' MINUTE")), "vwap differs"),
        ("moving_vwap", over_sql(where=" WHERE volume > 0.01"), "other trades"),
        (
            "moving_vwap",
            "SELECT window_start, window_end, currency_pair, SUM(price * volume) / SUM(volume) AS vwap "
            "FROM TABLE(HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)) "
            "GROUP BY window_start, window_end, currency_pair",
            "one row per window, not one per trade",
        ),
        (
            "moving_vwap",
            "SELECT currency_pair, MAX(ts) AS ts, MAX(price) AS price, SUM(price * volume) / SUM(volume) AS vwap "
            "FROM valid_trades GROUP BY currency_pair",
            "one row per group, not one per trade",
        ),
        ("moving_vwap", over_sql(window=W.replace("ORDER BY ts", "ORDER BY ts DESC")), "ordered descending"),
        ("first_trades", dedup_sql(order="ts DESC"), "keeps the last copy: an updating result"),
        ("first_trades", dedup_sql(key="direction, price, volume, ts"), "differ in currency_pair only"),
        ("first_trades", dedup_sql(order="price"), "ordered by a column that is not the time"),
        (
            "first_trades",
            "SELECT DISTINCT currency_pair, direction, price, volume, ts FROM valid_trades",
            "DISTINCT instead of a deduplication",
        ),
        (
            "first_trades",
            "SELECT currency_pair, direction, price, volume, ts FROM valid_trades",
            "the replayed copies are still there",
        ),
        ("first_trades", dedup_sql(keep="rn <= 2"), "the replayed copies are still there"),
        ("first_trades", dedup_sql(key="currency_pair, price, volume, ts"), "differ in direction only"),
        ("first_trades", dedup_sql(key="currency_pair, direction, price, ts"), "differ in volume only"),
        ("first_trades", dedup_sql(key="currency_pair, direction, volume, ts"), "differ in price only"),
        ("first_trades", dedup_sql().replace("SELECT currency_pair,", "SELECT *, currency_pair,", 1), "wrong columns"),
    ],
)
def test_named_mistakes(name, wrong, named):
    result = checks.run_check(name, wrong, timeout_s=TIMEOUT_S)
    assert not result
    assert named in result.text(), result.text()


def test_an_over_window_drops_a_trade_behind_the_watermark_that_a_window_counts():
    """Notebook 10: a trade behind the watermark whose partition has emitted that time is dropped by an OVER
    window, while valid_trades (and a window aggregation) keeps it. The grading data has such trades."""
    with datasets.using(GRADING):
        trades = datasets.records("check")
        kept = len(valid(trades))
        taken = len(over.accepted(trades))
        rows = feedback.run_answer(exercises.solution("moving_vwap"), TIMEOUT_S)
        counted = feedback.run_answer("SELECT COUNT(*) AS n FROM valid_trades", TIMEOUT_S)
    assert taken < kept  # the data has such trades
    assert len(rows) == taken and int(counted["n"].iloc[-1]) == kept


def test_a_window_follows_a_deduplication_but_not_a_distinct():
    """Notebook 10: the deduplication keeps ts an event time; over SELECT DISTINCT, Flink refuses a window."""
    window = (
        "WITH t AS ({}) SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), "
        "INTERVAL '1' MINUTE)) GROUP BY window_start, window_end"
    )
    rows = feedback.run_answer(window.format(exercises.solution("first_trades")), TIMEOUT_S, data="replayed")
    assert rows["n"].sum() == len(dedup.first_trades())
    distinct = "SELECT DISTINCT currency_pair, direction, price, volume, ts FROM valid_trades"
    with pytest.raises(feedback.Wrong):
        feedback.run_answer(window.format(distinct), TIMEOUT_S, data="replayed")


def test_keeping_the_first_row_updates_it_when_an_earlier_one_comes_later():
    """Notebook 10: ORDER BY ts keeps the earliest row; on disordered data a later-arriving earlier trade replaces
    the first one emitted (-U/+U), while exact copies (same time) never do."""
    first_of_pair = (
        "SELECT currency_pair, price, ts FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY currency_pair ORDER BY ts) "
        "AS rn FROM valid_trades) WHERE rn = 1"
    )
    log = feedback.run_answer(first_of_pair, TIMEOUT_S, changelog=True)
    assert {"-U", "+U"} <= set(log["op"])
    log = feedback.run_answer(exercises.solution("first_trades"), TIMEOUT_S, data="replayed", changelog=True)
    assert set(log["op"]) == {"+I"}


@pytest.mark.parametrize("name", NAMES)
def test_three_hint_levels(name):
    assert len(hints.levels(name)) == 3


def test_rows_counts_rows_range_takes_time_and_ties_together():
    """Notebook 10: ROWS BETWEEN n PRECEDING counts rows; RANGE takes every row of the same millisecond together;
    every OVER aggregate of one query uses the same window."""
    count = "SELECT currency_pair, ts, COUNT(*) OVER (PARTITION BY currency_pair ORDER BY ts {}) AS n FROM valid_trades"
    rows = feedback.run_answer(count.format("ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"), TIMEOUT_S)
    assert set(rows["n"]) == {1, 2, 3}
    rows = feedback.run_answer(count.format("RANGE BETWEEN INTERVAL '0' SECOND PRECEDING AND CURRENT ROW"), TIMEOUT_S)
    ties = rows.groupby(["currency_pair", "ts"]).size().rename("k").reset_index()
    same = rows.merge(ties, on=["currency_pair", "ts"])
    assert (same["n"] == same["k"]).all() and same["k"].max() > 1  # the data has same-ms ties
    two = count.format("ROWS BETWEEN 2 PRECEDING AND CURRENT ROW").replace(
        " AS n ",
        " AS n, MAX(price) OVER (PARTITION BY currency_pair ORDER BY ts ROWS BETWEEN 5 PRECEDING AND "
        "CURRENT ROW) AS m ",
    )
    with pytest.raises(feedback.Wrong, match="All aggregates must be computed on the same window"):
        feedback.run_answer(two, TIMEOUT_S)


def test_a_window_deduplication_keeping_the_first_row_is_accepted():
    """The copies of a trade have its time, so they are in its window: a window deduplication is one too."""
    sql = """SELECT currency_pair, direction, price, volume, ts FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, currency_pair, direction, price, volume, ts
                               ORDER BY ts) AS rn
  FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)))
WHERE rn = 1"""
    result = checks.run_check("first_trades", sql, timeout_s=TIMEOUT_S)
    assert result, result.text()

"""The advanced track, notebook 11 (optional): the interval join (quick_reversals).
The check fails on the skeleton, passes on the solution (on the practice and the grading data), names known wrong
answers (those it reads off Flink's plan before running them, those whose rows tell, those Flink refuses); the
stored expected output is up to date, and its rows flagged may_drop are the only ones Flink may leave out."""

import time

import pandas as pd
import pytest
from ladderkit import skeletons

from workbook.course import checks, checks_interval, datasets, exercises, hints
from workbook.course.grading import GRADING
from workbook.course.references import interval as reference

pytestmark = pytest.mark.integration

NAME = "quick_reversals"
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

# the notebook's exercise cell (without its %%flinksql line)
SKELETON = """-- ✏️ TODO: each buy with every sell of its pair within 2 seconds of it (before or after, both ends included)
-- ✏️ TODO: columns currency_pair, buy_ts, sell_ts, buy_price, sell_price; one row per (buy, sell)
SELECT 'TODO' AS todo
"""

QUERY = """SELECT b.currency_pair, b.ts AS buy_ts, {sell_ts} AS sell_ts, b.price AS buy_price, s.price AS sell_price
FROM valid_trades AS b
JOIN valid_trades AS s
  ON {on}
WHERE {where}"""
PAIR = "b.currency_pair = s.currency_pair"
BOUND = "s.ts BETWEEN b.ts - INTERVAL '2' SECOND AND b.ts + INTERVAL '2' SECOND"
SIDES = "b.direction = 'buy' AND s.direction = 'sell'"


def query(on: str = f"{PAIR} AND {BOUND}", where: str = SIDES, sell_ts: str = "CAST(s.ts AS TIMESTAMP_LTZ(3))") -> str:
    return QUERY.format(on=on, where=where, sell_ts=sell_ts)


WINDOW_JOIN = """SELECT b.currency_pair, CAST(b.ts AS TIMESTAMP_LTZ(3)) AS buy_ts, CAST(s.ts AS TIMESTAMP_LTZ(3)) AS sell_ts,
       b.price AS buy_price, s.price AS sell_price
FROM (SELECT * FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '2' SECOND)) WHERE direction = 'buy') b
JOIN (SELECT * FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '2' SECOND)) WHERE direction = 'sell') s
  ON b.currency_pair = s.currency_pair AND b.window_start = s.window_start AND b.window_end = s.window_end"""


def _keys(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(checks_interval._keys(frame)).value_counts()


def test_expected_output_is_up_to_date():
    for data in (datasets.PRACTICE, GRADING):
        with datasets.using(data):
            stored = checks_interval.load_expected()
            fresh = reference.quick_reversals()
        assert list(stored.columns) == list(fresh.columns) == [*checks_interval.COLUMNS, "may_drop"]
        assert len(stored) == len(fresh), data.name
        for col in stored.columns:
            assert (stored[col].astype(str) == fresh[col].astype(str)).all(), (data.name, col)
        apart = (stored["sell_ts"] - stored["buy_ts"]).abs()
        assert apart.max() == pd.Timedelta(seconds=2)
        # the data tells the named mistakes apart: sells on both sides of the buy, exactly 2 s away, same ms
        assert (stored["sell_ts"] < stored["buy_ts"]).any() and (stored["sell_ts"] > stored["buy_ts"]).any()
        assert (apart == pd.Timedelta(seconds=2)).sum() > 0 and (apart == pd.Timedelta(0)).sum() > 0
        # the practice data has no trade behind the watermark; the grading data's give rows Flink may drop
        assert stored["may_drop"].any() == (data is GRADING), data.name


def test_registered_with_hints():
    ex = exercises.get(NAME)
    assert ex.notebook == "notebooks/11_joins.ipynb" and ex.solution.exists()
    assert checks.find_check(NAME) is checks_interval.CHECKS[NAME]
    levels = hints.levels(NAME)
    assert len(levels) == 3
    solution = " ".join(exercises.solution(NAME).split())
    assert "INTERVAL '2' SECOND" not in levels[2] and solution not in " ".join(levels[2].split())


def test_solution_passes():
    started = time.perf_counter()
    result = checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)
    assert result, result.text()
    assert time.perf_counter() - started < 120


@pytest.mark.parametrize("data", [datasets.PRACTICE, GRADING], ids=["practice", "grading"])
def test_flink_keeps_every_sure_row(data):
    """Flink's rows of the solution are the expected ones, give or take rows flagged may_drop (the grading data's
    trades behind the watermark: which of their rows Flink keeps depends on the pace of the query's two scans)."""
    solution = exercises.solution(NAME)
    with datasets.using(data):
        got = checks_interval._shape(checks_interval.run_answer(solution, TIMEOUT_S), None)
        expected = checks_interval.load_expected()
    both = pd.concat(
        [
            _keys(got).rename("got"),
            _keys(expected).rename("all"),
            _keys(expected[~expected["may_drop"]]).rename("sure"),
        ],
        axis=1,
    ).fillna(0)
    assert ((both["got"] >= both["sure"]) & (both["got"] <= both["all"])).all(), data.name


def test_skeleton_fails():
    result = checks.run_check(NAME, SKELETON, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert "wrong columns" in result.text(), result.text()


@pytest.mark.parametrize(
    "wrong, named",
    [
        (query(on=PAIR), "no time bound: a regular join"),
        (query(on=f"{PAIR} AND ABS(TIMESTAMPDIFF(SECOND, b.ts, s.ts)) <= 2"), "no time bound: a regular join"),
        (query(on=f"{PAIR} AND s.ts BETWEEN b.ts AND b.ts + INTERVAL '2' SECOND"), "sells before it missing"),
        (query(on=f"{PAIR} AND b.ts BETWEEN s.ts AND s.ts + INTERVAL '2' SECOND"), "sells after it missing"),
        (
            query(on=f"{PAIR} AND s.ts BETWEEN b.ts + INTERVAL '2' SECOND AND b.ts - INTERVAL '2' SECOND"),
            "bounds swapped",
        ),
        (
            query(on=f"{PAIR} AND s.ts > b.ts - INTERVAL '2' SECOND AND s.ts < b.ts + INTERVAL '2' SECOND"),
            "the ends of the bounds left out",
        ),
        (query(on=f"{PAIR} AND {BOUND.replace('SECOND', 'MINUTE')}"), "rows differ"),
        (query(on=BOUND), "wrong key: not the same pair"),
        (query(on=f"b.direction <> s.direction AND {BOUND}", where="b.direction = 'buy'"), "wrong key"),
        (query(where="b.direction = 'buy' AND s.direction = 'buy'"), "buys paired with buys"),
        (query(where="TRUE"), "buys paired with buys"),
        (query(where="b.direction = 'sell' AND s.direction = 'buy'"), "buys and sells swapped"),
        (WINDOW_JOIN, "a window join, not an interval join"),
        (query(sell_ts="s.ts"), "two event-time columns"),
        (query().replace("AS sell_price", "AS price_sell"), "wrong columns"),
    ],
)
def test_named_mistakes(wrong, named):
    started = time.perf_counter()
    result = checks.run_check(NAME, wrong, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert named in result.summary, result.text()
    assert time.perf_counter() - started < 60, "the check ran too long"


def test_the_solution_passes_on_the_grading_data_too():
    with datasets.using(GRADING):
        result = checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)
    assert result, result.text()
    assert "Flink may drop as late" in result.summary


def test_notebook_cell_is_the_skeleton():
    """The exercise cell of notebooks/11_joins.ipynb is SKELETON (what the tests above check), not the answer."""
    assert skeletons("11_joins")["quick_reversals"].strip() == SKELETON.strip()

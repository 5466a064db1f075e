"""The advanced track, notebook 10 (optional): MATCH_RECOGNIZE (rising_closes).
The check fails on the skeleton, passes on the solution, and names known wrong answers (those Flink runs and
those it refuses); the stored expected output is up to date and equals what Flink computes for the solution."""

import pandas as pd
import pytest
from ladderkit import skeletons

from workbook.course import checks, checks_pattern, exercises
from workbook.course.references import patterns as reference

pytestmark = pytest.mark.integration

NAME = "rising_closes"
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

CLOSES = """WITH closes AS (
  SELECT currency_pair, window_start, window_end, window_time,
         CAST(SPLIT_INDEX(MAX(order_key), '|', 3) AS DOUBLE) AS price_close
  FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY currency_pair, window_start, window_end, window_time
)
"""
# the notebook's exercise cell (without its %%flinksql line)
SKELETON = (
    CLOSES
    + """-- ✏️ TODO: the MATCH_RECOGNIZE over closes: currency_pair, first_start, last_end, first_close, last_close
SELECT 'TODO' AS todo
"""
)

MATCH = (
    CLOSES
    + """SELECT {select}
FROM closes
  MATCH_RECOGNIZE (
    {partition}
    ORDER BY {order}
    MEASURES
      A.window_start AS first_start,
      {last}.window_end AS last_end,
      A.price_close AS first_close,
      {last}.price_close AS last_close
    ONE ROW PER MATCH
    AFTER MATCH {skip}
    PATTERN ({pattern})
    DEFINE
      {define}
  )"""
)
OK = dict(
    select="*",
    partition="PARTITION BY currency_pair",
    order="window_time",
    last="C",
    skip="SKIP TO NEXT ROW",
    pattern="A B C",
    define="B AS B.price_close > A.price_close,\n      C AS C.price_close > B.price_close",
)

LAG = (
    CLOSES
    + """SELECT currency_pair, first_start, last_end, first_close, last_close FROM (
  SELECT currency_pair, LAG(window_start, 2) OVER w AS first_start, window_end AS last_end,
         LAG(price_close, 2) OVER w AS first_close, LAG(price_close, 1) OVER w AS mid_close,
         price_close AS last_close
  FROM closes
  WINDOW w AS (PARTITION BY currency_pair ORDER BY window_time))
WHERE mid_close > first_close AND last_close > mid_close"""
)
JOIN = (
    CLOSES
    + """SELECT a.currency_pair, a.window_start AS first_start, c.window_end AS last_end,
       a.price_close AS first_close, c.price_close AS last_close
FROM closes a
JOIN closes b ON b.currency_pair = a.currency_pair AND b.window_start = a.window_end
JOIN closes c ON c.currency_pair = a.currency_pair AND c.window_start = b.window_end
WHERE b.price_close > a.price_close AND c.price_close > b.price_close"""
)


def match(**kw) -> str:
    return MATCH.format(**{**OK, **kw})


def test_expected_output_is_up_to_date():
    stored = checks_pattern.load_expected(NAME)
    fresh = reference.rising_closes()
    assert list(stored.columns) == list(fresh.columns) == checks_pattern.COLUMNS + checks_pattern.FLAGS
    assert len(stored) == len(fresh)
    for col in stored.columns:
        if pd.api.types.is_float_dtype(fresh[col]):
            assert ((stored[col] - fresh[col]).abs() <= 1e-9 * fresh[col].abs().clip(lower=1)).all(), col
        else:
            assert (stored[col].astype(str) == fresh[col].astype(str)).all(), col
    # the known mistakes give other rows than the answer, on this data
    keys = {
        flag: set(map(tuple, stored[stored[flag]][checks_pattern.KEY].astype(str).values))
        for flag in checks_pattern.FLAGS
    }
    for flag in checks_pattern.FLAGS[1:]:
        assert keys[flag] != keys["answer"], flag


def test_registered():
    ex = exercises.get(NAME)
    assert ex.notebook == "notebooks/10_rows_over_time.ipynb" and ex.solution.exists()
    assert checks.find_check(NAME) is checks_pattern.CHECKS[NAME]


def test_solution_keeps_the_skeletons_closes():
    solution = exercises.solution(NAME)
    assert solution.startswith(CLOSES) and "MATCH_RECOGNIZE" in solution
    assert " ".join(solution.split()) not in " ".join(SKELETON.split())


def test_solution_passes_and_flink_equals_the_reference():
    result = checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)
    assert result, result.text()


def test_skeleton_fails():
    result = checks.run_check(NAME, SKELETON, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert "wrong columns" in result.text(), result.text()


@pytest.mark.parametrize(
    "wrong, named",
    [
        (match(skip="SKIP PAST LAST ROW"), "overlapping runs missing"),
        (
            match(define="B AS B.price_close >= A.price_close,\n      C AS C.price_close >= B.price_close"),
            ">= instead of >",
        ),
        (match(pattern="A C", define="C AS C.price_close > A.price_close"), "two rising candles, not three"),
        (match(define="C AS C.price_close > A.price_close"), "rows differ"),  # B unconstrained: a rise over 3
        (match(partition=""), "not partitioned by pair"),
        (
            match(partition="", select="currency_pair, first_start, last_end, first_close, last_close"),
            "not partitioned by pair",
        ),
        (match(order="window_start"), "ORDER BY is no time attribute"),
        (
            match(define="B AS B.price_close > PREV(B.price_close),\n      C AS C.price_close > PREV(C.price_close)"),
            "PREV is not supported here",
        ),
        (LAG, "not MATCH_RECOGNIZE"),
        (JOIN, "not MATCH_RECOGNIZE"),
        (match().replace("AS last_close", "AS close_last"), "wrong columns"),
        (match(last="B"), "rows differ"),
    ],
    ids=[
        "skip-past-last-row",
        "greater-or-equal",
        "two-candles",
        "b-unconstrained",
        "no-partition",
        "no-partition-select",
        "order-by-window-start",
        "prev",
        "lag",
        "self-join",
        "column-name",
        "measures-of-b",
    ],
)
def test_named_mistakes(wrong, named):
    result = checks.run_check(NAME, wrong, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert named in result.text(), result.text()


def test_three_hint_levels():
    from workbook.course import hints

    assert len(hints.levels(NAME)) == 3


def test_notebook_cell_is_the_skeleton():
    """The exercise cell of notebooks/10_rows_over_time.ipynb is SKELETON (what the tests above check), not the answer."""
    assert skeletons("10_rows_over_time")["rising_closes"].strip() == SKELETON.strip()

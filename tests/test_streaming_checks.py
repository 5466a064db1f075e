"""The checks judge an answer as a streaming query, not only by its final rows: for every windowed exercise, a
GROUP BY without a window table function (an updating aggregation whose final rows equal the windowed
answer's) is rejected with a message that says what it does and what to use, and suggests hint level 2; its
windowed twin passes. changelog_counts keeps requiring the updating result."""

from __future__ import annotations

import pytest

from workbook.course import checks, exercises, hints
from workbook.course.checks_basics import COUNT_COLUMNS

pytestmark = pytest.mark.flink
MINUTE = "CAST(FLOOR(ts TO MINUTE) AS TIMESTAMP(3))"
MINUTE_END = "CAST(FLOOR(ts TO MINUTE) + INTERVAL '1' MINUTE AS TIMESTAMP(3))"
BY_MINUTE = "FROM valid_trades GROUP BY FLOOR(ts TO MINUTE), currency_pair"

STATS = (
    "MIN(price) AS price_min, MAX(price) AS price_max, SUM(price * volume) / SUM(volume) AS price_avg, "
    "SUM(volume) AS volume"
)
OPEN_CLOSE = (
    "SUM(price * volume) / SUM(volume) AS price_avg, CAST(SPLIT_INDEX(MIN(order_key), '|', 3) AS DOUBLE) AS price_open, "
    "MIN(price) AS price_min, MAX(price) AS price_max, CAST(SPLIT_INDEX(MAX(order_key), '|', 3) AS DOUBLE) AS price_close, "
    "SUM(volume) AS volume, CAST(COUNT(*) AS INT) AS num_trades"
)
STEPS = ", ".join(f"({n})" for n in range(1, 61))
BY_MINUTE_VOLUMES = f"""SELECT {MINUTE} AS window_start, {MINUTE_END} AS window_end, currency_pair,
  SUM(volume) AS volume {BY_MINUTE}"""

NOT_WINDOWED = {
    "tumble_counts": f"SELECT {MINUTE} AS window_start, {MINUTE_END} AS window_end, currency_pair, "
    f"COUNT(*) AS num_trades {BY_MINUTE}",
    "candle_stats": f"SELECT {MINUTE} AS ts_start, {MINUTE_END} AS ts_end, currency_pair, {STATS}, "
    f"COUNT(*) AS num_trades {BY_MINUTE}",
    "candlesticks": f"INSERT INTO candlesticks\nSELECT {MINUTE} AS ts_start, {MINUTE_END} AS ts_end, currency_pair, "
    f"{OPEN_CLOSE} {BY_MINUTE}",
    "volumes": f"INSERT INTO volumes\nSELECT {MINUTE} AS ts_start, {MINUTE_END} AS ts_end, currency_pair, "
    "SUM(CASE WHEN direction = 'buy' THEN volume ELSE 0 END) AS volume_buy, "
    f"SUM(CASE WHEN direction = 'sell' THEN volume ELSE 0 END) AS volume_sell {BY_MINUTE}",
    # each trade in the 5 minutes that start at its own minute and the 4 before: the windows of HOP
    "hop_vwap": """SELECT CAST(FLOOR(ts TO MINUTE) - k * INTERVAL '1' MINUTE AS TIMESTAMP(3)) AS window_start,
  CAST(FLOOR(ts TO MINUTE) - k * INTERVAL '1' MINUTE + INTERVAL '5' MINUTE AS TIMESTAMP(3)) AS window_end,
  currency_pair, SUM(price * volume) / SUM(volume) AS vwap
FROM valid_trades, (VALUES (0), (1), (2), (3), (4)) AS s(k)
GROUP BY FLOOR(ts TO MINUTE) - k * INTERVAL '1' MINUTE, currency_pair""",
    # each trade in the steps of its hour that end after it: the windows of CUMULATE
    "cumulate_volume": f"""SELECT CAST(FLOOR(ts TO HOUR) AS TIMESTAMP(3)) AS window_start,
  CAST(FLOOR(ts TO HOUR) + n * INTERVAL '1' MINUTE AS TIMESTAMP(3)) AS window_end,
  currency_pair, SUM(volume) AS volume
FROM valid_trades, (VALUES {STEPS}) AS s(n)
WHERE ts < FLOOR(ts TO HOUR) + n * INTERVAL '1' MINUTE
GROUP BY FLOOR(ts TO HOUR), n, currency_pair""",
    "top_pairs": f"""SELECT window_start, window_end, currency_pair, volume, pair_rank FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY volume DESC) AS pair_rank
  FROM ({BY_MINUTE_VOLUMES}))
WHERE pair_rank <= 3""",
}


@pytest.mark.parametrize("name", sorted(NOT_WINDOWED))
def test_an_updating_aggregation_is_named_and_its_windowed_twin_passes(name):
    result = checks.run_check(name, NOT_WINDOWED[name], timeout_s=120)
    assert not result, f"{name}: the non-windowed answer passed"
    text = result.text()
    assert f"{name}: an updating aggregation, not a window." in text, text
    assert "rewrites a row of its result with every trade" in text and "keeps state for every group forever" in text
    assert result.hint == name
    suggested = hints.levels(name)[result.hint_level - 1]  # the hint the box suggests shows the window function
    assert any(f in suggested for f in ("TUMBLE", "HOP", "CUMULATE", "PARTITION BY window_start")), suggested
    assert checks.run_check(name, exercises.solution(name), timeout_s=120)


def test_changelog_counts_still_wants_the_updating_result():
    result = checks.run_check("changelog_counts", exercises.solution("changelog_counts"))
    assert result, result.text()
    windowed = (
        "SELECT currency_pair, COUNT(*) AS num_trades "
        "FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
        "GROUP BY window_start, window_end, currency_pair"
    )
    assert COUNT_COLUMNS == ["currency_pair", "num_trades"]
    assert not checks.run_check("changelog_counts", windowed)


def test_a_column_the_processor_table_cannot_take_is_named():
    """What the check accepts, the processor runs: the file exercises' INSERT is planned against the processor's
    table. A plain COUNT(*) (BIGINT) for the INT num_trades is named, with the CAST that fixes it."""
    solution = exercises.solution("candlesticks")
    result = checks.run_check("candlesticks", solution.replace("CAST(COUNT(*) AS INT)", "COUNT(*)"))
    assert not result and "the table candlesticks would not take your rows" in result.summary
    assert "num_trades (column 10) is BIGINT, the table candlesticks wants INT: CAST(... AS INT)" in result.text()
    assert checks.run_check("candlesticks", solution)  # the solution's own INT

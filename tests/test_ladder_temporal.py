"""The advanced track, notebook 11 (optional): the event-time temporal join (trades_usd).
The check fails on the skeleton, passes on the solution on the practice and the grading data, and names known
wrong answers (those Flink runs and those it refuses, a regular join before it runs); the stored expected
outputs are up to date and equal what Flink computes for the solution; the `rates` table over the check data
holds the datasets' rates; the processor's job does not read the new source."""

import time

import pandas as pd
import pytest
from ladderkit import processor_plan, skeletons

from workbook.course import checks, checks_temporal, exercises, feedback
from workbook.course.datasets import active, using
from workbook.course.grading import GRADING
from workbook.course.references import temporal as reference

pytestmark = pytest.mark.integration

NAME = "trades_usd"
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

# the notebook's exercise cell (without its %%flinksql --exercise line)
SKELETON = """-- ✏️ TODO: each valid trade with its price in US dollars at its quote's rate AS OF the trade's time:
-- ✏️ TODO: currency_pair, ts, price, price_usd (valid_trades t, rates_versioned r)
SELECT 'TODO' AS todo
"""
SELECT = "SELECT t.currency_pair, t.ts, t.price, t.price * r.rate_usd AS price_usd"
QUOTE = "SPLIT_INDEX(t.currency_pair, ' / ', 1)"
BASE = "SPLIT_INDEX(t.currency_pair, ' / ', 0)"
TEMPORAL = "FROM valid_trades AS t JOIN rates_versioned FOR SYSTEM_TIME AS OF t.ts AS r ON {key} = r.asset"
NO_TIME_VIEW = """CREATE TEMPORARY VIEW rates_without_time AS
SELECT asset, rate_usd, ts FROM (
  SELECT asset, rate_usd, CAST(ts AS TIMESTAMP_LTZ(3)) AS ts,
         ROW_NUMBER() OVER (PARTITION BY asset ORDER BY ts DESC) AS row_num
  FROM rates)
WHERE row_num = 1;
"""


def test_expected_output_is_up_to_date():
    for data in (None, GRADING):
        with using(data) if data else using(active()):
            stored = checks_temporal.load_expected()
            fresh = reference.trades_usd()
        assert list(stored.columns) == list(fresh.columns) and len(stored) == len(fresh) > 8000
        for col in stored.columns:
            if pd.api.types.is_float_dtype(fresh[col]):
                same = (stored[col] - fresh[col]).abs() <= 1e-9 * fresh[col].abs().clip(lower=1)
                assert (same | (stored[col].isna() & fresh[col].isna())).all(), col
            else:
                assert (stored[col].astype(str) == fresh[col].astype(str)).all(), col


def test_registered():
    ex = exercises.get(NAME)
    assert ex.notebook == "notebooks/11_joins.ipynb" and ex.solution.exists()
    assert checks.find_check(NAME) is checks_temporal.CHECKS[NAME]


def test_the_rates_table_over_the_check_data_is_the_datasets_rates():
    frame = feedback.run_answer("SELECT asset, COUNT(*) AS n, MIN(`timestamp`) AS first_ms FROM rates GROUP BY asset")
    rates = pd.DataFrame(active().rates["check"]())
    expected = rates.groupby("asset").agg(n=("rate_usd", "size"), first_ms=("timestamp", "min")).reset_index()
    assert frame.astype(str).values.tolist() == expected.astype(str).values.tolist()
    assert frame.set_index("asset").loc["euro", "first_ms"] > rates["timestamp"].min()  # euro's feed joins late


@pytest.mark.parametrize("grading", [False, True], ids=["practice", "grading"])
def test_solution_passes_and_flink_equals_the_reference(grading):
    started = time.monotonic()
    with using(GRADING) if grading else using(active()):
        result = checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)
    assert result, result.text()
    assert time.monotonic() - started < TIMEOUT_S


def test_skeleton_fails():
    result = checks.run_check(NAME, SKELETON, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert "wrong columns" in result.text(), result.text()


@pytest.mark.parametrize(
    "wrong, named",
    [
        (f"{SELECT} FROM valid_trades AS t JOIN rates AS r ON {QUOTE} = r.asset", "every rate joins every trade"),
        (
            f"{SELECT} FROM valid_trades AS t JOIN rates_versioned AS r ON {QUOTE} = r.asset",
            "rates from the future",
        ),
        (
            f"{SELECT} FROM (SELECT *, PROCTIME() AS pt FROM valid_trades) AS t "
            f"JOIN rates_versioned FOR SYSTEM_TIME AS OF t.pt AS r ON {QUOTE} = r.asset",
            "a processing-time temporal join",
        ),
        (
            NO_TIME_VIEW + f"{SELECT} FROM valid_trades AS t "
            f"JOIN rates_without_time FOR SYSTEM_TIME AS OF t.ts AS r ON {QUOTE} = r.asset",
            "no event time (no watermark)",
        ),
        (
            f"{SELECT} FROM valid_trades AS t JOIN rates FOR SYSTEM_TIME AS OF t.ts AS r ON {QUOTE} = r.asset",
            "no primary key",
        ),
        (f"{SELECT} {TEMPORAL.format(key=BASE)}", "joined on the base asset instead of the quote"),
        (
            f"SELECT t.currency_pair, t.ts, t.price, r.rate_usd AS price_usd {TEMPORAL.format(key=BASE)}",
            "joined on the base asset instead of the quote",
        ),
        (f"{SELECT} {TEMPORAL.format(key=QUOTE).replace('JOIN', 'LEFT JOIN')}", "LEFT JOIN"),
        (
            f"SELECT t.currency_pair, t.ts, t.price, t.price / r.rate_usd AS price_usd {TEMPORAL.format(key=QUOTE)}",
            "divided by the rate",
        ),
        (f"{SELECT} {TEMPORAL.format(key=QUOTE)}".replace("AS price_usd", "AS usd"), "wrong columns"),
        (f"{SELECT} {TEMPORAL.format(key=QUOTE.replace(', 1)', ', 2)'))}", "no rows"),
    ],
    ids=[
        "regular-join-rates",
        "regular-join-versioned",
        "processing-time",
        "no-watermark",
        "rates-not-versioned",
        "base-key",
        "base-rate-alone",
        "left-join",
        "divided",
        "column-name",
        "split-index-from-1",
    ],
)
def test_named_mistakes(wrong, named):
    started = time.monotonic()
    result = checks.run_check(NAME, wrong, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert named in result.text(), result.text()
    if "regular" in result.text().lower():  # named from the plan, before anything runs
        assert time.monotonic() - started < 30


def test_three_hint_levels():
    from workbook.course import hints

    assert len(hints.levels(NAME)) == 3


def test_the_processors_job_does_not_read_the_rates():
    """The rates source is defined with the processor's statements, but no INSERT reads it: its job plans
    the trades' source only (the same job as before)."""
    from workbook.pipeline.statements import load_statements

    plan = processor_plan(load_statements(solutions=True))
    assert "default_database, trades" in plan and "default_database, rates" not in plan
    assert "rates" in {s.name for s in load_statements() if s.kind == "create"}


def test_notebook_cell_is_the_skeleton():
    """The exercise cell of notebooks/11_joins.ipynb is SKELETON (what the tests above check), not the answer."""
    assert skeletons("11_joins")["trades_usd"].strip() == SKELETON.strip()

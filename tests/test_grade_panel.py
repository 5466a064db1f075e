"""panel_sql graded on the real embedded PostgreSQL: a scratch schema of the sample's candles, the grading data's
pair and range, one read-only SELECT per answer, the schema gone afterwards."""

from __future__ import annotations

import psycopg2
import pytest

from workbook.course import exercises, grader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def panel(stack):
    with grader.panel_db(grader.load_table(), stack.postgres_url) as db:
        assert db is not None
        yield db
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (db.schema,))
        assert cur.fetchone() == (0,)  # dropped


def test_the_solution_passes_on_the_grading_pair_and_range(panel):
    ok, summary, problems = grader.run_answer("panel_sql", exercises.solution("panel_sql"), grader.load_table(), panel)
    assert ok, (summary, problems)
    assert "ethereum / tether" in summary  # the grading data's pair, not the practice one


def test_wrong_answers_fail_with_their_named_mistake(panel):
    scheme = grader.load_table()
    no_filter = """SELECT ts_start AS "time", price_max - price_min AS price_range FROM candlesticks
WHERE currency_pair = '${currency_pair}' ORDER BY 1"""
    ok, summary, _ = grader.run_answer("panel_sql", no_filter, scheme, panel)
    assert not ok and summary == "panel_sql: no time filter."
    practice_pair = """SELECT ts_start AS "time", price_max - price_min AS price_range FROM candlesticks
WHERE $__timeFilter(ts_start) AND currency_pair = 'bitcoin / tether' -- ${currency_pair}
ORDER BY 1"""  # tuned to the practice pair: the variable only in a comment
    ok, summary, problems = grader.run_answer("panel_sql", practice_pair, scheme, panel)
    assert not ok, (summary, problems)


def test_an_answer_cannot_write_to_the_instructors_postgresql(panel, stack):
    scheme = grader.load_table()
    macros = "$__timeFilter(ts_start) AND currency_pair = '${currency_pair}'"
    sneaky = f"""SELECT ts_start AS "time", 0 AS price_range FROM candlesticks
WHERE set_config('default_transaction_read_only', 'off', false) = 'off' AND {macros}"""
    grader.run_answer("panel_sql", sneaky, scheme, panel)  # one SELECT: it runs (and fails), on its own connection
    dropper = f"""WITH gone AS (DELETE FROM "{panel.schema}".candlesticks RETURNING ts_start, currency_pair)
SELECT ts_start AS "time", 0 AS price_range FROM gone WHERE {macros}"""
    ok, summary, problems = grader.run_answer("panel_sql", dropper, scheme, panel)
    assert not ok and "read-only transaction" in " ".join(problems), (summary, problems)
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{panel.schema}".candlesticks')
        assert cur.fetchone()[0] > 0  # nothing deleted

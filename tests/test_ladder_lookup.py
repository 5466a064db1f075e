"""The advanced track, notebook 11 (optional): the lookup join (trade_assets) against the PostgreSQL table assets.
The check fails on the skeleton, passes on the solution on the practice and the grading data, and names known
wrong answers (those Flink runs, those it refuses, and a regular join, right rows but no lookup); the stored
expected outputs are up to date and equal what Flink computes for the solution; sql/postgres/ creates and seeds
the table (again, in a new schema too); and what notebook 11 says Flink does: the plan is a LookupJoin, insert-
only; the cache asks PostgreSQL once per key in a query; a lookup gets the row as PostgreSQL has it when the
query runs, whatever the trade's event time."""

import time
import uuid

import pandas as pd
import pytest
from ladderkit import processor_plan, skeletons

from workbook import database
from workbook.config import load_config
from workbook.course import checks, checks_lookup, exercises, feedback
from workbook.course.datasets import active, using
from workbook.course.grading import GRADING
from workbook.course.references import lookup as reference

pytestmark = pytest.mark.integration

NAME = "trade_assets"
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

# the notebook's exercise cell (without its %%flinksql --exercise line)
SKELETON = """-- ✏️ TODO: each valid trade with the symbol and category of its BASE asset, looked up in assets:
-- ✏️ TODO: currency_pair, ts, price, symbol, category (NULLs when assets has no row for the base)
SELECT 'TODO' AS todo
"""
SELECT = "SELECT t.currency_pair, t.ts, t.price, a.symbol, a.category"
PROC = "FROM (SELECT *, PROCTIME() AS proc_time FROM valid_trades) AS t"
BASE = "SPLIT_INDEX(t.currency_pair, ' / ', 0)"
LOOKUP = "LEFT JOIN assets FOR SYSTEM_TIME AS OF t.proc_time AS a ON {key} = a.asset"
SOLUTION = f"{SELECT} {PROC} {LOOKUP.format(key=BASE)}"
RATES_LOOKUP = """SELECT COUNT(*) AS rates, COUNT(a.symbol) AS with_symbol
FROM (SELECT *, PROCTIME() AS proc_time FROM rates) AS r
LEFT JOIN assets {hint} FOR SYSTEM_TIME AS OF r.proc_time AS a ON r.asset = a.asset"""


def test_expected_output_is_up_to_date():
    for data in (None, GRADING):
        with using(data) if data else using(active()):
            stored = checks_lookup.load_expected()
            fresh = reference.trade_assets()
        assert list(stored.columns) == list(fresh.columns) and len(stored) == len(fresh) > 8000
        assert stored.astype(str).values.tolist() == fresh.astype(str).values.tolist()
        # an inner join loses trades on both: an asset of the trades the table does not list
        assert stored["symbol"].isna().sum() > 500


def test_registered():
    ex = exercises.get(NAME)
    assert ex.notebook == "notebooks/11_joins.ipynb" and ex.solution.exists()
    assert checks.find_check(NAME) is checks_lookup.CHECKS[NAME]


def _assets(config, schema: str | None = None) -> dict:
    conn = database.connect(config)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT asset, symbol, name, category FROM {schema + '.' if schema else ''}assets")
            return {asset: (symbol, name, category) for asset, symbol, name, category in cur.fetchall()}
    finally:
        conn.close()


def test_the_postgres_table_is_the_references_and_a_new_schema_gets_it():
    """`workbook up` (and --wipe-db, then up) ran sql/postgres/: the table holds the reference's rows; a student's
    schema (database.apply_ddl(..., schema), what prepare_schema runs) gets it too, and running it again puts a
    changed row back and keeps an added one."""
    config = load_config()
    assert _assets(config) == reference.ASSETS
    schema = f"test_{uuid.uuid4().hex[:10]}"
    try:
        database.apply_ddl(database.connect(config), schema=schema)
        assert _assets(config, schema) == reference.ASSETS
        conn = database.connect(config)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"UPDATE {schema}.assets SET name = 'changed' WHERE asset = 'bitcoin'")
            cur.execute(f"INSERT INTO {schema}.assets VALUES ('xrp', 'XRP', 'XRP', 'cryptocurrency')")
        conn.close()
        database.apply_ddl(database.connect(config), schema=schema)
        assert _assets(config, schema) == {**reference.ASSETS, "xrp": ("XRP", "XRP", "cryptocurrency")}
    finally:
        conn = database.connect(config)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


@pytest.mark.parametrize("grading", [False, True], ids=["practice", "grading"])
def test_solution_passes_and_flink_equals_the_reference(grading):
    started = time.monotonic()
    with using(GRADING) if grading else using(active()):
        result = checks.run_check(NAME, exercises.solution(NAME), timeout_s=TIMEOUT_S)
    assert result, result.text()
    assert time.monotonic() - started < TIMEOUT_S


@pytest.mark.parametrize(
    "answer",
    [
        f"WITH t AS (SELECT *, PROCTIME() AS pt FROM valid_trades) {SELECT} FROM t "
        f"LEFT JOIN assets FOR SYSTEM_TIME AS OF t.pt AS a ON {BASE} = a.asset",
        "CREATE TEMPORARY VIEW my_trades AS SELECT *, PROCTIME() AS pt FROM valid_trades;\n"
        f"{SELECT} FROM my_trades AS t LEFT JOIN assets FOR SYSTEM_TIME AS OF t.pt AS a ON {BASE} = a.asset",
    ],
    ids=["with", "view"],
)
def test_other_ways_to_write_it_pass(answer):
    result = checks.run_check(NAME, answer, timeout_s=TIMEOUT_S)
    assert result, result.text()


def test_skeleton_fails():
    result = checks.run_check(NAME, SKELETON, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert "wrong columns" in result.text(), result.text()


@pytest.mark.parametrize(
    "wrong, named",
    [
        (f"{SELECT} FROM valid_trades AS t LEFT JOIN assets AS a ON {BASE} = a.asset", "not with a lookup join"),
        (f"{SELECT} FROM valid_trades AS t JOIN assets AS a ON {BASE} = a.asset", "(an inner join)"),
        (
            f"{SELECT} FROM valid_trades AS t LEFT JOIN assets FOR SYSTEM_TIME AS OF t.ts AS a ON {BASE} = a.asset",
            "a lookup AS OF the event time ts",
        ),
        (
            f"{SELECT} FROM valid_trades AS t LEFT JOIN assets FOR SYSTEM_TIME AS OF PROCTIME() AS a "
            f"ON {BASE} = a.asset",
            "a column of the trades is needed",
        ),
        (SOLUTION.replace("LEFT JOIN", "JOIN"), "trades of unlisted assets are lost (an inner join)"),
        (SOLUTION.replace("' / ', 0)", "' / ', 1)"), "looked up the quote asset instead of the base"),
        (SOLUTION.replace("a.category", "a.name"), "wrong columns"),
        (SOLUTION.replace("a.category", "a.name AS category"), "rows differ: symbol or category"),
        (SOLUTION + " WHERE t.price > 100", "trades missing"),
    ],
    ids=[
        "regular-join",
        "regular-inner-join",
        "event-time",
        "as-of-proctime-call",
        "inner-lookup-join",
        "quote-key",
        "column-name",
        "name-not-category",
        "filtered",
    ],
)
def test_named_mistakes(wrong, named):
    result = checks.run_check(NAME, wrong, timeout_s=TIMEOUT_S)
    assert not result and result.hint == NAME
    assert named in result.text(), result.text()


def test_the_plans_a_lookup_join_is_insert_only_a_regular_join_scans_the_table():
    """Notebook 11: the lookup join's plan is a LookupJoin whose result is insert-only (a row once emitted is never
    changed, whatever PostgreSQL does later); a regular join scans the table and its LEFT JOIN result updates."""
    lookup = feedback.answer_plan(SOLUTION)
    assert "LookupJoin" in lookup.operators and lookup.kinds == {"I"}
    assert "default_database, assets" not in lookup.text  # no scan of the table
    regular = feedback.answer_plan(f"{SELECT} FROM valid_trades AS t LEFT JOIN assets AS a ON {BASE} = a.asset")
    assert "LookupJoin" not in regular.operators and "Join" in regular.operators and regular.updating
    assert "default_database, assets" in regular.text


def test_the_cache_asks_postgresql_once_per_key():
    """Notebook 11's cache cells: with the table's cache, one read of assets in PostgreSQL per asset of the rates
    (a key not found is cached too); without it (a hint sets 'lookup.cache' = 'NONE'), one per rate record. A new
    query has a cache of its own: it asks again."""
    config = load_config()
    rates = pd.DataFrame(active().rates["check"]())
    for hint, reads in (("", rates["asset"].nunique()), ("/*+ OPTIONS('lookup.cache' = 'NONE') */", len(rates))):
        before = database.table_reads(config, "assets")
        frame = feedback.run_answer(RATES_LOOKUP.format(hint=hint))
        assert frame["rates"].tolist() == [len(rates)]
        assert database.table_reads(config, "assets") - before == reads, hint


def test_a_lookup_gets_the_row_postgresql_has_when_the_query_runs():
    """Notebook 11: the trades are of 2025-01-01, yet a row added to assets now is what their lookups find (no
    versions, no history: the row as it is when the trade is processed); removed again, the trades have NULLs.
    Meanwhile the check names the changed table."""
    config = load_config()
    conn = database.connect(config)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO assets VALUES ('xrp', 'XRP', 'XRP', 'cryptocurrency')")
        frame = feedback.run_answer(SOLUTION)
        xrp = frame[frame["currency_pair"] == "xrp / euro"]
        assert len(xrp) > 500 and (xrp["symbol"] == "XRP").all()
        # the check then says why the rows differ, not that the answer is wrong
        result = checks.run_check(NAME, SOLUTION, timeout_s=TIMEOUT_S)
        assert not result and "the table assets was changed" in result.text(), result.text()
        assert "xrp: ('XRP', 'cryptocurrency'), the workbook's: no row" in result.text(), result.text()
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM assets WHERE asset = 'xrp'")
        conn.close()
    frame = feedback.run_answer(SOLUTION)
    assert frame[frame["currency_pair"] == "xrp / euro"]["symbol"].isna().all()


def test_three_hint_levels():
    from workbook.course import hints

    assert len(hints.levels(NAME)) == 3


def test_the_processors_job_does_not_read_the_assets():
    """The lookup table is defined with the processor's statements (not as a sink: it is read), but no INSERT
    reads it: its job plans the trades' source only."""
    from workbook.pipeline.statements import load_statements

    statements = load_statements(solutions=True)
    assets = next(s for s in statements if s.name == "assets")
    assert assets.kind == "create" and not assets.is_sink
    assert {s.name for s in statements if s.is_sink} == {"candlesticks", "volumes", "late_trades", "bad_records"}
    plan = processor_plan(statements)
    assert "default_database, trades" in plan and "default_database, assets" not in plan


def test_notebook_cell_is_the_skeleton():
    """The exercise cell of notebooks/11_joins.ipynb is SKELETON (what the tests above check), not the answer."""
    assert skeletons("11_joins")["trade_assets"].strip() == SKELETON.strip()


def test_without_postgresql_the_check_says_so(tmp_path):
    """A PostgreSQL that does not answer (nothing listens at POSTGRES_PORT): the check names it and how to start it,
    not Flink's 'Connection refused' alone. In a process of its own: the session reads the configuration once."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "check.py"
    script.write_text(
        "from workbook.course import checks, exercises\n"
        "print(checks.run_check('trade_assets', exercises.solution('trade_assets'), timeout_s=120).text())\n"
    )
    env = {**os.environ, "POSTGRES_PORT": str(port)}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert "PostgreSQL does not answer: the lookups need it." in out.stdout, out.stdout + out.stderr
    assert "python -m workbook up" in out.stdout

"""Part L3 of the exercise ladder, notebook 07: the dashboard panel exercise `panel_sql`.
Its check expands Grafana's macros and runs the panel SQL on the real embedded PostgreSQL; here
over a schema of the test's own, holding the sample's candles (the rows the notebook's bounded
processor run writes), so other tests' rows cannot change the result."""

import json
import uuid

import pandas as pd
import psycopg2
import pytest
import sqlalchemy

from workbook.course import checks, checks_dashboard, datasets, exercises
from workbook.course.references import dashboard as reference
from workbook.dashboard import charts
from workbook.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration

SOLUTION = exercises.solution("panel_sql")
# the other correct way: one candle per minute, no grouping
PLAIN = """SELECT ts_start AS "time", price_max - price_min AS price_range
FROM candlesticks
WHERE $__timeFilter(ts_start) AND currency_pair = '${currency_pair}'
ORDER BY 1"""


@pytest.fixture(scope="module")
def schema(stack):
    """A schema with a candlesticks table like the processor's, filled with the sample's candles,
    and a day of other rows (2025-01-02) that a query without a time filter would also read."""
    name = f"ladder_panel_{uuid.uuid4().hex[:8]}"
    candles = reference.candles(datasets.sample_trades())
    later = candles.copy()
    later["ts_start"] += pd.Timedelta(days=1)
    later["ts_end"] += pd.Timedelta(days=1)
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
        cur.execute(f'CREATE TABLE "{name}".candlesticks (LIKE public.candlesticks INCLUDING ALL)')
        cur.execute(f'CREATE TABLE "{name}".volumes (LIKE public.volumes INCLUDING ALL)')  # the other panels' table
    engine = sqlalchemy.create_engine(stack.postgres_url)
    for frame in (candles, later):
        frame = frame.copy()
        for col in ("ts_start", "ts_end"):
            frame[col] = frame[col].dt.tz_localize("UTC")
        frame.to_sql("candlesticks", engine, schema=name, if_exists="append", index=False)
    yield name, engine
    engine.dispose()
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{name}" CASCADE')


def run(sql, schema):
    name, engine = schema
    return checks_dashboard.check_panel_sql(sql, engine=engine, schema=name)


def test_expected_output_is_up_to_date():
    assert json.loads(checks_dashboard.EXPECTED_PATH.read_text()) == json.loads(json.dumps(reference.expected()))


def test_registered_and_found():
    ex = exercises.get("panel_sql")
    assert ex.notebook == "notebooks/07_dashboard.ipynb" and ex.solution.exists()
    assert checks.find_check("panel_sql") is checks_dashboard.check_panel_sql


def test_solution_and_the_plain_variant_pass(schema):
    for sql in (SOLUTION, PLAIN):
        result = run(sql, schema)
        assert result, result.text()
        assert "16 minutes" in result.summary


@pytest.mark.parametrize("skeleton", ["", "-- TODO: the panel's SELECT", 'SELECT 1 AS "time"'])
def test_skeleton_fails(schema, skeleton):
    result = run(skeleton, schema)
    assert not result and result.hint == "panel_sql"


@pytest.mark.parametrize(
    "wrong, named",
    [
        (PLAIN.replace("$__timeFilter(ts_start) AND ", ""), "no time filter"),
        (PLAIN.replace(" AND currency_pair = '${currency_pair}'", ""), "no pair filter"),
        (PLAIN.replace('AS "time"', "AS ts"), "no time column"),
        (PLAIN.replace('AS "time"', "AS minute"), "no time column"),
        (PLAIN.replace("price_max - price_min", "price_min - price_max"), "the range is negative"),
        (PLAIN.replace("price_max - price_min", "(price_max - price_min) / price_avg * 100"), "wrong units"),
        (PLAIN.replace("price_max - price_min", "(price_max - price_min) / price_avg"), "wrong units"),
        (PLAIN.replace("price_max - price_min", "price_max - price_avg"), "wrong values"),
        (PLAIN.replace("price_max - price_min", "price_max - NULL"), "NULL or non-numeric values"),
        (PLAIN.replace("AS price_range", "AS range_"), "wrong columns"),
        # the pair variable is used, but does not filter: every pair's rows
        (PLAIN.replace("currency_pair = '${currency_pair}'", "'${currency_pair}' <> ''"), "several rows per minute"),
        # the time macro used on a column that is not the candle's time: a time filter that does not filter
        (PLAIN.replace("$__timeFilter(ts_start) AND", "$__timeFilter(ts_start) OR TRUE AND"), "outside the time range"),
        (PLAIN.replace("FROM candlesticks", "FROM candlestick"), "did not run on PostgreSQL"),
    ],
)
def test_named_mistakes(schema, wrong, named):
    result = run(wrong, schema)
    assert not result
    assert named in result.text(), result.text()


def test_panel_is_drawn_with_the_dashboard(schema):
    name, engine = schema
    dash = checks_dashboard.panel_dashboard(SOLUTION)
    assert [p.title for p in charts.dashboard_panels(dash)][-1] == checks_dashboard.PANEL_TITLE
    with engine.connect() as conn:
        conn.exec_driver_sql(f'SET search_path TO "{name}"')
        rendered = charts.render(
            conn, checks_dashboard.PAIR, "2025-01-01T00:00:00Z", "2025-01-01T00:30:00Z", dashboard=dash
        )
    frame = rendered.frames[checks_dashboard.PANEL_TITLE]
    assert list(frame.columns) == ["time", "price_range"] and len(frame) == 30
    assert checks_dashboard.PANEL_TITLE not in " ".join(rendered.not_drawn)
    assert any(t.name == "price_range" for t in rendered.figure.data)


def test_notebook_cell_is_a_skeleton_that_fails(schema):
    nb = json.loads((PROJECT_ROOT / "notebooks" / "07_dashboard.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    (cell,) = [c for c in cells if c.startswith("%%flinksql --exercise panel_sql")]
    body = cell.partition("\n")[2]
    assert "TODO" in body and "price_max - price_min" not in body.replace("MIN(price_min)", "")
    assert " ".join(SOLUTION.split()) not in " ".join(body.split())
    result = run(body, schema)
    assert not result and "no query yet" in result.text()


def test_command_line_checks_a_file(schema, tmp_path, monkeypatch):
    """`python -m workbook.course check panel_sql FILE` (here in-process, on the test's schema)."""
    from workbook.course import __main__ as course_cli

    name, engine = schema
    monkeypatch.setitem(
        checks_dashboard.CHECKS,
        "panel_sql",
        lambda sql, timeout_s=None: checks_dashboard.check_panel_sql(sql, engine=engine, schema=name),
    )
    good, bad = tmp_path / "good.sql", tmp_path / "bad.sql"
    good.write_text(PLAIN + ";\n")
    bad.write_text(PLAIN.replace('AS "time"', "AS ts"))
    assert course_cli.main(["check", "panel_sql", str(good)]) == 0
    assert course_cli.main(["check", "panel_sql", str(bad)]) == 1


def test_three_hint_levels():
    from workbook.course import hints

    assert len(hints.levels("panel_sql")) == 3

"""The dashboard exercise `panel_sql` (notebook 07): the PostgreSQL query of a new Grafana panel,
"Price range per minute" (price_max - price_min of one pair's candles), with Grafana's macros.

The check expands the macros exactly as Grafana does (workbook.dashboard.grafana) for a part of
the sample's half hour and one pair, runs the SQL on the embedded PostgreSQL over the tables the
notebook's bounded processor run filled, and compares with workbook/course/expected/panel_sql.json
(made by workbook/course/references/dashboard.py). It names the usual mistakes: no time filter,
no pair filter, the time column not called `time`, the range the wrong way round or in other units.
"""

from __future__ import annotations

import copy
import json
import re

import pandas as pd

from ..config import load_config
from ..dashboard import grafana
from ..pipeline import sql_files
from .datasets import EXPECTED_DIR, active, expected_path
from .feedback import CheckResult, Wrong, close, judged, passed

EXERCISE = "panel_sql"
PANEL_TITLE = "Price range per minute"
PAIR = "bitcoin / tether"
# a part of the sample's half hour (00:00-00:30): a query without a time filter returns more minutes
CHECK_FROM, CHECK_TO = "2025-01-01T00:05:00Z", "2025-01-01T00:20:00Z"
EXPECTED_PATH = EXPECTED_DIR / "panel_sql.json"  # the practice data's; graded: another pair and range
_TIME_FILTER = re.compile(r"\$__timeFilter\s*\(\s*ts_start\s*\)")
_PAIR_VARIABLE = re.compile(r"\$\{?currency_pair\b|\[\[currency_pair")


def panel_params() -> dict:
    """The pair and the time range the panel is checked for: the practice ones, or the grading data's."""
    return active().params.get(EXERCISE, {"pair": PAIR, "time_from": CHECK_FROM, "time_to": CHECK_TO})


def load_expected() -> dict:
    return json.loads(expected_path("panel_sql.json").read_text())


def _engine():
    import sqlalchemy  # deferred on purpose: only the check against PostgreSQL needs it

    return sqlalchemy.create_engine(load_config().postgres_url)


def run_panel(
    sql: str,
    engine=None,
    schema: str | None = None,
    pair: str | None = None,
    time_from: str | None = None,
    time_to: str | None = None,
) -> pd.DataFrame:
    """The panel's data as Grafana gets it: macros and variables expanded, run on PostgreSQL
    (in `schema` when given, as the tests do; else the processor's tables); by default for panel_params()."""
    p = panel_params()
    pair, time_from, time_to = pair or p["pair"], time_from or p["time_from"], time_to or p["time_to"]
    expanded = grafana.expand(sql, time_from, time_to, {grafana.PAIR_VARIABLE: pair})
    engine = engine if engine is not None else _engine()
    raw = engine.raw_connection()
    try:
        if schema:
            cur = raw.cursor()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
        return grafana.run_sql(raw, expanded)
    finally:
        raw.rollback()
        raw.close()


@judged(EXERCISE)
def check_panel_sql(
    answer: str, timeout_s: float | None = None, *, engine=None, schema: str | None = None
) -> CheckResult:
    """Check the panel SQL `answer`; never raises for a wrong answer (timeout_s: unused, PostgreSQL is quick)."""
    sql = (answer or "").strip().rstrip(";")
    exp = load_expected()
    rows = exp["rows"]
    first = {"time": rows[0]["time"], "price_range": rows[0]["price_range"]}
    _macros_used(sql_files.strip_comments(sql).strip())
    got = _run(sql, engine, schema)
    _shape(got, exp["columns"], first)
    values = _minutes(got, rows, first)
    _values(values, rows)
    pair = panel_params()["pair"]
    return passed(EXERCISE, f"correct: {len(rows)} minutes of {pair}'s price range match the candles in PostgreSQL.")


def _macros_used(code: str) -> None:
    """Wrong unless the query (without comments) filters on Grafana's time range and the pair variable."""
    if not code:
        raise Wrong("the cell has no query yet: write the panel's SELECT (see the specification).")
    if not _TIME_FILTER.search(code):
        raise Wrong(
            "the query has no $__timeFilter(ts_start): the panel would read ALL time "
            "(every candle ever written), whatever range the time picker shows. Add "
            "`WHERE $__timeFilter(ts_start)`.",
            summary="no time filter.",
        )
    if not _PAIR_VARIABLE.search(code):
        raise Wrong(
            "the query does not use the ${currency_pair} variable: the panel would "
            "mix every pair instead of the one picked above it. Add "
            "`AND currency_pair = '${currency_pair}'`.",
            summary="no pair filter.",
        )


def _run(sql: str, engine, schema: str | None) -> pd.DataFrame:
    try:
        return run_panel(sql, engine, schema)
    except grafana.MacroError as exc:
        raise Wrong(
            f"{exc} (write e.g. $__timeFilter(ts_start), $__timeGroupAlias(ts_start, '1m'))",
            summary="a Grafana macro is wrong.",
        ) from None
    except Exception as exc:  # noqa: BLE001 (psycopg2 / SQLAlchemy errors: show PostgreSQL's message)
        message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise Wrong(f"PostgreSQL says: {message}", summary="your query did not run on PostgreSQL.") from None


def _shape(got: pd.DataFrame, expected_columns: list, first: dict) -> None:
    """Wrong unless the panel's columns are the time and price_range."""
    columns = list(got.columns)
    if "time" not in columns:
        raise Wrong(
            f"your columns are {columns}: Grafana's time series needs the time column "
            "named `time` (ts_start AS \"time\", or $__timeGroupAlias(ts_start, '1m') which names it).",
            dict(zip(columns, got.iloc[0].tolist())) if len(got) else None,
            first,
            summary="no time column.",
        )
    if columns != expected_columns:
        raise Wrong(
            f"your columns are {columns}, expected {expected_columns}: the time, then the "
            "range named price_range (AS price_range); the name is the series' name in the legend.",
            None,
            first,
            summary="wrong columns.",
        )


def _minutes(got: pd.DataFrame, rows: list, first: dict) -> list[float]:
    """The panel's value of each expected minute; Wrong when rows are missing, extra, doubled or not numbers."""
    expected_times = [pd.Timestamp(r["time"]) for r in rows]
    times = list(got["time"])
    p = panel_params()
    if len(got) == 0:
        raise Wrong(
            f"your query returns no rows for {p['pair']} between "
            f"{p['time_from']} and {p['time_to']}; expected {len(rows)} (one per minute). If the cell that "
            "runs the processor did not run yet, run it first.",
            None,
            first,
            summary="no rows.",
        )
    if min(times) < expected_times[0] or max(times) > expected_times[-1]:
        raise Wrong(
            f"your query returns {len(got)} rows from {min(times)} to "
            f"{max(times)}, but the dashboard's range is {p['time_from']} to {p['time_to']}: "
            "filter with $__timeFilter(ts_start) on the candle's time.",
            None,
            first,
            summary="rows outside the time range.",
        )
    if got["time"].duplicated().any():
        raise Wrong(
            f"{len(got)} rows for {len(set(times))} minutes: several pairs' "
            "candles per minute. Keep only the picked pair: currency_pair = '${currency_pair}'.",
            None,
            first,
            summary="several rows per minute.",
        )
    values_got = pd.to_numeric(got["price_range"], errors="coerce")
    if values_got.isna().any():
        raise Wrong(
            f"price_range is NULL (or not a number) in "
            f"{int(values_got.isna().sum())} of {len(got)} minutes: compute it from price_max and price_min.",
            None,
            first,
            summary="NULL or non-numeric values.",
        )
    by_time = {pd.Timestamp(t): float(v) for t, v in zip(got["time"], values_got)}
    missing = [t for t in expected_times if t not in by_time]
    if missing:
        raise Wrong(
            f"{len(missing)} of {len(rows)} minutes are missing, e.g. {missing[0]}; "
            "return one row per candle (minute) of the pair.",
            None,
            first,
            summary="missing minutes.",
        )
    return [by_time[t] for t in expected_times]


def _values(values: list[float], rows: list) -> None:
    """Wrong unless each minute's value is the candle's range, naming the known wrong ranges."""
    want = [r["price_range"] for r in rows]

    def all_like(target):
        return all(close(v, t, 1e-6) for v, t in zip(values, target))

    if all_like(want):
        return
    i = next(k for k, (v, t) in enumerate(zip(values, want)) if not close(v, t, 1e-6))
    example = ({"time": rows[i]["time"], "price_range": values[i]}, {"time": rows[i]["time"], "price_range": want[i]})
    if all_like([-w for w in want]):
        raise Wrong(
            "price_range is price_min - price_max: subtract the other way "
            "round (price_max - price_min), a range is never negative.",
            *example,
            summary="the range is negative.",
        )
    relative = [r["price_range"] / r["price_avg"] for r in rows]
    if all_like(relative) or all_like([100 * x for x in relative]):
        raise Wrong(
            "price_range is relative to the price (a fraction or percent); the panel "
            "shows the range in the pair's quote currency: price_max - price_min.",
            *example,
            summary="wrong units.",
        )
    if all_like([r["all_pairs_range"] for r in rows]):
        raise Wrong(
            "each minute's range spans every pair's prices: the pair filter "
            "(currency_pair = '${currency_pair}') is missing or does not apply.",
            *example,
            summary="every pair mixed.",
        )
    raise Wrong(
        f"price_range differs in {sum(not close(v, t, 1e-6) for v, t in zip(values, want))} "
        f"of {len(rows)} minutes: it is the candle's highest minus its lowest price "
        "(price_max - price_min).",
        *example,
        summary="wrong values.",
    )


def panel_dashboard(sql: str, title: str = PANEL_TITLE, dashboard: dict | None = None) -> dict:
    """A copy of the dashboard with one more time-series panel (its SQL: `sql`) across the bottom,
    for workbook.dashboard.charts.render: the notebook draws the new panel as Grafana would."""
    dash = copy.deepcopy(dashboard if dashboard is not None else grafana.load_dashboard())
    bottom = max(
        (p.get("gridPos", {}).get("y", 0) + p.get("gridPos", {}).get("h", 8) for p in dash.get("panels", [])), default=0
    )
    ids = [p.get("id", 0) for p in dash.get("panels", [])]
    datasource = next((p["datasource"] for p in dash.get("panels", []) if p.get("datasource")), None)
    dash.setdefault("panels", []).append(
        {
            "id": max(ids, default=0) + 1,
            "type": "timeseries",
            "title": title,
            "datasource": datasource,
            "gridPos": {"x": 0, "y": bottom, "w": 24, "h": 8},
            "fieldConfig": {
                "defaults": {"unit": "short", "custom": {"drawStyle": "line", "lineWidth": 2}},
                "overrides": [],
            },
            "targets": [
                {
                    "refId": "A",
                    "datasource": datasource,
                    "format": "time_series",
                    "rawQuery": True,
                    "editorMode": "code",
                    "rawSql": sql,
                }
            ],
        }
    )
    return dash


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {EXERCISE: check_panel_sql}

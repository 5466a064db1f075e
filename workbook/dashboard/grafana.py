"""The Grafana dashboard as the single source of the dashboard SQL.

`grafana/dashboards/crypto.json` is the dashboard that Grafana provisions in the
Docker stack. This module reads the same file, expands the Grafana macros and
template variables its panel queries use exactly as Grafana's PostgreSQL data
source does, and runs the resulting SQL. The notebooks' Plotly dashboard calls
`panel_frame`, so the notebook and Grafana run literally the same SQL.

Expansion is done in Grafana's two steps:

1. template variables (`$var`, `${var}`, `${var:raw}`, `${var:sqlstring}`), as
   Grafana's frontend does for SQL data sources: a single-valued text variable
   is inserted as-is with `'` doubled (so the SQL writes `'${currency_pair}'`);
   a list becomes `'a','b'`; a number is inserted as-is;
2. the PostgreSQL data source's backend macros that dashboards over our tables
   use: `$__timeFilter(col)`, `$__timeFrom()`, `$__timeTo()`,
   `$__timeGroup(col, 'interval')` and `$__timeGroupAlias(col, 'interval')`,
   reproducing the text Grafana generates (times as UTC RFC 3339 with the
   fraction's trailing zeros dropped, intervals in seconds formatted like Go's
   `%v`, `floor(extract(epoch from col)/60)*60` for `$__timeGroup`, or
   `time_bucket(...)` when the data source has TimescaleDB enabled, which ours
   has not: the embedded PostgreSQL has no TimescaleDB). Any other macro is an
   error (`MacroError`), so a panel that needs one is noticed, not mis-drawn.

The panel SQL avoids SQL comments: recent Grafana versions strip them before
expanding macros, older ones do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..paths import PROJECT_ROOT

DASHBOARD_PATH = PROJECT_ROOT / "grafana" / "dashboards" / "crypto.json"
PAIR_VARIABLE = "currency_pair"

__all__ = [
    "DASHBOARD_PATH",
    "PAIR_VARIABLE",
    "Panel",
    "load_dashboard",
    "panels",
    "panel",
    "variable_query",
    "expand",
    "expand_variables",
    "expand_macros",
    "panel_sql",
    "panel_frame",
    "run_sql",
    "MacroError",
]


class MacroError(ValueError):
    """A macro Grafana would reject (unknown name, missing argument, bad interval)."""


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Panel:
    id: int
    title: str
    type: str
    sql: str  # rawSql of the panel's first query, unexpanded
    format: str = "table"
    raw: dict = field(default_factory=dict, repr=False, compare=False)


def load_dashboard(path: Path | str | None = None) -> dict:
    """The dashboard JSON as a dict (`grafana/dashboards/crypto.json` by default)."""
    return json.loads(Path(path or DASHBOARD_PATH).read_text(encoding="utf-8"))


def walk_panels(items: Iterable[dict]) -> Iterable[dict]:
    """Every panel of a panel list, those inside rows (collapsed ones too) included."""
    for p in items:
        if p.get("type") == "row":
            yield from walk_panels(p.get("panels", []))
        else:
            yield p


def panels(dashboard: dict | None = None) -> list[Panel]:
    """Every panel that has a SQL query, in dashboard order."""
    dashboard = dashboard if dashboard is not None else load_dashboard()
    out = []
    for p in walk_panels(dashboard.get("panels", [])):
        targets = [t for t in p.get("targets", []) if t.get("rawSql")]
        if not targets:
            continue
        t = targets[0]
        out.append(
            Panel(
                id=p.get("id"),
                title=p.get("title", ""),
                type=p.get("type", ""),
                sql=t["rawSql"],
                format=t.get("format", "table"),
                raw=p,
            )
        )
    return out


def panel(title: str, dashboard: dict | None = None) -> Panel:
    """The panel with this title (case-insensitive)."""
    found = [p for p in panels(dashboard) if p.title.lower() == title.lower()]
    if not found:
        titles = ", ".join(repr(p.title) for p in panels(dashboard))
        raise KeyError(f"no panel titled {title!r} in the dashboard; there are: {titles}")
    return found[0]


def variable_query(name: str = PAIR_VARIABLE, dashboard: dict | None = None) -> str:
    """The SQL of a query variable (the currency-pair picker)."""
    dashboard = dashboard if dashboard is not None else load_dashboard()
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("name") == name:
            q = v.get("query")
            return q.get("rawSql", q.get("query")) if isinstance(q, dict) else q
    raise KeyError(f"no template variable {name!r} in the dashboard")


# --------------------------------------------------------------------------- time formatting


def _utc(t: datetime | str | Any) -> datetime:
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    if hasattr(t, "to_pydatetime"):  # pandas.Timestamp
        t = t.to_pydatetime()
    if not isinstance(t, datetime):
        raise TypeError(f"a time must be a datetime or an ISO 8601 string, not {type(t).__name__}")
    if t.tzinfo is None:  # naive times are taken as UTC, as everywhere in the project
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def rfc3339nano(t: datetime | str) -> str:
    """Go's `t.UTC().Format(time.RFC3339Nano)`: trailing zeros of the fraction dropped, 'Z'."""
    t = _utc(t)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}".rstrip("0")
    return f"{text}.{frac}Z" if frac else f"{text}Z"


def go_float(x: float) -> str:
    """A float64 as Go's fmt `%v` prints it: strconv 'g' with the shortest digits.

    Exponent form when the decimal exponent is < -4 or >= 6 (Go's rule for the
    shortest precision): 60 -> '60', 0.02 -> '0.02', 86400 -> '86400',
    1036800 -> '1.0368e+06', 0.00002 -> '2e-05'.
    """
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    d = Decimal(repr(abs(float(x)))).normalize()
    _, digits, exp = d.as_tuple()
    nd = len(digits)
    dp = nd + exp  # position of the decimal point from the left of the digits
    e = dp - 1
    ds = "".join(map(str, digits))
    if e < -4 or e >= 6:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{sign}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return sign + format(d, "f")


# --------------------------------------------------------------------------- intervals

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DATE_UNIT = re.compile(r"^(\d+)([dwMy])$")


def parse_interval(text: str) -> float:
    """Seconds of a Grafana interval ('1m', '5m', '20ms', '1h30m', '12d', '1w'), as gtime.ParseInterval.

    Months and years ('1M', '1y') depend on the calendar in Grafana and are not supported here.
    """
    s = text.strip().strip("'")
    m = _DATE_UNIT.match(s)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if unit == "d":
            return n * 86400.0
        if unit == "w":
            return n * 7 * 86400.0
        raise MacroError(f"interval {text!r}: months and years are not supported by this expansion")
    if s in ("0",):
        return 0.0
    pos, total = 0, 0.0
    body = s[1:] if s[:1] in "+-" else s
    neg = s[:1] == "-"
    if not body:
        raise MacroError(f"error parsing interval {text}")
    for mm in _GO_DURATION.finditer(body):
        if mm.start() != pos:
            raise MacroError(f"error parsing interval {text}")
        total += float(mm.group(1)) * _GO_UNITS[mm.group(2)]
        pos = mm.end()
    if pos != len(body):
        raise MacroError(f"error parsing interval {text}")
    return -total if neg else total


# --------------------------------------------------------------------------- step 1: template variables

# Grafana's templateSrv regex: $var | [[var]] / [[var:fmt]] | ${var} / ${var.field} / ${var:fmt}
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}")


def _quote_literal(v: Any) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _interpolate(value: Any, multi: bool) -> str:
    """SqlDatasource.interpolateVariable: what a SQL data source inserts for a variable without format."""
    if isinstance(value, (list, tuple)):
        return ",".join(_quote_literal(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if multi:
        return _quote_literal(value)
    return str(value).replace("'", "''")


def _formatted(value: Any, fmt: str) -> str:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if fmt == "raw":
        return ",".join(str(v) for v in values)
    if fmt == "sqlstring":
        return ",".join(_quote_literal(v) for v in values)
    if fmt == "csv":
        return ",".join(str(v) for v in values)
    raise MacroError(f"variable format {fmt!r} is not supported by this expansion (use none, raw, sqlstring, csv)")


def expand_variables(sql: str, variables: Mapping[str, Any] | None = None, multi: Iterable[str] = ()) -> str:
    """Replace dashboard variables; unknown `$names` (the macros among them) are left as they are."""
    variables = dict(variables or {})
    multi = set(multi)

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fmt = m.group(3) or m.group(6)
        if name not in variables:
            return m.group(0)
        if m.group(5):
            raise MacroError(f"${{{name}.{m.group(5)}}}: field paths are not supported by this expansion")
        value = variables[name]
        return _formatted(value, fmt) if fmt else _interpolate(value, name in multi)

    return _VARIABLE.sub(repl, sql)


# --------------------------------------------------------------------------- step 2: data source macros

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")


def _time_group(args: list[str], name: str, timescaledb: bool) -> str:
    if len(args) < 2:
        raise MacroError(f"macro {name} needs time column and interval and optional fill value")
    seconds = parse_interval(args[1])
    if timescaledb:
        return f"time_bucket('{seconds:.3f}s',{args[0]})"
    s = go_float(seconds)
    return f"floor(extract(epoch from {args[0]})/{s})*{s}"


def _evaluate(name: str, args: list[str], t_from: datetime, t_to: datetime, timescaledb: bool) -> str:
    def need_column() -> str:
        if not args or args[0] == "":
            raise MacroError(f"missing time column argument for macro {name}")
        return args[0]

    if name == "__timeFilter":
        return f"{need_column()} BETWEEN '{rfc3339nano(t_from)}' AND '{rfc3339nano(t_to)}'"
    if name == "__timeFrom":
        return f"'{rfc3339nano(t_from)}'"
    if name == "__timeTo":
        return f"'{rfc3339nano(t_to)}'"
    if name == "__timeGroup":
        return _time_group(args, name, timescaledb)
    if name == "__timeGroupAlias":
        return _time_group(args, "__timeGroup", timescaledb) + ' AS "time"'
    raise MacroError(f"unknown macro {name!r}")


def expand_macros(sql: str, time_from: datetime | str, time_to: datetime | str, timescaledb: bool = False) -> str:
    """The PostgreSQL data source's backend macro expansion (grafana-postgresql-datasource/macros.go)."""
    t_from, t_to = _utc(time_from), _utc(time_to)
    original = sql

    def repl(m: re.Match) -> str:
        name = m.group(1)
        # Pre-5.3 compatibility, as Grafana does: a $__timeGroup(...) directly followed by ','
        # (looked up at its first occurrence in the query) gets the "time" alias.
        if name == "__timeGroup":
            i = original.find(m.group(0))
            if i >= 0 and len(original) > i + len(m.group(0)) and original[i + len(m.group(0))] == ",":
                name = "__timeGroupAlias"
        args = [a.strip(" ") for a in m.group(2).split(",")]
        return _evaluate(name, args, t_from, t_to, timescaledb)

    return _MACRO.sub(repl, sql)


def expand(
    sql: str,
    time_from: datetime | str,
    time_to: datetime | str,
    variables: Mapping[str, Any] | None = None,
    *,
    multi: Iterable[str] = (),
    timescaledb: bool = False,
) -> str:
    """Panel SQL -> the SQL Grafana sends to PostgreSQL for this time range and these variable values."""
    return expand_macros(expand_variables(sql, variables, multi), time_from, time_to, timescaledb)


def panel_sql(
    panel_title: str, pair: str, time_from: datetime | str, time_to: datetime | str, dashboard: dict | None = None
) -> str:
    """The expanded SQL of one panel for one currency pair."""
    return expand(panel(panel_title, dashboard).sql, time_from, time_to, {PAIR_VARIABLE: pair})


# --------------------------------------------------------------------------- running it


def _cursor_rows(conn, sql: str) -> tuple[list[str], list[tuple]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)  # no parameters: psycopg2 leaves the text untouched, as Grafana sends it
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()
    finally:
        cur.close()


def run_sql(engine_or_conn, sql: str):
    """Run expanded SQL and return a pandas DataFrame shaped like Grafana's data frame.

    `engine_or_conn` is a SQLAlchemy engine or connection, or a DB-API connection
    (psycopg2). Like Grafana, a column named `time` becomes a UTC timestamp, also
    when it holds epoch seconds (what `$__timeGroupAlias` produces); numeric
    (Decimal) value columns become floats.
    """
    import pandas as pd

    if hasattr(engine_or_conn, "raw_connection"):  # SQLAlchemy Engine
        raw = engine_or_conn.raw_connection()
        try:
            columns, rows = _cursor_rows(raw, sql)
        finally:
            raw.close()
    elif hasattr(engine_or_conn, "exec_driver_sql"):  # SQLAlchemy Connection
        columns, rows = _cursor_rows(engine_or_conn.connection.dbapi_connection, sql)
    else:  # DB-API connection
        columns, rows = _cursor_rows(engine_or_conn, sql)
        if hasattr(engine_or_conn, "rollback") and not getattr(engine_or_conn, "autocommit", True):
            engine_or_conn.rollback()  # leave no read transaction open

    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in df.columns:
        if df[col].dtype == object and len(df) and any(isinstance(v, Decimal) for v in df[col]):
            df[col] = df[col].astype(float)
    if "time" in df.columns and len(df):
        t = df["time"]
        if pd.api.types.is_numeric_dtype(t):
            df["time"] = pd.to_datetime(t.astype(float), unit="s", utc=True)
        else:
            df["time"] = pd.to_datetime(t, utc=True)
    return df


def panel_frame(
    engine,
    panel_title: str,
    pair: str,
    time_from: datetime | str,
    time_to: datetime | str,
    dashboard: dict | None = None,
):
    """The data of one dashboard panel for one currency pair and time range, as a DataFrame.

    The columns are the panel query's: `time, open, high, low, close, volume` for
    the candlestick panel, `time, bought, sold` for the volume panel, and so on.
    """
    return run_sql(engine, panel_sql(panel_title, pair, time_from, time_to, dashboard))

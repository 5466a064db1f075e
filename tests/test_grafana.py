"""The Grafana provisioning, the dashboard JSON and workbook/grafana.py.

- the provisioning YAML and the dashboard JSON parse and fit together;
- `workbook.dashboard.grafana.expand` reproduces the SQL Grafana's PostgreSQL data source
  generates (expected strings from Grafana's own macro tests and docs);
- integration: every panel's SQL, expanded, runs against the embedded
  PostgreSQL and returns the columns its panel maps.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from workbook.dashboard import charts, grafana

ROOT = Path(__file__).resolve().parent.parent
PROVISIONING = ROOT / "grafana" / "provisioning"

# Columns each panel maps. Candlestick: the panel's auto-detected field names
# (open/high/low/close/volume, Grafana's candlestickFieldsInfo defaults).
PANEL_COLUMNS = {
    "Candlesticks": ["time", "open", "high", "low", "close", "volume"],
    "Bought and sold volume": ["time", "bought", "sold"],
    "Net volume (bought - sold)": ["time", "net"],
    "Trades per minute": ["time", "trades"],
}
# What Grafana's candlestick panel picks up by name when no field is mapped by hand.
CANDLESTICK_AUTO_NAMES = {
    "open": ["open", "o"],
    "high": ["high", "h", "max"],
    "low": ["low", "l", "min"],
    "close": ["close", "c"],
    "volume": ["volume", "v"],
}


def datasource() -> dict:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "postgres.yml").read_text())
    assert doc["apiVersion"] == 1
    (ds,) = doc["datasources"]
    return ds


# --------------------------------------------------------------------------- provisioning and dashboard


def test_datasource_provisioning():
    ds = datasource()
    assert ds["uid"] == "crypto-postgres"
    assert ds["type"] == "grafana-postgresql-datasource"
    assert ds["url"] == "${POSTGRES_HOST}:${POSTGRES_PORT}"
    assert ds["jsonData"]["sslmode"] == "disable"
    # TimescaleDB off: $__timeGroup must expand the same on the embedded PostgreSQL (no TimescaleDB)
    assert ds["jsonData"]["timescaledb"] is False
    assert set(ds["secureJsonData"]) == {"password"}


def test_dashboard_provisioning():
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yml").read_text())
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/etc/grafana/dashboards"


def test_dashboard_json():
    dash = grafana.load_dashboard()
    assert dash["uid"] and dash["title"]
    assert dash["time"] == {"from": "now-30m", "to": "now"}
    assert dash["refresh"] in dash["timepicker"]["refresh_intervals"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    pair = variables[grafana.PAIR_VARIABLE]
    assert pair["type"] == "query" and not pair["multi"] and not pair["includeAll"]
    assert re.sub(r"\s+", " ", grafana.variable_query()).startswith("SELECT DISTINCT currency_pair FROM candlesticks")
    assert pair["datasource"]["uid"] == datasource()["uid"]

    panels = grafana.panels(dash)
    assert [p.title for p in panels] == list(PANEL_COLUMNS)
    assert [p.type for p in panels].count("candlestick") == 1
    ids = [p.id for p in panels]
    assert len(set(ids)) == len(ids)
    for p in panels:
        assert p.raw["datasource"]["uid"] == datasource()["uid"], p.title
        for t in p.raw["targets"]:
            assert t["datasource"]["uid"] == datasource()["uid"], p.title
            assert t["rawQuery"] is True and t["editorMode"] == "code", p.title
            assert t["format"] in ("table", "time_series"), p.title


def test_panel_sql_uses_only_known_macros_and_variables():
    dash = grafana.load_dashboard()
    known_vars = {v["name"] for v in dash["templating"]["list"]}
    for p in grafana.panels(dash):
        assert "--" not in p.sql and "/*" not in p.sql, f"{p.title}: no SQL comments (Grafana versions differ on them)"
        assert "$__timeFilter(ts_start)" in p.sql, f"{p.title}: should follow the dashboard's time range"
        assert "'${currency_pair}'" in p.sql, f"{p.title}: should follow the currency-pair picker"
        for name in re.findall(r"\$\{?(\w+)", p.sql):
            assert name.startswith("__") or name in known_vars, f"{p.title}: unknown variable ${name}"
        # expands without error and leaves no $ behind
        sql = grafana.expand(p.sql, "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", {grafana.PAIR_VARIABLE: "x / y"})
        assert "$" not in sql, f"{p.title}: {sql}"


def test_candlestick_panel_maps_fields_by_name():
    (candle,) = [p for p in grafana.panels() if p.type == "candlestick"]
    aliases = re.findall(r'AS "(\w+)"', candle.sql)
    for key, names in CANDLESTICK_AUTO_NAMES.items():
        assert any(a in names for a in aliases), f"no column Grafana auto-maps to {key}: {aliases}"
        mapped = candle.raw["options"].get("fields", {}).get(key)
        assert mapped is None or mapped in aliases
    assert "time" in aliases
    assert candle.raw["options"]["mode"] == "candles+volume"


def test_panel_lookup():
    assert grafana.panel("candlesticks").type == "candlestick"
    with pytest.raises(KeyError, match="Candlesticks"):
        grafana.panel("no such panel")


# --------------------------------------------------------------------------- macro expansion

T0 = datetime(2018, 4, 12, 18, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    "sql, expected",
    [
        # Grafana's grafana-postgresql-datasource macro tests and docs (time range 2018-04-12 18:00 - 18:05 UTC)
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        ("SELECT $__timeGroup(time_column,'5m')", "SELECT floor(extract(epoch from time_column)/300)*300"),
        (
            "SELECT $__timeGroupAlias(time_column,'5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        ("$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
        ("$__timeGroupAlias(time_column , '5m')", 'floor(extract(epoch from time_column)/300)*300 AS "time"'),
        # pre-5.3 compatibility: a $__timeGroup directly followed by ',' gets the alias
        (
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m') as time, value",
            "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
        ),
        ("SELECT $__timeGroupAlias(ts_start, '1m')", 'SELECT floor(extract(epoch from ts_start)/60)*60 AS "time"'),
    ],
)
def test_macros_as_grafana_expands_them(sql, expected):
    assert grafana.expand(sql, T0, T1) == expected


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("GROUP BY $__timeGroup(time_column,'5m')", "GROUP BY time_bucket('300.000s',time_column)"),
        ("GROUP BY $__timeGroup(time_column , '5m')", "GROUP BY time_bucket('300.000s',time_column)"),
        ("GROUP BY $__timeGroup(time_column , '12d')", "GROUP BY time_bucket('1036800.000s',time_column)"),
        ("GROUP BY $__timeGroup(time_column , '20ms')", "GROUP BY time_bucket('0.020s',time_column)"),
    ],
)
def test_macros_with_timescaledb_enabled(sql, expected):
    assert grafana.expand(sql, T0, T1, timescaledb=True) == expected


def test_time_filter_formats_like_go_rfc3339nano():
    f = datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=timezone.utc)
    t = datetime(1980, 2, 3, 8, 0, 0, 500000, tzinfo=timezone.utc)
    assert (
        grafana.expand("WHERE $__timeFilter(c)", f, t)
        == "WHERE c BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"
    )
    # naive datetimes are UTC, other zones are converted, ISO strings are accepted
    assert grafana.expand("$__timeFrom()", datetime(2018, 4, 12, 18, 0), T1) == "'2018-04-12T18:00:00Z'"
    cet = timezone(timedelta(hours=2))
    assert grafana.expand("$__timeFrom()", datetime(2018, 4, 12, 20, 0, tzinfo=cet), T1) == "'2018-04-12T18:00:00Z'"
    assert grafana.expand("$__timeTo()", T0, "2018-04-12T18:05:00.250Z") == "'2018-04-12T18:05:00.25Z'"


def test_interval_formatting_like_go():
    assert [grafana.go_float(x) for x in (60.0, 300.0, 0.02, 86400.0, 604800.0, 1036800.0, 2e-05, 1.5)] == [
        "60",
        "300",
        "0.02",
        "86400",
        "604800",
        "1.0368e+06",
        "2e-05",
        "1.5",
    ]
    assert grafana.parse_interval("'1h30m'") == 5400
    assert grafana.parse_interval("1w") == 604800
    for bad in ("5x", "1M", "m", ""):
        with pytest.raises(grafana.MacroError):
            grafana.parse_interval(bad)


def test_macro_errors():
    for unknown in ("$__nope(x)", "$__unixEpochFilter(time)", "$__timeEpoch(c)"):  # not used by our panels
        with pytest.raises(grafana.MacroError, match="unknown macro"):
            grafana.expand(f"select {unknown}", T0, T1)
    with pytest.raises(grafana.MacroError, match="needs time column and interval"):
        grafana.expand("select $__timeGroup(x)", T0, T1)
    with pytest.raises(grafana.MacroError, match="missing time column"):
        grafana.expand("select $__timeFilter()", T0, T1)


def test_template_variables_as_a_sql_data_source_inserts_them():
    v = {"currency_pair": "bitcoin / tether", "quoted": "it's", "pairs": ["a", "b'c"], "n": 5}
    e = lambda s, **kw: grafana.expand_variables(s, v, **kw)  # noqa: E731
    # single value, no format: inserted as-is with ' doubled (the SQL quotes it)
    assert e("WHERE currency_pair = '${currency_pair}'") == "WHERE currency_pair = 'bitcoin / tether'"
    assert e("WHERE currency_pair = '$currency_pair'") == "WHERE currency_pair = 'bitcoin / tether'"
    assert e("WHERE x = '[[quoted]]'") == "WHERE x = 'it''s'"
    # a list (multi-value): each value quoted, comma-separated; numbers as they are
    assert e("WHERE p IN ($pairs)") == "WHERE p IN ('a','b''c')"
    assert e("LIMIT $n") == "LIMIT 5"
    assert e("WHERE p IN (${currency_pair})", multi=["currency_pair"]) == "WHERE p IN ('bitcoin / tether')"
    # explicit formats
    assert e("${pairs:sqlstring}") == "'a','b''c'" and e("${quoted:raw}") == "it's" and e("${pairs:csv}") == "a,b'c"
    # unknown names (Grafana's macros among them) stay for the data source
    assert e("$__timeFilter(ts) AND $other") == "$__timeFilter(ts) AND $other"


def test_panel_sql_expansion_of_the_dashboard():
    sql = grafana.panel_sql("Bought and sold volume", "bitcoin / tether", T0, T1)
    assert sql == (
        "SELECT\n"
        '  floor(extract(epoch from ts_start)/60)*60 AS "time",\n'
        '  SUM(volume_buy) AS "bought",\n'
        '  SUM(volume_sell) AS "sold"\n'
        "FROM volumes\n"
        "WHERE ts_start BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'\n"
        "  AND currency_pair = 'bitcoin / tether'\n"
        "GROUP BY 1\n"
        "ORDER BY 1"
    )


# --------------------------------------------------------------------------- integration: the real PostgreSQL

MINUTES = 5


def _processed_rows(cfg, pair: str, start: datetime):
    """A bounded processor run over MINUTES minutes of synthetic bitcoin/tether trades, renamed to
    `pair` and moved to `start`; returns the rows the processor must have written (pandas reference)
    as (candlestick tuples, volume tuples) in table column order."""
    from workbook import kafka, pipeline
    from workbook.course import datasets
    from workbook.course.references.candles import reference_candlesticks, reference_volumes

    base, quote = pair.split(" / ")
    shift = int(start.timestamp() * 1000) - datasets.SAMPLE_START_MS
    trades = [
        dict(t, base=base, timestamp=t["timestamp"] + shift)
        for t in datasets.sample_trades(minutes=MINUTES)
        if (t["base"], t["quote"]) == ("bitcoin", quote)
    ]
    topic = f"grafanatest-{uuid.uuid4().hex[:8]}"
    datasets.fill_topic(cfg, topic, trades)
    try:
        assert (
            pipeline.run(
                pipeline.RunOptions(bounded=True, topic=topic, solutions=True), cfg, say=lambda *_: None
            ).status
            == "FINISHED"
        )
    finally:
        kafka.delete_topic(cfg.kafka_bootstrap_servers, topic)
    utc = lambda ts: ts.to_pydatetime().replace(tzinfo=timezone.utc)  # noqa: E731
    candles = [
        (
            utc(r.ts_start),
            utc(r.ts_end),
            r.currency_pair,
            r.price_avg,
            r.price_open,
            r.price_min,
            r.price_max,
            r.price_close,
            r.volume,
            r.num_trades,
        )
        for r in reference_candlesticks(trades).itertuples()
    ]
    volumes = [
        (utc(r.ts_start), utc(r.ts_end), r.currency_pair, r.volume_buy, r.volume_sell)
        for r in reference_volumes(trades).itertuples()
    ]
    return candles, volumes


@pytest.fixture
def stack_config(request):
    """The embedded stack's Config from the `stack` fixture of tests/conftest.py."""
    try:
        return request.getfixturevalue("stack")
    except pytest.FixtureLookupError:
        pytest.skip("needs the `stack` fixture (tests/conftest.py) that starts the embedded services")


@pytest.mark.integration
def test_every_panel_sql_runs_on_the_embedded_postgres(stack_config):
    # The tables are filled by a bounded processor run (Kafka -> Flink -> JDBC) of a pair of its own.
    import psycopg2
    from sqlalchemy import create_engine

    cfg = stack_config
    pair = f"grafanatest{uuid.uuid4().hex[:8]} / tether"
    # a minute in 2002-2009 nobody else writes to, so the test can share the database (before 2001-09-09
    # the epoch milliseconds are below 1e12: sql/20_checked_trades.sql rejects them as out of range)
    start = datetime(2002, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=random.randrange(0, 400_000) * 10)
    candles, volumes = _processed_rows(cfg, pair, start)

    conn = psycopg2.connect(**cfg.psycopg2_kwargs())
    conn.autocommit = True
    engine = create_engine(cfg.postgres_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM candlesticks WHERE currency_pair = %s", (pair,))
            assert cur.fetchone()[0] == MINUTES, "the processor wrote one candle per minute"

        t_from, t_to = start - timedelta(minutes=1), start + timedelta(minutes=MINUTES + 1)
        assert pair in charts.variable_options(engine, "currency_pair", t_from, t_to), (
            "the currency-pair variable's query misses the pair"
        )

        for p in grafana.panels():
            df = grafana.panel_frame(engine, p.title, pair, t_from, t_to)
            expected = PANEL_COLUMNS[p.title]
            assert list(df.columns) == expected, f"{p.title}: columns {list(df.columns)}"
            assert len(df) == MINUTES, f"{p.title}: {len(df)} rows"
            assert str(df["time"].dt.tz) == "UTC"
            assert df["time"].tolist() == [start + timedelta(minutes=i) for i in range(MINUTES)], p.title
            for col in expected[1:]:
                assert df[col].dtype.kind in "fi", f"{p.title}.{col}: {df[col].dtype}"

            # the values are the rows, as the panel shows them
            if p.title == "Candlesticks":
                assert df[["open", "high", "low", "close", "volume"]].values.ravel().tolist() == pytest.approx(
                    [x for c in candles for x in (c[4], c[6], c[5], c[7], c[8])]
                )
                assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
                assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
            elif p.title == "Bought and sold volume":
                assert df[["bought", "sold"]].values.ravel().tolist() == pytest.approx(
                    [x for v in volumes for x in (v[3], v[4])]
                )
            elif p.title.startswith("Net volume"):
                assert df["net"].tolist() == pytest.approx([v[3] - v[4] for v in volumes])
            elif p.title == "Trades per minute":
                assert df["trades"].tolist() == [c[9] for c in candles]

            # the time range filters: nothing outside it
            empty = grafana.panel_frame(engine, p.title, pair, start - timedelta(hours=2), start - timedelta(hours=1))
            assert empty.empty and list(empty.columns) == expected, p.title
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM candlesticks WHERE currency_pair = %s", (pair,))
            cur.execute("DELETE FROM volumes WHERE currency_pair = %s", (pair,))
        conn.close()
        engine.dispose()

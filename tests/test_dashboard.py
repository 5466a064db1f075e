"""The notebook dashboard, without screenshots: a bounded processor run into
the real PostgreSQL, then the Plotly figure of notebook 7, built from the
Grafana dashboard JSON, draws every panel as its trace kind with the data of
the panel's own SQL (and the reference's numbers); a panel added to a copy of
the JSON appears with no code change; a panel type the renderer does not know
is listed under the figure."""

import copy
import json
import random
import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import psycopg2
import pytest
import sqlalchemy

from workbook import kafka, pipeline
from workbook.course import datasets
from workbook.course.references.candles import reference_candlesticks, reference_volumes
from workbook.dashboard import charts, grafana

PAIR = "bitcoin / tether"
GREEN, RED, BLUE = charts.NAMED_COLORS["green"], charts.NAMED_COLORS["red"], charts.NAMED_COLORS["blue"]


@pytest.fixture
def engine(stack):
    e = sqlalchemy.create_engine(stack.postgres_url)
    yield e
    e.dispose()


@pytest.fixture
def shifted_run(stack):
    """The sample's first 10 minutes moved to a random day of 2010 (no other test's rows), processed."""
    day = datetime(2010, 1, 1, tzinfo=timezone.utc) + timedelta(days=random.randrange(365))
    shift = int(day.timestamp() * 1000) - datasets.SAMPLE_START_MS
    trades = [dict(t, timestamp=t["timestamp"] + shift) for t in datasets.sample_trades(minutes=10)]
    topic = f"dashboard-{uuid.uuid4().hex[:8]}"
    datasets.fill_topic(stack, topic, trades)
    result = pipeline.run(pipeline.RunOptions(bounded=True, topic=topic, solutions=True), stack, say=lambda *_: None)
    assert result.status == "FINISHED" and result.num_records == len(trades)
    yield day, trades
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for table in ("candlesticks", "volumes", "late_trades"):
            cur.execute(f"DELETE FROM {table} WHERE ts_start >= %s AND ts_start < %s", (day, day + timedelta(days=1)))
    kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def traces_by_panel(rendered) -> dict:
    """{panel title: [traces]}: a panel's traces share its x axis (the order of the axes is the panels' grid order)."""
    drawn = [
        p
        for p in charts.dashboard_panels(DASHBOARD_OF[id(rendered)])
        if p.type != "stat" and p.type in charts.DRAWN_TYPES
    ]
    axes = []
    for t in rendered.figure.data:
        if t.type != "indicator" and t.xaxis not in axes:
            axes.append(t.xaxis)
    return {
        p.title: [t for t in rendered.figure.data if t.type != "indicator" and t.xaxis == a]
        for p, a in zip(drawn, axes, strict=True)
    }


DASHBOARD_OF: dict = {}


def render(engine, day, dashboard=None):
    dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
    rendered = charts.render(engine, PAIR, day, day + timedelta(hours=1), dashboard=dashboard)
    DASHBOARD_OF[id(rendered)] = dashboard
    return rendered


def panel_result(engine, title, day, dashboard=None):
    """The panel SQL's own result, expanded and run independently of the renderer."""
    sql = grafana.panel(title, dashboard).sql
    return grafana.run_sql(engine, grafana.expand(sql, day, day + timedelta(hours=1), {"currency_pair": PAIR}))


@pytest.mark.integration
def test_every_panel_is_drawn_as_its_trace_kind_with_its_data(engine, shifted_run):
    day, trades = shifted_run
    rendered = render(engine, day)
    assert rendered.not_drawn == []
    by_panel = traces_by_panel(rendered)
    assert list(by_panel) == [p.title for p in grafana.panels()]  # every panel of crypto.json
    assert {k: [(t.type, t.name) for t in v] for k, v in by_panel.items()} == {
        "Candlesticks": [("candlestick", "price"), ("bar", "volume")],
        "Bought and sold volume": [("bar", "bought"), ("bar", "sold")],
        "Net volume (bought - sold)": [("bar", "net")],
        "Trades per minute": [("bar", "trades")],
    }

    # against the panel SQL's own result
    candles = panel_result(engine, "Candlesticks", day)
    candle, volume = by_panel["Candlesticks"]
    assert len(candles) == 10
    assert list(pd.to_datetime(list(candle.x), utc=True)) == list(candles["time"])
    for field in ("open", "high", "low", "close"):
        assert list(getattr(candle, field)) == pytest.approx(list(candles[field])), field
    assert list(volume.y) == pytest.approx(list(candles["volume"]))
    assert volume.yaxis != candle.yaxis  # candles+volume: the volume on its own scale, under the candles
    volumes = panel_result(engine, "Bought and sold volume", day)
    bought, sold = by_panel["Bought and sold volume"]
    assert list(bought.y) == pytest.approx(list(volumes["bought"]))
    assert list(sold.y) == pytest.approx(list(-volumes["sold"]))  # negative-Y: drawn below the axis
    assert list(sold.customdata) == pytest.approx(list(volumes["sold"]))  # the hover shows the real value
    net = panel_result(engine, "Net volume (bought - sold)", day)
    (net_trace,) = by_panel["Net volume (bought - sold)"]
    assert list(net_trace.y) == pytest.approx(list(net["net"]))
    trades_frame = panel_result(engine, "Trades per minute", day)
    (trades_trace,) = by_panel["Trades per minute"]
    assert list(trades_trace.y) == list(trades_frame["trades"])

    # ... and the reference's numbers for the pair (what the processor should have written)
    ref = reference_candlesticks(trades)
    ref = ref[ref["currency_pair"] == PAIR].reset_index(drop=True)
    vol = reference_volumes(trades)
    vol = vol[vol["currency_pair"] == PAIR].reset_index(drop=True)
    assert list(candle.open) == pytest.approx(list(ref["price_open"]))
    assert list(candle.close) == pytest.approx(list(ref["price_close"]))
    assert list(bought.y) == pytest.approx(list(vol["volume_buy"]))
    assert list(trades_trace.y) == list(ref["num_trades"])

    # the look of Grafana's JSON: candle and bought/sold colours, thresholds, fixed colour, titles, a legend each
    assert candle.increasing.line.color == GREEN and candle.decreasing.line.color == RED
    assert bought.marker.color == GREEN and sold.marker.color == RED
    assert list(net_trace.marker.color) == [GREEN if v >= 0 else RED for v in net["net"]]
    assert trades_trace.marker.color == BLUE
    assert [a.text for a in rendered.figure.layout.annotations if a.text.startswith("<b>")] == [
        f"<b>{t} · {PAIR}</b>" for t in by_panel
    ]
    legends = [t.legend for traces in by_panel.values() for t in traces]
    assert legends == ["legend", "legend", "legend2", "legend2", "legend3", "legend4"]

    # gridPos: the candles over the full width, then two half-width panels side by side, then the trades
    layout = rendered.figure.layout
    x_dom = {title: layout[traces[0].xaxis.replace("x", "xaxis")].domain for title, traces in by_panel.items()}
    y_dom = {title: layout[traces[0].yaxis.replace("y", "yaxis")].domain for title, traces in by_panel.items()}
    assert x_dom["Candlesticks"][0] == 0 and x_dom["Candlesticks"][1] > 0.95
    assert x_dom["Bought and sold volume"][1] <= 0.5 <= x_dom["Net volume (bought - sold)"][0]
    assert y_dom["Bought and sold volume"] == y_dom["Net volume (bought - sold)"]
    assert (
        y_dom["Candlesticks"][0]
        > y_dom["Bought and sold volume"][1]
        > y_dom["Bought and sold volume"][0]
        > y_dom["Trades per minute"][1]
    )
    # the panel shows the whole time range, not only where there is data
    assert [pd.Timestamp(t) for t in layout.xaxis.range] == [day, day + timedelta(hours=1)]


@pytest.mark.integration
def test_a_panel_added_to_a_copy_of_the_json_appears_without_code_changes(engine, shifted_run, tmp_path):
    day, _ = shifted_run
    dashboard = copy.deepcopy(grafana.load_dashboard())
    sql = (
        'SELECT ts_start AS "time", price_close AS "close price" FROM candlesticks '
        "WHERE $__timeFilter(ts_start) AND currency_pair = '${currency_pair}' ORDER BY 1"
    )
    dashboard["panels"].append(
        {
            "id": 10,
            "type": "timeseries",
            "title": "Close of ${currency_pair}",
            "gridPos": {"h": 8, "w": 16, "x": 0, "y": 28},
            "targets": [{"refId": "A", "format": "table", "rawQuery": True, "rawSql": sql}],
            "fieldConfig": {
                "defaults": {
                    "custom": {"drawStyle": "line", "lineWidth": 2},
                    "color": {"mode": "fixed", "fixedColor": "purple"},
                    "unit": "currencyUSD",
                },
                "overrides": [],
            },
            "options": {"legend": {"showLegend": True}},
        }
    )
    dashboard["panels"].append(
        {
            "id": 11,
            "type": "stat",
            "title": "Trades in range",
            "gridPos": {"h": 8, "w": 8, "x": 16, "y": 28},
            "targets": [
                {
                    "refId": "A",
                    "format": "table",
                    "rawQuery": True,
                    "rawSql": 'SELECT SUM(num_trades) AS "trades" FROM candlesticks '
                    "WHERE $__timeFilter(ts_start) AND currency_pair = '${currency_pair}'",
                }
            ],
            "fieldConfig": {"defaults": {"color": {"mode": "fixed", "fixedColor": "blue"}}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"]}},
        }
    )
    path = tmp_path / "crypto.json"
    path.write_text(json.dumps(dashboard))

    rendered = render(engine, day, grafana.load_dashboard(path))
    assert rendered.not_drawn == []
    (line,) = traces_by_panel(rendered)["Close of ${currency_pair}"]
    candles = panel_result(engine, "Candlesticks", day)
    assert (line.type, line.name, line.mode, line.line.color) == ("scatter", "close price", "lines", "#B877D9")
    assert list(line.y) == pytest.approx(list(candles["close"]))
    assert rendered.figure.layout[line.yaxis.replace("y", "yaxis")].tickprefix == "$"
    (stat,) = [t for t in rendered.figure.data if t.type == "indicator"]
    assert stat.value == sum(panel_result(engine, "Trades per minute", day)["trades"])
    assert f"<b>Close of {PAIR}</b>" in [a.text for a in rendered.figure.layout.annotations]  # title variables


def test_an_unknown_panel_type_is_listed_under_the_figure():
    dashboard = copy.deepcopy(grafana.load_dashboard())
    dashboard["panels"].append(
        {
            "id": 20,
            "type": "piechart",
            "title": "Share of pairs",
            "gridPos": {"h": 8, "w": 12, "x": 0, "y": 28},
            "targets": [{"refId": "A", "rawSql": "SELECT 1"}],
        }
    )
    dashboard["panels"].append(
        {"id": 21, "type": "text", "title": "Notes", "gridPos": {"h": 4, "w": 12, "x": 12, "y": 28}}
    )
    empty = {p.title: pd.DataFrame({"time": pd.to_datetime([], utc=True)}) for p in grafana.panels(dashboard)}
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    fig, not_drawn = charts.dashboard_figure(empty, {"currency_pair": PAIR}, t0, t0 + timedelta(minutes=30), dashboard)
    assert len(not_drawn) == 2
    assert "'Share of pairs' (type 'piechart')" in not_drawn[0] and "'Notes' (type 'text')" in not_drawn[1]
    below = [a for a in fig.layout.annotations if a.text.startswith("Not drawn:")]
    assert [a.text for a in below] == [f"Not drawn: {r}" for r in not_drawn]
    assert all(a.y < 0 for a in below)  # under the grid
    assert "No data" in [a.text for a in fig.layout.annotations]  # empty panels say so, as Grafana's do


def test_null_volumes_before_exercise_2_are_gaps():
    """The student's skeleton writes NULL volumes: the chart still draws (found by the browser test)."""
    times = pd.to_datetime(["2025-01-01 00:00", "2025-01-01 00:01"], utc=True)
    frames = {
        "Candlesticks": pd.DataFrame(
            {
                "time": times,
                "open": [1.0, 2.0],
                "high": [2.0, 3.0],
                "low": [0.5, 1.5],
                "close": [2.0, 2.5],
                "volume": [1.0, 1.0],
            }
        ),
        "Bought and sold volume": pd.DataFrame({"time": times, "bought": [None, None], "sold": [None, None]}),
        "Net volume (bought - sold)": pd.DataFrame({"time": times, "net": [None, None]}),
        "Trades per minute": pd.DataFrame({"time": times, "trades": [3, 4]}),
    }
    fig, not_drawn = charts.dashboard_figure(frames, {"currency_pair": PAIR}, times[0], times[1])
    assert not_drawn == []
    assert [t.type for t in fig.data] == ["candlestick", "bar", "bar", "bar", "bar", "bar"]
    assert all(pd.isna(v) for v in fig.data[3].y)


def test_a_query_error_is_shown_in_its_panel():
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    frames = {"Candlesticks": RuntimeError('relation "candlesticks" does not exist')}
    fig, _ = charts.dashboard_figure(frames, {"currency_pair": PAIR}, t0, t0 + timedelta(minutes=30))
    assert 'query error: relation "candlesticks" does not exist' in [a.text for a in fig.layout.annotations]


def test_an_unfinished_panel_query_says_no_query_yet_not_a_database_error():
    """notebook 07 after an unanswered panel_sql: the panel's SQL is only the skeleton's comments."""
    from workbook.course.checks_dashboard import PANEL_TITLE, panel_dashboard

    skeleton = "-- ✏️ TODO: the panel's query\n-- columns: time, price_range\n"
    dash = {"panels": [p for p in panel_dashboard(skeleton)["panels"] if p["title"] == PANEL_TITLE]}
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    frames = charts.query_panels(None, {"currency_pair": "bitcoin / tether"}, t0, t0 + timedelta(minutes=5), dash)
    assert isinstance(frames[PANEL_TITLE], charts.NoQuery)
    rendered = charts.Rendered(None, frames, [], {}, t0, t0)
    assert rendered.summary(PANEL_TITLE) == f"{PANEL_TITLE}: no query yet (its SQL is empty: write the query first)"

"""The notebook dashboard, without screenshots: a bounded processor run into
the real PostgreSQL, then the Plotly figure of notebook 6 built from the
Grafana panels' SQL has a candlestick, a bought and a sold trace with the
reference's numbers for the chosen pair."""
import random
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
import sqlalchemy

from workbook import kafka, pipeline
from workbook.course import checks, datasets
from workbook.dashboard import charts

pytestmark = pytest.mark.integration
PAIR = "bitcoin / tether"


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


def test_dashboard_figure_has_candles_and_volumes_of_the_pair(stack, shifted_run):
    day, trades = shifted_run
    engine = sqlalchemy.create_engine(stack.postgres_url)
    frames = charts.dashboard_frames(engine, PAIR, day, day + timedelta(hours=1))
    engine.dispose()
    fig = charts.dashboard_figure(frames, PAIR)
    assert [(t.type, t.name) for t in fig.data] == [("candlestick", "price"), ("bar", "bought"), ("bar", "sold")]
    candle, bought, sold = fig.data
    ref = checks.reference_candlesticks(trades)
    ref = ref[ref["currency_pair"] == PAIR].reset_index(drop=True)
    vol = checks.reference_volumes(trades)
    vol = vol[vol["currency_pair"] == PAIR].reset_index(drop=True)
    assert len(candle.x) == len(ref) == 10
    assert list(candle.open) == pytest.approx(list(ref["price_open"]))
    assert list(candle.close) == pytest.approx(list(ref["price_close"]))
    assert list(candle.high) == pytest.approx(list(ref["price_max"]))
    assert list(candle.low) == pytest.approx(list(ref["price_min"]))
    assert list(bought.y) == pytest.approx(list(vol["volume_buy"]))
    assert list(sold.y) == pytest.approx(list(-vol["volume_sell"]))  # drawn below the axis
    assert fig.layout.annotations[0].text == f"{PAIR}: 1-minute candlesticks"


def test_figure_before_exercise_2_has_empty_volume_bars():
    """The student's skeleton writes NULL volumes: the chart still draws (found by the browser test)."""
    import pandas as pd

    times = pd.to_datetime(["2025-01-01 00:00", "2025-01-01 00:01"], utc=True)
    frames = {charts.CANDLE_PANEL: pd.DataFrame({"time": times, "open": [1.0, 2.0], "high": [2.0, 3.0],
                                                 "low": [0.5, 1.5], "close": [2.0, 2.5], "volume": [1.0, 1.0]}),
              charts.VOLUME_PANEL: pd.DataFrame({"time": times, "bought": [None, None], "sold": [None, None]})}
    fig = charts.dashboard_figure(frames, PAIR)
    assert [t.type for t in fig.data] == ["candlestick", "bar", "bar"]
    assert all(pd.isna(v) for v in fig.data[2].y)

"""Plotly charts that mirror the Grafana dashboard: the same panel SQL
(workbook.grafana expands its macros), drawn as a candlestick chart with
bought/sold volume bars below it."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import grafana

CANDLE_PANEL = "Candlesticks"
VOLUME_PANEL = "Bought and sold volume"


def dashboard_frames(engine, pair: str, time_from: datetime | str, time_to: datetime | str) -> dict:
    """{panel title: DataFrame} of the two panels the notebook draws, for one pair."""
    return {title: grafana.panel_frame(engine, title, pair, time_from, time_to)
            for title in (CANDLE_PANEL, VOLUME_PANEL)}


def dashboard_figure(frames: dict, pair: str) -> go.Figure:
    candles, volumes = frames[CANDLE_PANEL], frames[VOLUME_PANEL]
    # Before Exercise 2 is done the volumes are NULL (object dtype): draw them as gaps, not fail.
    sold = pd.to_numeric(volumes["sold"], errors="coerce")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06,
                        subplot_titles=(f"{pair}: 1-minute candlesticks", "bought / sold volume"))
    fig.add_trace(go.Candlestick(x=candles["time"], open=candles["open"], high=candles["high"],
                                 low=candles["low"], close=candles["close"], name="price"), row=1, col=1)
    fig.add_trace(go.Bar(x=volumes["time"], y=volumes["bought"], name="bought", marker_color="#2ca02c"), row=2, col=1)
    fig.add_trace(go.Bar(x=volumes["time"], y=-sold, name="sold", marker_color="#d62728",
                         customdata=volumes["sold"], hovertemplate="sold %{customdata}<extra></extra>"), row=2, col=1)
    fig.update_layout(barmode="relative", xaxis_rangeslider_visible=False, height=600,
                      margin=dict(l=40, r=20, t=50, b=30), legend=dict(orientation="h", y=-0.08))
    return fig

"""The Grafana dashboard drawn with Plotly, from the dashboard JSON itself.

Every panel of `grafana/dashboards/crypto.json` becomes a Plotly subplot: its
type picks the trace kind (`candlestick` -> Candlestick, with the volume bars
of `candles+volume` mode; `timeseries` -> bars, lines or points after
`custom.drawStyle`; `stat` -> a number), its SQL is expanded as Grafana does
(`grafana.expand`) and run, its `fieldConfig` gives the series colours
(fixed, classic palette or thresholds), the `negative-Y` transform, the unit
and decimals, and its `gridPos` places it on Grafana's 24-column grid. So a
panel added to the JSON appears here with no Python change. A panel type this
renderer does not draw is listed under the figure, never dropped silently.

Colours: Grafana's named colours as its dark theme draws them; a candle is up
(green) when it closes above its open and down (red) below it, Grafana's
`open-close` strategy (a flat candle takes Plotly's previous direction where
Grafana draws it grey).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import psycopg2
import sqlalchemy.exc

from . import grafana, timerange

__all__ = [
    "DRAWN_TYPES",
    "GridPanel",
    "Rendered",
    "dashboard_panels",
    "variable_options",
    "query_panels",
    "dashboard_figure",
    "render",
    "grafana_color",
]

DRAWN_TYPES = ("candlestick", "timeseries", "stat")
GRID_COLUMNS = 24  # Grafana's grid is 24 columns wide
ROW_PX = 34  # one grid row: Grafana's 30 px cell plus its 8 px margin, a little tighter
TITLE_PX, LEGEND_PX, XTICKS_PX = 26, 24, 22

# Grafana's named colours (dark theme) and its classic palette.
NAMED_COLORS = {
    "green": "#73BF69",
    "red": "#F2495C",
    "blue": "#5794F2",
    "yellow": "#FADE2A",
    "orange": "#FF9830",
    "purple": "#B877D9",
    "gray": "#8E8E8E",
    "grey": "#8E8E8E",
    "text": "#CCCCDC",
    "transparent": "rgba(0,0,0,0)",
    "dark-green": "#37872D",
    "dark-red": "#C4162A",
    "dark-blue": "#1F60C4",
    "light-green": "#96D98D",
    "light-red": "#FF7383",
    "light-blue": "#8AB8FF",
    "semi-dark-green": "#56A64B",
    "semi-dark-red": "#E02F44",
    "semi-dark-blue": "#3274D9",
}
CLASSIC_PALETTE = [
    "#7EB26D",
    "#EAB839",
    "#6ED0E0",
    "#EF843C",
    "#E24D42",
    "#1F78C1",
    "#BA43A9",
    "#705DA0",
    "#508642",
    "#CCA300",
]
# What Grafana's candlestick panel picks up by name when a field is not mapped in `options.fields`.
CANDLE_AUTO_NAMES = {
    "open": ("open", "o"),
    "high": ("high", "h", "max"),
    "low": ("low", "l", "min"),
    "close": ("close", "c"),
    "volume": ("volume", "v"),
}
# Grafana units -> Plotly tick format, prefix, suffix (the common ones; others are shown as a suffix).
UNITS = {
    "short": ("~s", "", ""),
    "none": ("", "", ""),
    "percent": ("", "", "%"),
    "percentunit": (".0%", "", ""),
    "currencyUSD": ("~s", "$", ""),
    "currencyEUR": ("~s", "€", ""),
    "s": ("~s", "", " s"),
    "ms": ("~s", "", " ms"),
    "bytes": ("~s", "", "B"),
    "decbytes": ("~s", "", "B"),
}


def grafana_color(name: str | None, default: str = "#8E8E8E") -> str:
    """A Grafana colour ('green', 'semi-dark-red', '#73BF69', 'rgba(...)') as a CSS colour."""
    if not name:
        return default
    return NAMED_COLORS.get(name, name)


class NoQuery(Exception):
    """A panel whose SQL is only comments or blank: nothing to run yet (an unfinished exercise)."""


def _has_code(sql: str) -> bool:
    return bool(re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.S).strip())


@dataclass(frozen=True)
class GridPanel:
    """One panel of the dashboard JSON as the renderer sees it."""

    id: Any
    title: str
    type: str
    x: int
    y: int
    w: int
    h: int
    sql: str | None
    raw: dict = field(repr=False, compare=False)


@dataclass
class Rendered:
    """What `render` drew: the figure, each panel's data (by panel title) and the panels it did not draw."""

    figure: go.Figure
    frames: dict
    not_drawn: list
    variables: dict
    time_from: datetime
    time_to: datetime

    def show(self) -> None:
        self.figure.show()

    def summary(self, title: str) -> str:
        """One line about a panel's data: its rows and columns, or the error its query raised
        (a student's unfinished panel query is an error, not a reason to stop the notebook)."""
        frame = self.frames.get(title)
        if frame is None:
            return f"{title}: not queried (no SQL, or a panel type the notebook does not draw)"
        if isinstance(frame, NoQuery):
            return f"{title}: no query yet ({frame})"
        if isinstance(frame, Exception):
            message = (str(frame).strip().splitlines() or [type(frame).__name__])[0]
            return f"{title}: query error: {message}"
        return f"{title}: {frame.shape[0]} rows, columns {list(frame.columns)}"


def dashboard_panels(dashboard: dict | None = None) -> list[GridPanel]:
    """Every panel of the dashboard in grid order (top to bottom, left to right)."""
    dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
    out = []
    for p in grafana.walk_panels(dashboard.get("panels", [])):
        pos = p.get("gridPos", {})
        sql = next((t["rawSql"] for t in p.get("targets", []) if t.get("rawSql")), None)
        out.append(
            GridPanel(
                id=p.get("id"),
                title=p.get("title", ""),
                type=p.get("type", ""),
                x=int(pos.get("x", 0)),
                y=int(pos.get("y", 0)),
                w=int(pos.get("w", 12)),
                h=int(pos.get("h", 8)),
                sql=sql,
                raw=p,
            )
        )
    return sorted(out, key=lambda p: (p.y, p.x))


def _variables(dashboard: dict) -> list[dict]:
    return [v for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"]


def _sort_options(values: list[str], sort: int) -> list[str]:
    """Grafana's variable `sort`: 0 query order, 1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive."""
    if sort in (1, 2):
        return sorted(values, reverse=sort == 2)
    if sort in (3, 4):

        def number(v):
            digits = "".join(ch for ch in v if ch.isdigit())
            return int(digits) if digits else -1

        return sorted(values, key=number, reverse=sort == 4)
    if sort in (5, 6):
        return sorted(values, key=str.lower, reverse=sort == 6)
    return values


def variable_options(
    engine,
    name: str = grafana.PAIR_VARIABLE,
    time_from: Any = "now-30m",
    time_to: Any = "now",
    dashboard: dict | None = None,
    now: datetime | None = None,
) -> list[str]:
    """The values a query variable offers (the currency-pair picker): its own query, sorted as its `sort` says."""
    dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
    t_from, t_to = timerange.time_range(time_from, time_to, now)
    spec = next((v for v in _variables(dashboard) if v.get("name") == name), None)
    if spec is None:
        raise KeyError(f"no query variable {name!r} in the dashboard {dashboard.get('title')!r}")
    sql = grafana.expand(grafana.variable_query(name, dashboard), t_from, t_to)
    frame = grafana.run_sql(engine, sql)
    values = [str(v) for v in frame.iloc[:, 0].tolist()] if len(frame.columns) else []
    return _sort_options(list(dict.fromkeys(values)), int(spec.get("sort", 0) or 0))


def query_panels(
    engine, variables: Mapping[str, Any], t_from: datetime, t_to: datetime, dashboard: dict | None = None
) -> dict:
    """{panel title: DataFrame, or the exception its SQL raised} for every panel with SQL."""
    out = {}
    for p in dashboard_panels(dashboard):
        if p.sql is None or p.type not in DRAWN_TYPES:
            continue
        if not _has_code(p.sql):
            out[p.title] = NoQuery("its SQL is empty: write the query first")
            continue
        try:
            out[p.title] = grafana.run_sql(engine, grafana.expand(p.sql, t_from, t_to, variables))
        except (grafana.MacroError, psycopg2.Error, sqlalchemy.exc.SQLAlchemyError) as exc:
            # shown in the panel, as Grafana shows a query error in its corner
            out[p.title] = exc
    return out


# --------------------------------------------------------------------------- field config


def _defaults(p: GridPanel) -> dict:
    return p.raw.get("fieldConfig", {}).get("defaults", {})


def _field_config(p: GridPanel, name: str) -> dict:
    """The panel's defaults with the `byName` overrides of this field applied (flat keys such as custom.transform)."""
    conf = dict(_defaults(p))
    conf["custom"] = dict(conf.get("custom", {}))
    for o in p.raw.get("fieldConfig", {}).get("overrides", []):
        matcher = o.get("matcher", {})
        if matcher.get("id") == "byName" and matcher.get("options") == name:
            for prop in o.get("properties", []):
                key, value = prop.get("id", ""), prop.get("value")
                if key.startswith("custom."):
                    conf["custom"][key[len("custom.") :]] = value
                else:
                    conf[key] = value
    return conf


def _threshold_color(conf: dict, value: float) -> str:
    steps = conf.get("thresholds", {}).get("steps") or [{"color": "green", "value": None}]
    color = steps[0].get("color")
    for s in steps[1:]:
        if s.get("value") is not None and value is not None and not math.isnan(value) and value >= s["value"]:
            color = s.get("color")
    return grafana_color(color)


def _series_color(conf: dict, index: int, values: pd.Series | None = None):
    """One colour, or one per point when the panel colours by thresholds."""
    mode = conf.get("color", {}).get("mode", "palette-classic")
    if mode == "fixed":
        return grafana_color(conf["color"].get("fixedColor"))
    if mode == "thresholds":
        if values is None:
            return _threshold_color(conf, None)
        return [_threshold_color(conf, float(v)) if pd.notna(v) else "#8E8E8E" for v in values]
    return CLASSIC_PALETTE[index % len(CLASSIC_PALETTE)]


def _axis_format(conf: dict) -> dict:
    unit = conf.get("unit", "short")
    fmt, prefix, suffix = UNITS.get(unit, ("", "", f" {unit}"))
    out = {"tickformat": fmt, "tickprefix": prefix, "ticksuffix": suffix}
    if conf.get("decimals") is not None:
        out["hoverformat"] = f",.{int(conf['decimals'])}f"
    return out


def _number_columns(frame: pd.DataFrame) -> list[str]:
    cols = []
    for c in frame.columns:
        if c == "time":
            continue
        values = pd.to_numeric(frame[c], errors="coerce")
        if frame[c].dtype.kind in "fiu" or frame[c].isna().all() or values.notna().any():
            cols.append(c)
    return cols


# --------------------------------------------------------------------------- traces per panel type


def _candle_columns(p: GridPanel, frame: pd.DataFrame) -> dict:
    """{role: column of `frame` or None} for open, high, low, close, volume: the panel's options.fields
    mapping, else Grafana's automatic names."""
    mapped = p.raw.get("options", {}).get("fields", {}) or {}
    cols = {}
    for role, names in CANDLE_AUTO_NAMES.items():
        name = mapped.get(role) or next((c for c in frame.columns if c.lower() in names), None)
        cols[role] = name if name in frame.columns else None
    return cols


def _candlestick(p: GridPanel, frame: pd.DataFrame, axes: dict) -> list:
    opts = p.raw.get("options", {})
    cols = _candle_columns(p, frame)
    missing = [r for r in ("open", "high", "low", "close") if cols[r] is None]
    if missing:
        raise ValueError(
            f"the candlestick panel's query has no {', '.join(missing)} field "
            f"(columns {list(frame.columns)}; map them in options.fields)"
        )
    colors = opts.get("colors", {})
    up, down = grafana_color(colors.get("up", "green")), grafana_color(colors.get("down", "red"))
    mode = opts.get("mode", "candles+volume")
    traces = []
    numeric = {r: pd.to_numeric(frame[c], errors="coerce") for r, c in cols.items() if c}
    if mode in ("candles+volume", "candles"):
        kind = go.Ohlc if opts.get("candleStyle") == "ohlcbars" else go.Candlestick
        extra = {} if kind is go.Ohlc else {"increasing_fillcolor": up, "decreasing_fillcolor": down}
        traces.append(
            kind(
                x=frame["time"],
                open=numeric["open"],
                high=numeric["high"],
                low=numeric["low"],
                close=numeric["close"],
                name="price",
                increasing_line_color=up,
                decreasing_line_color=down,
                xaxis=axes["x"],
                yaxis=axes["y"],
                **extra,
            )
        )
    if mode in ("candles+volume", "volume") and cols["volume"]:
        rising = (numeric["close"] >= numeric["open"]).tolist()
        traces.append(
            go.Bar(
                x=frame["time"],
                y=numeric["volume"],
                name="volume",
                opacity=0.5,
                marker_color=[up if r else down for r in rising],
                marker_line_width=0,
                xaxis=axes["x"],
                yaxis=axes["y2"] if mode == "candles+volume" else axes["y"],
            )
        )
    return traces


def _timeseries(p: GridPanel, frame: pd.DataFrame, axes: dict) -> list:
    traces = []
    for i, name in enumerate(_number_columns(frame)):
        conf = _field_config(p, name)
        custom = conf.get("custom", {})
        values = pd.to_numeric(frame[name], errors="coerce")  # NULL (a skipped exercise) is a gap
        shown = -values if custom.get("transform") == "negative-Y" else values
        color = _series_color(conf, i, values)
        label = conf.get("displayName") or name
        hover = f"{label} %{{customdata:{_axis_format(conf).get('hoverformat', ',.6~g')}}}<extra></extra>"
        common = dict(
            x=frame["time"],
            y=shown,
            name=label,
            customdata=values,
            hovertemplate=hover,
            xaxis=axes["x"],
            yaxis=axes["y"],
        )
        style = custom.get("drawStyle", "line")
        opacity = float(custom.get("fillOpacity", 80 if style == "bars" else 0)) / 100
        if style == "bars":
            traces.append(
                go.Bar(
                    marker_color=color,
                    marker_line_color=color,
                    marker_line_width=1,
                    opacity=max(opacity, 0.2),
                    **common,
                )
            )
        else:
            line_color = color if isinstance(color, str) else _series_color(conf, i)
            mode = (
                "markers"
                if style == "points"
                else ("lines+markers" if custom.get("showPoints") == "always" else "lines")
            )
            traces.append(
                go.Scatter(
                    mode=mode,
                    line_color=line_color,
                    line_width=custom.get("lineWidth", 1),
                    fill="tozeroy" if opacity > 0 else None,
                    connectgaps=bool(custom.get("spanNulls")),
                    **common,
                )
            )
    return traces


_REDUCERS = {
    "lastNotNull": lambda s: s.dropna().iloc[-1] if s.notna().any() else float("nan"),
    "last": lambda s: s.iloc[-1] if len(s) else float("nan"),
    "firstNotNull": lambda s: s.dropna().iloc[0] if s.notna().any() else float("nan"),
    "first": lambda s: s.iloc[0] if len(s) else float("nan"),
    "mean": lambda s: s.mean(),
    "sum": lambda s: s.sum(),
    "max": lambda s: s.max(),
    "min": lambda s: s.min(),
    "count": lambda s: float(s.count()),
}


def _stat(p: GridPanel, frame: pd.DataFrame, domain: dict) -> list:
    calc = (p.raw.get("options", {}).get("reduceOptions", {}).get("calcs") or ["lastNotNull"])[0]
    if calc not in _REDUCERS:
        raise ValueError(f"stat calculation {calc!r} is not drawn here (one of {', '.join(_REDUCERS)})")
    names = _number_columns(frame)
    traces = []
    x0, x1 = domain["x"]
    for i, name in enumerate(names):
        conf = _field_config(p, name)
        value = _REDUCERS[calc](pd.to_numeric(frame[name], errors="coerce"))
        fmt = _axis_format(conf)
        width = (x1 - x0) / len(names)
        traces.append(
            go.Indicator(
                mode="number",
                value=None if pd.isna(value) else float(value),
                title={"text": name},
                number={
                    "valueformat": fmt["hoverformat"][1:] if "hoverformat" in fmt else fmt["tickformat"],
                    "prefix": fmt["tickprefix"],
                    "suffix": fmt["ticksuffix"],
                    "font": {
                        "color": _series_color(conf, i, pd.Series([value]))[0]
                        if conf.get("color", {}).get("mode") == "thresholds"
                        else _series_color(conf, i)
                    },
                },
                domain={"x": [x0 + i * width, x0 + (i + 1) * width], "y": domain["y"]},
            )
        )
    return traces


# --------------------------------------------------------------------------- the figure


def _title(p: GridPanel, variables: Mapping[str, Any]) -> str:
    """The panel title with its variables replaced, as Grafana shows it, plus the values of the variables its
    query uses but its title does not name: a static figure has no variable picker above it."""
    title = grafana.expand_variables(p.title, {k: str(v) for k, v in variables.items()}).replace("''", "'")
    used = [
        str(v)
        for k, v in variables.items()
        if p.sql and any(f"{pat}" in p.sql for pat in (f"${k}", f"${{{k}", f"[[{k}")) and str(v) not in title
    ]
    return " · ".join([title, *used]) if used else title


def _not_drawn_reason(p: GridPanel) -> str | None:
    if p.type not in DRAWN_TYPES:
        return f"panel {p.title!r} (type {p.type!r}): not drawn in the notebook (drawn: {', '.join(DRAWN_TYPES)})"
    if p.sql is None:
        return f"panel {p.title!r} (type {p.type!r}): no SQL query (rawSql) to run"
    return None


def _panel_note(text: str, x_dom: list, y_dom: list, font: dict) -> dict:
    """A note in the middle of a panel's plot area (a query error, "No data"), as Grafana shows them."""
    return dict(text=text, x=sum(x_dom) / 2, y=sum(y_dom) / 2, xref="paper", yref="paper", showarrow=False, font=font)


def dashboard_figure(
    frames: Mapping[str, Any],
    variables: Mapping[str, Any],
    time_from: datetime,
    time_to: datetime,
    dashboard: dict | None = None,
) -> tuple[go.Figure, list[str]]:
    """The Plotly figure of the dashboard for the panels' data; and the panels it did not draw."""
    dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
    all_panels = dashboard_panels(dashboard)
    not_drawn = [r for r in map(_not_drawn_reason, all_panels) if r]
    drawn = [p for p in all_panels if _not_drawn_reason(p) is None]
    rows = max([p.y + p.h for p in drawn], default=1)
    sheet = _Sheet(rows=rows, plot_px=rows * ROW_PX, time_from=time_from, time_to=time_to, not_drawn=not_drawn)
    margin_t, margin_b = 56, 16 + 18 * len(not_drawn)
    for n, p in enumerate(drawn, start=1):
        _draw_panel(sheet, n, p, frames.get(p.title), variables)
    for i, reason in enumerate(not_drawn):
        sheet.annotations.append(
            dict(
                text=f"Not drawn: {reason}",
                x=0,
                y=-(8 + 18 * i) / sheet.plot_px,
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="top",
                showarrow=False,
                font={"size": 12, "color": "#B8860B"},
            )
        )
    header = " · ".join(
        [
            dashboard.get("title", "dashboard"),
            *(f"{k}: {v}" for k, v in variables.items()),
            f"{time_from:%Y-%m-%d %H:%M:%S} to {time_to:%Y-%m-%d %H:%M:%S} UTC",
        ]
    )
    bar_stacked = any(_defaults(p).get("custom", {}).get("stacking", {}).get("mode", "none") != "none" for p in drawn)
    sheet.fig.update_layout(
        title={"text": header, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=sheet.plot_px + margin_t + margin_b,
        margin=dict(l=50, r=20, t=margin_t, b=margin_b),
        barmode="relative" if bar_stacked else "overlay",
        bargap=0.1,
        hovermode="x",
        annotations=sheet.annotations,
        template="plotly_white",
        **sheet.layout,
    )
    return sheet.fig, not_drawn


@dataclass
class _Sheet:
    """The figure while its panels are drawn on Grafana's grid of `rows` rows, `plot_px` pixels high."""

    rows: int
    plot_px: int
    time_from: datetime
    time_to: datetime
    not_drawn: list  # reasons; a stat panel that cannot be drawn adds its own
    fig: go.Figure = field(default_factory=go.Figure)
    layout: dict = field(default_factory=dict)  # axes and legends
    annotations: list = field(default_factory=list)
    axis_n: int = 0  # the y axes so far


@dataclass(frozen=True)
class _Place:
    """Where a panel is drawn, in the figure's paper coordinates."""

    top: float
    legend_y: float
    x_dom: list
    y_dom: list


def _place(p: GridPanel, sheet: _Sheet) -> _Place:
    top, bottom = 1 - p.y / sheet.rows, 1 - (p.y + p.h) / sheet.rows
    return _Place(
        top=top,
        legend_y=bottom + 6 / sheet.plot_px,
        x_dom=[p.x / GRID_COLUMNS + (0.045 if p.x else 0.0), (p.x + p.w) / GRID_COLUMNS - 0.012],
        y_dom=[
            min(bottom + (LEGEND_PX + XTICKS_PX + 8) / sheet.plot_px, top - 0.01),
            top - TITLE_PX / sheet.plot_px,
        ],
    )


def _draw_panel(sheet: _Sheet, n: int, p: GridPanel, frame, variables: Mapping[str, Any]) -> None:
    """The n-th drawn panel: its title, then its traces, or a note in it that says why there are none."""
    at = _place(p, sheet)
    sheet.annotations.append(
        dict(
            text=f"<b>{_title(p, variables)}</b>",
            x=at.x_dom[0],
            y=at.top,
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="top",
            showarrow=False,
            font={"size": 13},
        )
    )
    if isinstance(frame, Exception) or frame is None:
        message = str(frame) if frame is not None else "no data was queried for this panel"
        note = f"no query yet: {message}" if isinstance(frame, NoQuery) else f"query error: {message[:160]}"
        sheet.annotations.append(_panel_note(note, at.x_dom, at.y_dom, {"color": "#F2495C"}))
        return
    if p.type == "stat":
        try:
            for t in _stat(p, frame, {"x": at.x_dom, "y": at.y_dom}):
                sheet.fig.add_trace(t)
        except ValueError as exc:
            sheet.not_drawn.append(f"panel {p.title!r} (type 'stat'): {exc}")
        return
    axes = _add_axes(sheet, p, frame, at)
    legend = "legend" if n == 1 else f"legend{n}"
    sheet.layout[legend] = dict(
        x=at.x_dom[0],
        y=at.legend_y,
        xref="paper",
        yref="paper",
        xanchor="left",
        yanchor="bottom",
        orientation="h",
        bgcolor="rgba(0,0,0,0)",
    )
    show_legend = p.raw.get("options", {}).get("legend", {}).get("showLegend", True)
    try:
        traces = _candlestick(p, frame, axes) if p.type == "candlestick" else _timeseries(p, frame, axes)
    except ValueError as exc:  # a query whose columns do not fit the panel: said in the panel, as Grafana does
        sheet.annotations.append(_panel_note(str(exc)[:200], at.x_dom, at.y_dom, {"color": "#F2495C"}))
        return
    for t in traces:
        t.update(legend=legend, showlegend=show_legend)
        sheet.fig.add_trace(t)
    if frame.empty:
        sheet.annotations.append(_panel_note("No data", at.x_dom, at.y_dom, {"size": 16, "color": "#8E8E8E"}))


def _add_axes(sheet: _Sheet, p: GridPanel, frame: pd.DataFrame, at: _Place) -> dict:
    """The panel's time axis and value axis (and its volume axis) in the layout; their names for its traces."""
    sheet.axis_n += 1
    axis_n = sheet.axis_n
    x_name, y_name = ("x", "y") if axis_n == 1 else (f"x{axis_n}", f"y{axis_n}")
    axes = {"x": x_name, "y": y_name}
    conf = _defaults(p)
    sheet.layout[f"xaxis{'' if axis_n == 1 else axis_n}"] = dict(
        domain=at.x_dom,
        anchor=y_name,
        type="date",
        range=[sheet.time_from, sheet.time_to],
        rangeslider_visible=False,
        showgrid=True,
    )
    sheet.layout[f"yaxis{'' if axis_n == 1 else axis_n}"] = dict(domain=at.y_dom, anchor=x_name, **_axis_format(conf))
    if p.type == "candlestick" and p.raw.get("options", {}).get("mode", "candles+volume") == "candles+volume":
        sheet.axis_n += 1  # the volume bars: an axis of their own over the lower quarter, as Grafana draws them
        axes["y2"] = f"y{sheet.axis_n}"
        volume_column = _candle_columns(p, frame)["volume"]  # the column the bars are drawn from
        volume = pd.to_numeric(frame[volume_column] if volume_column else pd.Series(dtype=float), errors="coerce")
        top_volume = float(volume.max()) if volume.notna().any() else 1.0
        sheet.layout[f"yaxis{sheet.axis_n}"] = dict(
            overlaying=y_name,
            anchor=x_name,
            side="right",
            showgrid=False,
            visible=False,
            range=[0, top_volume * 4 or 1],
        )
    return axes


def render(
    engine,
    pair: str | None = None,
    time_from: Any = None,
    time_to: Any = None,
    *,
    variables: Mapping[str, Any] | None = None,
    dashboard: dict | None = None,
    now: datetime | None = None,
) -> Rendered:
    """The dashboard for a currency pair and a time range, as Grafana would show it.

    `time_from`/`time_to` default to the dashboard's time range (`now-30m` to `now`) and take Grafana's
    relative forms (`now-6h`, `now-1d/d`) or absolute times. `pair` (the `currency_pair` variable) defaults
    to the variable's first option, as Grafana picks it when none is current.
    """
    dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
    default = dashboard.get("time", {})
    time_from = time_from if time_from is not None else default.get("from", "now-30m")
    time_to = time_to if time_to is not None else default.get("to", "now")
    now = now if now is not None else timerange.utcnow()
    t_from, t_to = timerange.time_range(time_from, time_to, now)
    values = dict(variables or {})
    if pair is not None:
        values[grafana.PAIR_VARIABLE] = pair
    for spec in _variables(dashboard):
        name = spec.get("name")
        if name not in values:
            options = variable_options(engine, name, t_from, t_to, dashboard)
            values[name] = options[0] if options else ""
    frames = query_panels(engine, values, t_from, t_to, dashboard)
    fig, not_drawn = dashboard_figure(frames, values, t_from, t_to, dashboard)
    return Rendered(figure=fig, frames=frames, not_drawn=not_drawn, variables=values, time_from=t_from, time_to=t_to)

"""The dashboard in JupyterLab: Grafana's pair picker and time range as ipywidgets, and a live view.

`interactive(engine)` shows a `currency_pair` dropdown (the variable's own
query), a time range (From/To text boxes that take Grafana's forms, and a list
of Grafana's quick ranges) and the figure of `charts.render`, redrawn in place
in an Output widget when any of them changes.

`live(engine)` redraws the dashboard at the dashboard's `refresh` interval
(10 s) from a background thread, so the kernel stays free for other cells; a
Stop button ends it, and it stops by itself after `limit` (default 30 min).
The figure is a new static Plotly figure each time (no FigureWidget, so no
anywidget dependency). Under nbval use `charts.render(...)` with plain
arguments instead: a widget's output is not a deterministic cell output.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import ipywidgets as W
import plotly.io as pio
from IPython.display import display

from . import charts, grafana, timerange

__all__ = ["QUICK_RANGES", "interactive", "live", "Dashboard", "LiveView", "refresh_seconds"]

# Grafana's quick ranges (the time picker's list), the common ones.
QUICK_RANGES = [
    ("Last 5 minutes", "now-5m", "now"),
    ("Last 15 minutes", "now-15m", "now"),
    ("Last 30 minutes", "now-30m", "now"),
    ("Last 1 hour", "now-1h", "now"),
    ("Last 6 hours", "now-6h", "now"),
    ("Last 24 hours", "now-24h", "now"),
    ("Today so far", "now/d", "now"),
    ("Yesterday", "now-1d/d", "now-1d/d"),
]


def refresh_seconds(dashboard: dict | None = None, default: str = "10s") -> float:
    """The dashboard's auto-refresh interval (`refresh`: '10s', '1m') in seconds."""
    dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
    return grafana.parse_interval(dashboard.get("refresh") or default)


def _figure_output(rendered: charts.Rendered) -> dict:
    """The figure as one Output-widget output (a display_data with Plotly's mime bundle)."""
    bundle = {
        "application/vnd.plotly.v1+json": json.loads(pio.to_json(rendered.figure, validate=False)),
        "text/plain": f"<dashboard {rendered.variables} {rendered.time_from} to {rendered.time_to}>",
    }
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


class Dashboard:
    """The interactive dashboard: pair dropdown, time range, figure redrawn in place."""

    def __init__(
        self, engine, pair: str | None = None, time_from: Any = None, time_to: Any = None, dashboard: dict | None = None
    ):
        self.engine = engine
        self.dashboard = dashboard if dashboard is not None else grafana.load_dashboard()
        default = self.dashboard.get("time", {})
        self.time_from = W.Text(
            value=str(time_from or default.get("from", "now-30m")),
            description="From",
            continuous_update=False,
            layout=W.Layout(width="260px"),
        )
        self.time_to = W.Text(
            value=str(time_to or default.get("to", "now")),
            description="To",
            continuous_update=False,
            layout=W.Layout(width="260px"),
        )
        self.quick = W.Dropdown(
            options=[("Quick ranges", None)] + [(n, (f, t)) for n, f, t in QUICK_RANGES],
            value=None,
            layout=W.Layout(width="170px"),
        )
        spec = next(
            (v for v in self.dashboard.get("templating", {}).get("list", []) if v.get("name") == grafana.PAIR_VARIABLE),
            {},
        )
        options = charts.variable_options(
            engine, grafana.PAIR_VARIABLE, self.time_from.value, self.time_to.value, self.dashboard
        )
        if pair is not None and pair not in options:
            options = [pair, *options]
        self.pair = W.Dropdown(
            options=options,
            value=pair if pair is not None else (options[0] if options else None),
            description=spec.get("label", grafana.PAIR_VARIABLE),
            style={"description_width": "initial"},
            layout=W.Layout(width="340px"),
        )
        self.pair.add_class("workbook-pair-picker")
        self.message = W.HTML()
        self.message.add_class("workbook-dashboard-message")
        self.output = W.Output()
        self.rendered: charts.Rendered | None = None
        self.widget = W.VBox([W.HBox([self.pair, self.time_from, self.time_to, self.quick]), self.output, self.message])
        self.widget.add_class("workbook-dashboard")
        for w in (self.pair, self.time_from, self.time_to):
            w.observe(lambda _change: self.redraw(), names="value")
        self.quick.observe(self._on_quick, names="value")
        self._lock = threading.Lock()

    def _on_quick(self, change) -> None:
        if change["new"] is None:
            return
        f, t = change["new"]
        with self.widget.hold_trait_notifications():
            self.time_from.value, self.time_to.value = f, t
        self.quick.value = None
        self.redraw()

    def redraw(self, now: datetime | None = None) -> charts.Rendered | None:
        """Query every panel again and replace the figure (safe from a background thread)."""
        with self._lock:
            try:
                rendered = charts.render(
                    self.engine,
                    self.pair.value,
                    self.time_from.value,
                    self.time_to.value,
                    dashboard=self.dashboard,
                    now=now,
                )
            except timerange.TimeRangeError as exc:
                self.message.value = f"<span style='color:#F2495C'>{exc}</span>"
                return None
            self.rendered = rendered
            # Replacing the outputs tuple is one widget-state message: no `with output:` capture, which
            # only works on the kernel's main thread.
            self.output.outputs = (_figure_output(rendered),)
            notes = [f"Not drawn: {r}" for r in rendered.not_drawn]
            self.message.value = "<br>".join(notes)
            return rendered

    def _ipython_display_(self) -> None:
        if self.rendered is None:
            self.redraw()
        display(self.widget)


def interactive(
    engine, pair: str | None = None, time_from: Any = None, time_to: Any = None, dashboard: dict | None = None
) -> Dashboard:
    """The dashboard with its pair picker and time range; display it (last expression of a cell)."""
    d = Dashboard(engine, pair, time_from, time_to, dashboard)
    d.redraw()
    return d


class LiveView:
    """A dashboard redrawn every `interval` seconds by a background thread until Stop or `limit`."""

    def __init__(
        self,
        engine,
        pair: str | None = None,
        time_from: Any = None,
        time_to: Any = None,
        dashboard: dict | None = None,
        interval: float | None = None,
        limit: float = 30 * 60,
    ):
        self.dashboard = Dashboard(engine, pair, time_from, time_to, dashboard)
        self.interval = interval if interval is not None else refresh_seconds(self.dashboard.dashboard)
        self.limit = limit
        self.refreshes = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop")
        self.stop_button.on_click(lambda _b: self.stop())
        self.status = W.HTML("live: starting")
        self.status.add_class("workbook-live-status")
        self.widget = W.VBox([W.HBox([self.stop_button, self.status]), self.dashboard.widget])
        self.widget.add_class("workbook-live")
        self._thread = threading.Thread(target=self._run, name="workbook-live-dashboard", daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> LiveView:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop refreshing (the last figure stays)."""
        self._stop.set()

    def _run(self) -> None:
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                self.dashboard.redraw()
                self.refreshes += 1
                elapsed = time.monotonic() - started
                self.status.value = (
                    f"live: refresh {self.refreshes} at {timerange.utcnow():%H:%M:%S} UTC, "
                    f"every {self.interval:g} s; stops by itself in "
                    f"{max(0, self.limit - elapsed) / 60:.0f} min"
                )
                if elapsed + self.interval > self.limit:
                    break
                self._stop.wait(self.interval)
        except Exception as exc:  # noqa: BLE001 - a thread's exception would vanish: show it where the student looks
            self.error = f"{type(exc).__name__}: {exc}"
            self.status.value = f"<span style='color:#F2495C'>live view stopped by an error: {self.error}</span>"
            return
        self.stop_button.disabled = True
        reason = "stopped" if self._stop.is_set() else f"stopped after its limit of {timedelta(seconds=self.limit)}"
        self.status.value = f"live: {reason}, {self.refreshes} refreshes (run the cell again to restart)"

    def _ipython_display_(self) -> None:
        display(self.widget)


def live(
    engine,
    pair: str | None = None,
    time_from: Any = None,
    time_to: Any = None,
    dashboard: dict | None = None,
    interval: float | None = None,
    limit: float = 30 * 60,
) -> LiveView:
    """Start a live dashboard (refreshing in the background) and return it; display it, `.stop()` it."""
    return LiveView(engine, pair, time_from, time_to, dashboard, interval, limit).start()

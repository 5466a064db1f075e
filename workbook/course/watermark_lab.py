"""The watermark lab's figures and widget: the timeline of a simulated stream (event time against
arrival order, the watermark, late trades and the moment each window closes) and a slider for the
delay; and `flink_windows`, the same trades through Flink's own TUMBLE, for the lab's experiment.
The simulation itself is watermark_sim.py."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from . import feedback
from .watermark_sim import DELAY_MS, Simulation, simulate

LATE_COLOUR = "#d62728"
BEHIND_COLOUR = "#e377c2"
PARTITION_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b")


def _time(ms):
    return pd.to_datetime(pd.Series(ms, dtype="float64"), unit="ms")


def timeline_figure(sim: Simulation, title: str | None = None, height: int = 460):
    """Event time (y) against arrival order (x): the trades (coloured by partition when there
    are several), the late ones marked, the source's watermark (and each partition's, dotted),
    and the moment each window closes (the watermark reaches its end)."""
    fig = go.Figure()
    _add_trades(fig, sim)
    _add_watermarks(fig, sim)
    _add_closings(fig, sim)
    fig.update_layout(
        title=title
        or f"Watermark with a delay of {sim.delay_ms / 1000:g} s: "
        f"{sim.late_count} of {len(sim.records)} trades late ({100 * sim.late_fraction:.1f} %)",
        xaxis_title="arrival order (record read by Flink)",
        yaxis_title="event time (ts)",
        height=height,
        margin=dict(l=60, r=20, t=60, b=50),
        legend=dict(orientation="h", y=-0.18),
        template="plotly_white",
    )
    return fig


def _add_trades(fig, sim: Simulation) -> None:
    """The trades ahead of the watermark, one trace per partition when there are several; those behind it
    whose window was still open (counted); the late ones (their window had fired: dropped)."""
    r = sim.records
    several = len(sim.partitions) > 1
    for k, p in enumerate(sim.partitions):
        ok = r[(r["partition"] == p) & ~r["behind"]]
        fig.add_trace(
            go.Scatter(
                x=ok["arrival"],
                y=_time(ok["timestamp"]),
                mode="markers",
                name=f"partition {p}: on time" if several else "on-time trade",
                marker=dict(size=5, color=PARTITION_COLOURS[k % len(PARTITION_COLOURS)], opacity=0.75),
                customdata=ok[["pair"]],
                hovertemplate="arrival %{x}<br>%{y|%H:%M:%S.%L}<br>%{customdata[0]}",
            )
        )
    behind, late = r[r["behind"] & ~r["late"]], r[r["late"]]
    _marked(
        fig,
        behind,
        f"behind the watermark, window open: counted ({len(behind)})",
        dict(size=8, color=BEHIND_COLOUR, symbol="circle-open", line=dict(width=2)),
        "behind the watermark, counted: arrival %{x}<br>%{y|%H:%M:%S.%L}<br>%{customdata[0]}",
    )
    _marked(
        fig,
        late,
        f"late trade, its window had fired: dropped ({len(late)})",
        dict(size=10, color=LATE_COLOUR, symbol="x", line=dict(width=1)),
        "LATE, dropped: arrival %{x}<br>%{y|%H:%M:%S.%L}<br>%{customdata[0]}, partition %{customdata[1]}",
    )


def _marked(fig, trades, name: str, marker: dict, hover: str) -> None:
    """One trace of marked trades (behind the watermark, or late): arrival against event time."""
    fig.add_trace(
        go.Scatter(
            x=trades["arrival"],
            y=_time(trades["timestamp"]),
            mode="markers",
            name=name,
            marker=marker,
            customdata=trades[["pair", "partition"]],
            hovertemplate=hover,
        )
    )


def _add_watermarks(fig, sim: Simulation) -> None:
    """The source's watermark, and each partition's (dotted) when there are several."""
    r = sim.records
    several = len(sim.partitions) > 1
    if several:
        for k, p in enumerate(sim.partitions):
            fig.add_trace(
                go.Scatter(
                    x=r["arrival"],
                    y=_time(sim.partition_watermarks[p]),
                    mode="lines",
                    line_shape="hv",
                    name=f"partition {p} watermark",
                    connectgaps=False,
                    line=dict(dash="dot", width=1.5, color=PARTITION_COLOURS[k % len(PARTITION_COLOURS)]),
                )
            )
    fig.add_trace(
        go.Scatter(
            x=r["arrival"],
            y=_time(r["watermark_after"]),
            mode="lines",
            line_shape="hv",
            name="watermark (min over partitions)" if several else "watermark",
            line=dict(color="black", width=2),
        )
    )


def _add_closings(fig, sim: Simulation) -> None:
    """Where each window closes: a diamond at its end, after the record that moved the watermark there."""
    closed = sim.windows.dropna(subset=["closed_after"])
    fig.add_trace(
        go.Scatter(
            x=closed["closed_after"].astype(float) + 0.5,
            y=_time(closed["window_end"]),
            mode="markers+text",
            name="window closes",
            marker=dict(symbol="diamond", size=11, color="orange", line=dict(width=1)),
            text=[
                f"{pd.Timestamp(s, unit='ms'):%H:%M} ({b})"
                if b != "watermark"
                else f"{pd.Timestamp(s, unit='ms'):%H:%M}"
                for s, b in zip(closed["window_start"], closed["closed_by"], strict=True)
            ],
            textposition="top left",
            textfont=dict(size=10),
        )
    )
    for x in closed["closed_after"].astype(float) + 0.5:
        fig.add_vline(x=x, line=dict(color="orange", width=1, dash="dash"))


def timeline(trades, delay_s: float = DELAY_MS / 1000, **kwargs):
    """`timeline_figure` of `simulate(trades, delay)`, the delay in seconds (the slider's unit)."""
    opts = {k: kwargs.pop(k) for k in ("partitions", "idle_timeout_s", "bounded") if k in kwargs}
    return timeline_figure(simulate(trades, int(round(delay_s * 1000)), **opts), **kwargs)


def delay_slider(trades, value: float = DELAY_MS / 1000, max_s: float = 15, step: float = 0.5, **kwargs):
    """The timeline with the delay on a slider (ipywidgets; in JupyterLab). WORKBOOK_STATIC_WIDGETS=1 (the
    stored notebooks' run, scripts/student_run.py): the timeline alone, as a stored notebook shows it."""
    import os

    from IPython.display import display

    if os.environ.get("WORKBOOK_STATIC_WIDGETS") == "1":
        print(f"(a slider of the delay, 0 to {max_s:g} s, stands here in JupyterLab; run the cell)")
        timeline(trades, value, **kwargs).show()
        return None
    import ipywidgets as widgets  # deferred on purpose: only the notebook's slider needs them

    slider = widgets.FloatSlider(
        value=value,
        min=0,
        max=max_s,
        step=step,
        description="delay (s)",
        continuous_update=False,
        layout=widgets.Layout(width="60%"),
    )
    out = widgets.Output()

    def draw(change=None):
        fig = timeline(trades, slider.value, **kwargs)
        if change is not None:  # a redraw; not on the first draw, which the notebook's tests run unattended
            out.clear_output(wait=True)
        with out:
            fig.show()

    slider.observe(draw, names="value")
    draw()
    box = widgets.VBox([slider, out])
    display(box)
    return box


# --- the experiment: the same trades through Flink --------------------------------------------------

FLINK_WINDOWS_SQL = """SELECT window_start, window_end, COUNT(*) AS trades,
  LISTAGG(CAST(CAST(price AS INT) AS STRING), ' ') AS prices
FROM TABLE(TUMBLE(TABLE checked_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
WHERE problem IS NULL
GROUP BY window_start, window_end"""


def flink_windows(trades, name: str = "lab") -> pd.DataFrame:
    """What Flink's own 1-minute TUMBLE counts of `trades` (one partition, in arrival order, the
    5-second watermark of sql/10_trades.sql), per window: the number of trades and their prices (give each
    trade its own price to see which ones). Over every good trade, late ones included: Flink itself drops a
    trade whose window has fired. Runs in the kernel's Flink session, the one of the SQL cells."""
    session = feedback.session()
    if not session.running:
        print("starting Flink in this kernel (a JVM and a MiniCluster: about 20 s the first time)...", flush=True)
    records = [{k: v for k, v in t.items() if k not in ("partition", "at", "pair")} for t in trades]
    for record, trade in zip(records, trades, strict=True):
        if "base" not in record:
            record["base"], record["quote"] = trade.get("pair", "bitcoin / tether").split(" / ")
        record.setdefault("direction", "buy")
        record.setdefault("volume", 1.0)
    session.datasets[name] = lambda: records
    return session.run_cell(FLINK_WINDOWS_SQL, data=name, protected=True).frame  # the workbook's checked_trades

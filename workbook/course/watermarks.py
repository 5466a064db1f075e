"""The watermark lab: Flink's event-time rules, simulated record by record.

What Flink does with the source of sql/10_trades.sql (Flink 2.0, Kafka source,
`scan.watermark.emit.strategy = on-event`), and what `simulate` reproduces:

- Each Kafka partition (a *split* of the source) has its own watermark: the newest
  event time read from THAT partition minus the delay (`ts - INTERVAL '5' SECOND`).
  All pairs in a partition share it: it is not per pair.
- The source's watermark is the MINIMUM over its partitions, leaving out the idle ones;
  it never goes back. A partition that has not sent a record yet holds it at "none"
  (CURRENT_WATERMARK(ts) is NULL), so nothing is late until every partition has spoken.
- A partition is idle after `scan.watermark.idle-timeout` (5 s) of PROCESSING time
  (wall clock) without records. Its first record afterwards is checked against the
  watermark the other partitions moved on, then the partition counts again.
  A bounded run reads a topic in well under 5 s, so idleness hardly ever happens
  there; but a partition whose records have all been read stops counting too
  (its split is finished), which this simulation does not model: end every
  partition with a trade far ahead to make bounded runs and `simulate` agree.
- Flink emits each record BEFORE the watermark moves on it, so a record is checked
  against the watermark of the records before it. The processor's rule
  (sql/20_checked_trades.sql): a trade is late when `ts <= CURRENT_WATERMARK(ts)`;
  late trades go to `late_trades`, the others to the windows.
- A 1-minute window [start, end) fires when the watermark reaches end - 1 ms (its
  last millisecond); every later trade of it is then at or behind the watermark,
  so late. At the end of a bounded run every open window fires.

A parallel job (parallelism > 1) has one reader per subtask: each subtask's watermark
is the minimum over its own partitions, and a window operator takes the minimum over
its input subtasks. The processor runs with parallelism 1: one reader, all partitions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..paths import NOTEBOOKS_DIR
from . import hints
from .checks import CheckResult

DELAY_MS = 5_000  # WATERMARK FOR ts AS ts - INTERVAL '5' SECOND (sql/10_trades.sql)
IDLE_TIMEOUT_S = 5.0  # 'scan.watermark.idle-timeout' = '5 s'
WINDOW_MS = 60_000  # TUMBLE(..., INTERVAL '1' MINUTE) (sql/40_candlesticks.sql)
MAX_LATE_FRACTION = 0.01  # the exercise: at most 1 % of the trades late
LAB_NOTEBOOK = NOTEBOOKS_DIR / "04_watermark_lab.ipynb"
EXPECTED_PATH = Path(__file__).resolve().parent / "expected" / "watermark_delay.json"
EXERCISE = "watermark_delay"
TITLE = "watermark delay"  # how the check's verdict names the exercise


# --- the simulation -------------------------------------------------------------------------------


@dataclass
class Simulation:
    """The result of `simulate`: one row per record (arrival order) and one per window."""

    delay_ms: int
    partitions: list
    records: pd.DataFrame  # arrival, partition, pair, timestamp, at, watermark, watermark_after, late, window_start
    windows: pd.DataFrame  # window_start, window_end, trades, on_time, late, closed_after, closed_by
    partition_watermarks: pd.DataFrame = field(repr=False)  # one column per partition (None while idle)

    @property
    def late_count(self) -> int:
        return int(self.records["late"].sum())

    @property
    def late_fraction(self) -> float:
        return self.late_count / len(self.records) if len(self.records) else 0.0

    def late_by_window_and_pair(self) -> pd.DataFrame:
        """What the processor writes to late_trades: late trades per window and pair."""
        return _count_by_window_and_pair(self.records[self.records["late"]])

    def on_time_by_window_and_pair(self) -> pd.DataFrame:
        """What the processor counts in candlesticks.num_trades: on-time trades per window and pair."""
        return _count_by_window_and_pair(self.records[~self.records["late"]])

    def summary(self) -> str:
        closed = self.windows.dropna(subset=["closed_after"])
        return (
            f"delay {self.delay_ms / 1000:g} s: {self.late_count} of {len(self.records)} trades late "
            f"({100 * self.late_fraction:.1f} %), {len(closed)} of {len(self.windows)} windows closed"
        )


def _count_by_window_and_pair(records: pd.DataFrame) -> pd.DataFrame:
    """num_trades per window_start and pair, in that order."""
    return (
        records.groupby(["window_start", "pair"])
        .size()
        .rename("num_trades")
        .reset_index()
        .sort_values(["window_start", "pair"])
        .reset_index(drop=True)
    )


def _pair(trade: dict) -> str:
    if "pair" in trade:
        return str(trade["pair"])
    if "base" in trade and "quote" in trade:
        return f"{trade['base']} / {trade['quote']}"
    return ""


def simulate(
    trades,
    delay_ms: int = DELAY_MS,
    *,
    partitions=None,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    window_ms: int = WINDOW_MS,
    bounded: bool = True,
) -> Simulation:
    """Flink's event-time processing of `trades`, in arrival order.

    trades: dicts with `timestamp` (event time, epoch ms), optionally `partition` (default 0),
        `at` (processing time of arrival in seconds, from the start of reading; needed only for
        idleness), `pair` or `base`/`quote`.
    partitions: every partition of the topic (a count or the numbers), including partitions
        without records (they hold the watermark back until they go idle); default: those seen.
    bounded: the input ends after the last trade (a bounded run): every open window fires then.
    """
    if delay_ms < 0:
        raise ValueError(f"delay_ms must be >= 0, not {delay_ms}")
    rows = []
    for i, t in enumerate(trades):
        ts = t["timestamp"]
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise ValueError(f"trade {i}: timestamp must be epoch milliseconds (int), not {ts!r}")
        rows.append((ts, int(t.get("partition", 0)), t.get("at"), _pair(t)))
    if isinstance(partitions, int):
        parts = list(range(partitions))
    else:
        parts = list(partitions or [])
    parts = sorted(set(parts) | {r[1] for r in rows})
    newest = {p: None for p in parts}  # max event time read per partition
    last_at = {p: 0.0 for p in parts}  # processing time of its last record (0: reading started)
    idle = {p: False for p in parts}
    wm = None  # the source's watermark: None until every active partition has one; never goes back

    def combined(current):
        active = [p for p in parts if not idle[p]]
        if not active:  # all idle: the source is idle, its watermark stays
            return current
        if any(newest[p] is None for p in active):
            return current
        low = min(newest[p] - delay_ms for p in active)
        return low if current is None or low > current else current

    out, per_partition = [], []
    for i, (ts, p, at, pair) in enumerate(rows):
        if at is not None:
            for q in parts:
                idle[q] = at - last_at[q] >= idle_timeout_s
        wm = combined(wm)
        in_force = wm
        late = in_force is not None and ts <= in_force
        newest[p] = ts if newest[p] is None else max(newest[p], ts)
        if at is not None:
            last_at[p] = at
        idle[p] = False
        wm = combined(wm)
        out.append(
            {
                "arrival": i,
                "partition": p,
                "pair": pair,
                "timestamp": ts,
                "at": at,
                "watermark": in_force,
                "watermark_after": wm,
                "late": late,
                "window_start": ts // window_ms * window_ms,
            }
        )
        per_partition.append({q: (None if idle[q] or newest[q] is None else newest[q] - delay_ms) for q in parts})
    records = pd.DataFrame(
        out,
        columns=[
            "arrival",
            "partition",
            "pair",
            "timestamp",
            "at",
            "watermark",
            "watermark_after",
            "late",
            "window_start",
        ],
    )
    records["late"] = records["late"].astype(bool)
    windows = _windows(records, window_ms, bounded)
    return Simulation(delay_ms, parts, records, windows, pd.DataFrame(per_partition, columns=parts))


def _windows(records: pd.DataFrame, window_ms: int, bounded: bool) -> pd.DataFrame:
    n = len(records)
    before = [(-math.inf if v is None or pd.isna(v) else v) for v in records["watermark"]]
    after = [(-math.inf if v is None or pd.isna(v) else v) for v in records["watermark_after"]]
    out = []
    for start, group in records.groupby("window_start", sort=True):
        end = int(start) + window_ms
        closed_after, closed_by = None, None
        for i in range(n):  # fires when the watermark reaches end - 1
            if before[i] >= end - 1:
                closed_after, closed_by = i - 1, "idle partition"  # moved before record i arrived
                break
            if after[i] >= end - 1:
                closed_after, closed_by = i, "watermark"
                break
        if closed_after is None and bounded and n:
            closed_after, closed_by = n - 1, "end of input"
        late = int(group["late"].sum())
        out.append(
            {
                "window_start": int(start),
                "window_end": end,
                "trades": len(group),
                "on_time": len(group) - late,
                "late": late,
                "closed_after": closed_after,
                "closed_by": closed_by,
            }
        )
    return pd.DataFrame(
        out, columns=["window_start", "window_end", "trades", "on_time", "late", "closed_after", "closed_by"]
    )


def per_pair_late(trades, delay_ms: int) -> int:
    """How many trades a (wrong) per-pair watermark would call late: what the cluster notebook (09) used to suggest."""
    newest, late = {}, 0
    for t in trades:
        key = (t.get("partition", 0), _pair(t))
        if key in newest and t["timestamp"] <= newest[key] - delay_ms:
            late += 1
        newest[key] = max(newest.get(key, t["timestamp"]), t["timestamp"])
    return late


# --- the lab's streams ----------------------------------------------------------------------------

LAB_START_MS = 1_735_776_000_000  # 2025-01-02 00:00:00 UTC (away from the sample's windows)
LAB_PAIRS = ("bitcoin / tether", "ethereum / tether", "xrp / euro")


def _trade(pair: str, ts: int, partition: int = 0, at: float | None = None, price: float = 100.0) -> dict:
    base, quote = pair.split(" / ")
    t = {
        "exchange": "lab",
        "base": base,
        "quote": quote,
        "direction": "buy",
        "price": price,
        "volume": 1.0,
        "timestamp": ts,
        "priceUsd": price,
        "partition": partition,
    }
    if at is not None:
        t["at"] = at
    return t


def lab_stream(seed: int = 2025, minutes: int = 6, per_second: float = 3.0) -> list[dict]:
    """The exercise's disordered stream: one Kafka partition, three pairs, in arrival order.

    Each trade reaches Flink after a network delay: mostly a few hundred milliseconds, now and
    then seconds; `xrp / euro` comes from a slower exchange feed (5 s behind), so it is in
    order within its pair but behind the others in the partition."""
    import random

    rng = random.Random(seed)
    trades = []
    t = LAB_START_MS
    end = LAB_START_MS + minutes * 60_000
    while True:
        t += int(rng.expovariate(per_second / 1000)) + 1
        if t >= end:
            break
        pair = rng.choice(LAB_PAIRS)
        lag = rng.expovariate(1 / 300)
        if rng.random() < 0.02:
            lag += rng.uniform(1_000, 4_000)  # a slow network path now and then
        if pair == "xrp / euro":
            lag += 5_000
        trades.append((t + lag, _trade(pair, t, price=round(rng.uniform(90, 110), 2))))
    trades.sort(key=lambda x: x[0])
    return [trade for _, trade in trades]


def two_partition_stream(seed: int = 7, minutes: int = 3) -> list[dict]:
    """Two partitions read by one reader, interleaved as they happen: partition 1 (`xrp / euro`)
    is 20 s behind partition 0 (`bitcoin / tether`). Each partition has a few trades 8-10 s
    behind its own newest one: late by its partition's own watermark, but only partition 1's
    are late by the source's watermark (the minimum: partition 1 holds it back)."""
    import random

    rng = random.Random(seed)
    out = []
    for k in range(minutes * 30):  # a trade every 2 s in each partition
        ts = LAB_START_MS + 2_000 * k
        out.append(
            _trade(
                "bitcoin / tether",
                ts - 10_000 if k % 7 == 6 else ts + rng.randrange(-900, 0),
                0,
                price=round(rng.uniform(90, 110), 2),
            )
        )
        if k >= 10:
            slow = ts - 20_000
            out.append(
                _trade(
                    "xrp / euro",
                    slow - 10_000 if k % 9 == 8 else slow + rng.randrange(-900, 0),
                    1,
                    price=round(rng.uniform(0.5, 0.7), 4),
                )
            )
    return out


def idle_partition_stream(minutes: int = 3) -> list[dict]:
    """Two partitions, with arrival times: partition 1 falls silent for 20 s (a quiet market),
    is marked idle after 5 s, and comes back with a trade that partition 0's watermark passed."""
    out, at = [], 0.0
    for k in range(minutes * 30):
        ts = LAB_START_MS + 2_000 * k
        at = k * 0.5  # read as it happens, sped up 4x: 0.5 s of processing time per 2 s of market
        out.append(_trade("bitcoin / tether", ts, 0, at=at))
        quiet = 40 <= k < 80  # partition 1 sends nothing for 40 rounds (20 s of processing time)
        if k % 2 == 0 and not quiet:
            out.append(_trade("xrp / euro", ts - 1_000, 1, at=at + 0.1))
        if k == 80:  # back, with a trade from the quiet time
            out.append(_trade("xrp / euro", LAB_START_MS + 2_000 * 70, 1, at=at + 0.2))
    return out


# --- the timeline figure --------------------------------------------------------------------------

LATE_COLOUR = "#d62728"
PARTITION_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b")


def _time(ms):
    return pd.to_datetime(pd.Series(ms, dtype="float64"), unit="ms")


def timeline_figure(sim: Simulation, title: str | None = None, height: int = 460):
    """Event time (y) against arrival order (x): the trades (coloured by partition when there
    are several), the late ones marked, the source's watermark (and each partition's, dotted),
    and the moment each window closes (the watermark reaches its end)."""
    import plotly.graph_objects as go

    r = sim.records
    fig = go.Figure()
    several = len(sim.partitions) > 1
    for k, p in enumerate(sim.partitions):
        ok = r[(r["partition"] == p) & ~r["late"]]
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
    late = r[r["late"]]
    fig.add_trace(
        go.Scatter(
            x=late["arrival"],
            y=_time(late["timestamp"]),
            mode="markers",
            name=f"late trade ({len(late)})",
            marker=dict(size=10, color=LATE_COLOUR, symbol="x", line=dict(width=1)),
            customdata=late[["pair", "partition"]],
            hovertemplate="LATE: arrival %{x}<br>%{y|%H:%M:%S.%L}<br>%{customdata[0]}, partition %{customdata[1]}",
        )
    )
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
    fig.update_layout(
        title=title
        or f"Watermark with a delay of {sim.delay_ms / 1000:g} s: "
        f"{sim.late_count} of {len(r)} trades late ({100 * sim.late_fraction:.1f} %)",
        xaxis_title="arrival order (record read by Flink)",
        yaxis_title="event time (ts)",
        height=height,
        margin=dict(l=60, r=20, t=60, b=50),
        legend=dict(orientation="h", y=-0.18),
        template="plotly_white",
    )
    return fig


def timeline(trades, delay_s: float = DELAY_MS / 1000, **kwargs):
    """`timeline_figure` of `simulate(trades, delay)`, the delay in seconds (the slider's unit)."""
    opts = {k: kwargs.pop(k) for k in ("partitions", "idle_timeout_s", "bounded") if k in kwargs}
    return timeline_figure(simulate(trades, int(round(delay_s * 1000)), **opts), **kwargs)


def delay_slider(trades, value: float = DELAY_MS / 1000, max_s: float = 15, step: float = 0.5, **kwargs):
    """The timeline with the delay on a slider (ipywidgets; in JupyterLab)."""
    import ipywidgets as widgets
    from IPython.display import display

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


# --- the exercise: the smallest delay with at most 1 % late ---------------------------------------

# the levels of hints/watermark_delay.md (the same texts as hint("watermark_delay") elsewhere)
HINTS = {EXERCISE: hints.levels(EXERCISE)}


def hint(name: str = EXERCISE, level: int | None = None) -> str:
    """The hint of `level` (1..3) for an exercise; without a level, all of them, numbered."""
    try:
        levels = HINTS[name]
    except KeyError:
        raise KeyError(f"no hints for {name!r} here (have: {', '.join(HINTS)})") from None
    if level is None:
        return "\n\n".join(f"Hint {i}: {text}" for i, text in enumerate(levels, 1))
    if not 1 <= level <= len(levels):
        raise ValueError(f"hint levels of {name!r} are 1..{len(levels)}, not {level}")
    return f"Hint {level}: {levels[level - 1]}"


def load_expected() -> dict:
    """The stored answer of the exercise (generated by workbook.course.references.watermarks)."""
    return json.loads(EXPECTED_PATH.read_text())


def fingerprint(trades) -> str:
    """A short digest of a stream's arrival order (the expected answer belongs to one stream)."""
    import hashlib

    text = ";".join(f"{t['timestamp']}:{t.get('partition', 0)}:{_pair(t)}" for t in trades)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def late_share(trades, delay_s: float) -> tuple:
    sim = simulate(trades, int(round(delay_s * 1000)))
    return sim.late_count, len(sim.records)


def check_watermark_delay(answer, trades=None) -> CheckResult:
    """Is `answer` (whole seconds) the smallest delay that makes at most 1 % of `lab_stream()` late?"""
    expected = load_expected()
    trades = trades if trades is not None else lab_stream()
    if fingerprint(trades) != expected["fingerprint"]:
        raise ValueError(
            "the lab stream changed since workbook/course/expected/watermark_delay.json was made: "
            "regenerate it with `python -m workbook.course.references.watermarks`"
        )
    best, per_pair, limit = expected["delay_s"], expected["per_pair_delay_s"], expected["max_late_fraction"]
    n = expected["trades"]

    def fail(problem, got=None, want=None):  # an example: the answer got, and what was expected of it
        example = ({"delay": got}, {"delay": want}) if got is not None else (None, None)
        return CheckResult(EXERCISE, False, f"{TITLE}: not yet.", [problem], *example, hint=EXERCISE, hint_level=1)

    if answer is None or answer is Ellipsis or isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return fail(
            f"your answer is {answer!r}, not a number: write the delay in seconds, e.g. WATERMARK_DELAY_S = 3.",
            repr(answer),
            "a whole number of seconds",
        )
    if math.isnan(answer) or math.isinf(answer):
        return fail(f"your answer is {answer}: write a finite number of seconds.")
    if answer < 0:
        return fail(
            f"{answer} s is negative: the delay is how far the watermark trails the newest trade, 0 or more seconds.",
            answer,
            ">= 0",
        )
    if answer >= 1000 and answer / 1000 >= best and late_share(trades, answer / 1000)[0] <= limit * n:
        return fail(
            f"{answer:g} looks like milliseconds: the answer is in SECONDS "
            f"(INTERVAL 'N' SECOND); {answer:g} s would wait over {answer / 60:.0f} minutes.",
            f"{answer:g} s",
            "seconds, not milliseconds",
        )
    if answer != int(answer):
        return fail(
            f"{answer} is not a whole number of seconds: give N as in INTERVAL 'N' SECOND.",
            answer,
            "a whole number",
        )
    answer = int(answer)
    late, total = late_share(trades, answer)
    if late > limit * total:
        problem = (
            f"with {answer} s, {late} of {total} trades are late ({100 * late / total:.1f} %): "
            f"more than {100 * limit:g} %."
        )
        if answer == per_pair:
            problem += (
                " This delay is enough if every pair had its own watermark; but the watermark is per "
                "PARTITION: a trade is late when it is behind the newest trade of ANY pair in its "
                "partition by the delay or more."
            )
        return fail(
            problem,
            f"{answer} s: {100 * late / total:.1f} % late",
            f"at most {100 * limit:g} % late",
        )
    if answer > best:
        smaller, _ = late_share(trades, answer - 1)
        return fail(
            f"{answer} s works ({late} of {total} late, {100 * late / total:.1f} %) but it is not the "
            f"smallest: {answer - 1} s also keeps the late trades at or under {100 * limit:g} % "
            f"({smaller} late). A bigger delay costs latency: every window waits that much longer.",
            f"{answer} s",
            f"less than {answer} s",
        )
    return CheckResult(
        EXERCISE,
        True,
        f"{TITLE}: correct. {answer} s: {late} of {total} trades late ({100 * late / total:.2f} %); "
        f"{answer - 1} s would make more than {100 * limit:g} % late.",
    )


def answer(value):
    """The student's answer, or the instructor's (solutions/...) when WORKBOOK_SOLUTIONS=1 (the exercise model's
    exercises.exercise, which says so)."""
    from .exercises import exercise, solutions_enabled

    return json.loads(exercise(EXERCISE, "")) if solutions_enabled() else value


# the general model's entry (workbook.course.checks.find_check)
CHECKS = {EXERCISE: lambda answer, timeout_s=None: check_watermark_delay(answer)}

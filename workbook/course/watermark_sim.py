"""The watermark lab's simulation: Flink's event-time rules, record by record, and the lab's streams.

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
  A partition with no records at all: Flink 2.0's source operator registers every
  split's watermark at once, so it holds the watermark at "none" (in a streaming job
  until it is idle); in a bounded run the Kafka source finishes its empty split with
  the first fetch, and only the records of that fetch see no watermark
  (tests/test_watermarks_flink.py).
- Flink emits each record BEFORE the watermark moves on it, so a record is checked
  against the watermark of the records before it (CURRENT_WATERMARK(ts) in SQL).
- A 1-minute window [start, end) fires when the watermark reaches end - 1 ms (its
  last millisecond). A trade BEHIND the watermark (`ts <= watermark`) whose window
  has not fired yet is counted as usual; a trade whose window HAS fired is LATE:
  Flink's window aggregation drops it. The processor's rule
  (sql/20_checked_trades.sql) is Flink's: late trades go to `late_trades`, the
  others to the windows. At the end of a bounded run every open window fires.

A parallel job (parallelism > 1) has one reader per subtask: each subtask's watermark
is the minimum over its own partitions, and a window operator takes the minimum over
its input subtasks. The processor runs with parallelism 1: one reader, all partitions.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pandas as pd

DELAY_MS = 5_000  # WATERMARK FOR ts AS ts - INTERVAL '5' SECOND (sql/10_trades.sql)
IDLE_TIMEOUT_S = 5.0  # 'scan.watermark.idle-timeout' = '5 s'
WINDOW_MS = 60_000  # TUMBLE(..., INTERVAL '1' MINUTE) (sql/40_candlesticks.sql)


# --- the simulation -------------------------------------------------------------------------------


@dataclass
class Simulation:
    """The result of `simulate`: one row per record (arrival order) and one per window."""

    delay_ms: int
    partitions: list
    records: pd.DataFrame  # RECORD_COLUMNS: behind (ts <= watermark), late (its window had fired)
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

    @property
    def behind_count(self) -> int:
        """Trades behind the watermark when they arrived, late ones included."""
        return int(self.records["behind"].sum())

    def summary(self) -> str:
        closed = self.windows.dropna(subset=["closed_after"])
        counted = self.behind_count - self.late_count
        return (
            f"delay {self.delay_ms / 1000:g} s: {self.late_count} of {len(self.records)} trades late "
            f"({100 * self.late_fraction:.1f} %; {counted} more behind the watermark, in windows still open, "
            f"counted), {len(closed)} of {len(self.windows)} windows closed"
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


def pair_of(trade: dict) -> str:
    """A trade's pair as the lab writes it: its `pair`, or `base / quote`."""
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
    rows = _arrivals(trades)
    parts = list(range(partitions)) if isinstance(partitions, int) else list(partitions or [])
    parts = sorted(set(parts) | {r[1] for r in rows})
    out, per_partition = _replay(rows, parts, delay_ms, idle_timeout_s, window_ms)
    records = pd.DataFrame(out, columns=RECORD_COLUMNS)
    records[["behind", "late"]] = records[["behind", "late"]].astype(bool)
    windows = _windows(records, window_ms, bounded)
    return Simulation(delay_ms, parts, records, windows, pd.DataFrame(per_partition, columns=parts))


RECORD_COLUMNS = [
    "arrival",
    "partition",
    "pair",
    "timestamp",
    "at",
    "watermark",
    "watermark_after",
    "behind",
    "late",
    "window_start",
]


def _arrivals(trades) -> list[tuple]:
    """(timestamp, partition, at, pair) of each trade, in arrival order; ValueError for a timestamp that is
    not epoch milliseconds."""
    rows = []
    for i, t in enumerate(trades):
        ts = t["timestamp"]
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise ValueError(f"trade {i}: timestamp must be epoch milliseconds (int), not {ts!r}")
        rows.append((ts, int(t.get("partition", 0)), t.get("at"), pair_of(t)))
    return rows


def _replay(rows: list[tuple], parts: list, delay_ms: int, idle_timeout_s: float, window_ms: int) -> tuple:
    """The source reading `rows`: one record dict per row (RECORD_COLUMNS) and each partition's watermark
    after it (None while idle or before its first record)."""
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
        window_start = ts // window_ms * window_ms
        behind = in_force is not None and ts <= in_force
        late = in_force is not None and in_force >= window_start + window_ms - 1  # its window has fired
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
                "behind": behind,
                "late": late,
                "window_start": window_start,
            }
        )
        per_partition.append({q: (None if idle[q] or newest[q] is None else newest[q] - delay_ms) for q in parts})
    return out, per_partition


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


def per_pair_late(trades, delay_ms: int, window_ms: int = WINDOW_MS) -> int:
    """How many trades a (wrong) per-pair watermark would call late (their window fired by their own pair's
    watermark): what the cluster notebook (09) used to suggest."""
    newest, late = {}, 0
    for t in trades:
        key = (t.get("partition", 0), pair_of(t))
        window_end = (t["timestamp"] // window_ms + 1) * window_ms
        if key in newest and newest[key] - delay_ms >= window_end - 1:
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
    then seconds; `xrp / euro` comes from a slower exchange feed (7 s behind), so it is in
    order within its pair but behind the others in the partition."""
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
            lag += 7_000
        trades.append((t + lag, _trade(pair, t, price=round(rng.uniform(90, 110), 2))))
    trades.sort(key=lambda x: x[0])
    return [trade for _, trade in trades]


def two_partition_stream(seed: int = 7, minutes: int = 3) -> list[dict]:
    """Two partitions read by one reader, interleaved as they happen: partition 1 (`xrp / euro`)
    is 20 s behind partition 0 (`bitcoin / tether`). Ten seconds into each minute, each partition
    has a straggler from the minute before: late by its partition's own watermark (that window has
    fired there), but only partition 1's are late by the source's watermark (the minimum:
    partition 1 holds it back, so partition 0's last minute is still open)."""
    rng = random.Random(seed)
    out = []
    for k in range(minutes * 30 + 15):  # a trade every 2 s in each partition
        ts = LAB_START_MS + 2_000 * k
        out.append(_trade("bitcoin / tether", ts + rng.randrange(-900, 0), 0, price=round(rng.uniform(90, 110), 2)))
        if (ts - LAB_START_MS) % WINDOW_MS == 10_000 and ts - LAB_START_MS > WINDOW_MS:
            out.append(_trade("bitcoin / tether", ts - 12_000, 0, price=round(rng.uniform(90, 110), 2)))
        if k >= 10:
            slow = ts - 20_000
            out.append(_trade("xrp / euro", slow + rng.randrange(-900, 0), 1, price=round(rng.uniform(0.5, 0.7), 4)))
            if (slow - LAB_START_MS) % WINDOW_MS == 10_000 and slow - LAB_START_MS > WINDOW_MS:
                out.append(_trade("xrp / euro", slow - 12_000, 1, price=round(rng.uniform(0.5, 0.7), 4)))
    return out


def idle_partition_stream(minutes: int = 3) -> list[dict]:
    """Two partitions, with arrival times: partition 1 falls silent for 20 s (a quiet market),
    is marked idle after 5 s, and comes back with a trade of a minute whose window partition 0's
    watermark has fired meanwhile: late."""
    out, at = [], 0.0
    for k in range(minutes * 30):
        ts = LAB_START_MS + 2_000 * k
        at = k * 0.5  # read as it happens, sped up 4x: 0.5 s of processing time per 2 s of market
        out.append(_trade("bitcoin / tether", ts, 0, at=at))
        quiet = 40 <= k < 80  # partition 1 sends nothing for 40 rounds (20 s of processing time)
        if k % 2 == 0 and not quiet:
            out.append(_trade("xrp / euro", ts - 1_000, 1, at=at + 0.1))
        if k == 80:  # back, with a trade from the quiet time, of a minute that has fired
            out.append(_trade("xrp / euro", LAB_START_MS + 2_000 * 55, 1, at=at + 0.2))
    return out

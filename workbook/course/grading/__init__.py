"""The held-out grading data: instructor-only, left out of the student release (with the references that
compute its expected outputs). Students practise on the public datasets (workbook/course/datasets.py: the
checks' feedback shows their example rows); an answer is graded on these, with another seed and start time,
and with what the practice data lacks:

- late trades (their 1-minute window had fired when they arrived) and trades behind the watermark in a
  window still open (counted), bad records (a negative price, an unknown direction, a volume of 0, a missing
  base), trades exactly at window edges (xx:00.000 and xx:59.999) and in the same millisecond as another
  of their pair, a pair whose first trade comes in minute 6 of 8;
- for the watermark exercise, a stream of two partitions, one of which falls silent for 30 s (idle);
- for the panel exercise, another pair and time range of the same candles.

So an answer over checked_trades instead of valid_trades, one that selects the public rows from a VALUES
list, or a function that returns the public answer, fails here.

    python -m workbook.course check NAME FILE --grading
    python -m workbook.course.references.<module> --grading     (rewrites grading/expected/)
"""

from __future__ import annotations

import random
from pathlib import Path

from producer.synthetic import generate_trades

from ..datasets import (
    BEHIND,
    SAMPLE_MINUTES,
    WINDOW_MS,
    Data,
    basics_records,
    market_rates,
    probe_trades,
    sample_trades,
    with_replays,
)
from ..watermark_sim import LAB_PAIRS

START_MS = 1_738_576_800_000  # 2025-02-03 10:00:00 UTC, away from every practice dataset
SEED = 2718
LATE_PAIR = "solana / tether"  # its first trade comes in minute 6
LATE_RATES = ("bitcoin", 15_000)  # bitcoin's rates begin 15 s late: the first ethereum / bitcoin trades have none
PROBE_LAGS_MS = (250, 1_500, 3_333, 4_998, 4_999, 5_000, 5_002, 6_500, 9_000, 15_000, 45_000)
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"


def _market(minutes: int) -> list[dict]:
    """The synthetic market from another seed and start, with trades at window edges, same-ms ties and a pair
    that appears late, in event-time order."""
    trades = [dict(t) for t in generate_trades(seed=SEED, start_ms=START_MS, duration_s=minutes * 60)]
    late_from = START_MS + 5 * WINDOW_MS
    trades = [t for t in trades if f"{t['base']} / {t['quote']}" != LATE_PAIR or t["timestamp"] >= late_from]
    for i, t in enumerate(trades):
        minute = t["timestamp"] // WINDOW_MS * WINDOW_MS
        if i % 23 == 5:
            t["timestamp"] = minute  # the first millisecond of its window
        elif i % 29 == 7:
            t["timestamp"] = minute + WINDOW_MS - 1  # the last millisecond of its window
    for i in range(0, len(trades) - 1, 13):  # ties: the next trade of the same pair in the same millisecond
        a, b = trades[i], trades[i + 1]
        if (a["base"], a["quote"]) == (b["base"], b["quote"]):
            b["timestamp"] = a["timestamp"]
    return sorted(trades, key=lambda t: t["timestamp"])  # stable: the ties keep their order


def _arrival(trades: list[dict], seed: int, max_disorder_ms: int = 2_000) -> list[dict]:
    """Arrival order: by event time plus a random delay below the disorder (below the watermark's delay)."""
    rng = random.Random(seed)
    return sorted(trades, key=lambda t: t["timestamp"] + rng.randrange(max_disorder_ms))


def _where(n: int) -> dict[int, str]:
    """Where the grading data puts its bad records, late trades and trades behind the watermark."""
    kinds = ("late", "volume 0", BEHIND, "negative price", "late", BEHIND, "unknown direction", "late")
    kinds += ("missing base", BEHIND, "late")
    return {(k + 1) * n // (len(kinds) + 1) + 3: what for k, what in enumerate(kinds)}


def check_records(minutes: int = 8) -> list[tuple[dict, str | None]]:
    trades = _arrival(_market(minutes), SEED + minutes)
    return basics_records(trades, _where(len(trades)))


def check_trades() -> list[dict]:
    return [t for t, _ in check_records(8)]


def basics_trades() -> list[dict]:
    return [t for t, _ in check_records(3)]


def grading_sample() -> list[dict]:
    return sample_trades(seed=SEED)


def grading_probe() -> list[dict]:
    return probe_trades(PROBE_LAGS_MS, START_MS + 3_600_000)


def lab_stream(minutes: int = 6, per_second: float = 3.0) -> list[dict]:
    """Two Kafka partitions read by one reader, with processing times (`at`, seconds): partition 0 the lab's
    three pairs, disordered as the practice stream is, one of them from a slower feed (6 s behind);
    partition 1 one more pair, which falls silent for 30 s (idle after 5 s) and comes back."""
    rng = random.Random(SEED)
    arriving, t = [], START_MS
    end = START_MS + minutes * WINDOW_MS
    quiet = (START_MS + 150_000, START_MS + 180_000)
    while True:
        t += int(rng.expovariate(per_second / 1000)) + 1
        if t >= end:
            break
        pair = rng.choice((*LAB_PAIRS, "dogecoin / tether"))
        partition = 1 if pair == "dogecoin / tether" else 0
        if partition and quiet[0] <= t < quiet[1]:
            continue
        lag = rng.expovariate(1 / 300) + (rng.uniform(1_000, 4_000) if rng.random() < 0.03 else 0)
        lag += 6_000 if pair == "xrp / euro" else 0
        base, quote = pair.split(" / ")
        trade = {"exchange": "grading", "base": base, "quote": quote, "direction": "buy", "price": 100.0}
        arriving.append((t + lag, dict(trade, timestamp=t, partition=partition)))
    arriving.sort(key=lambda x: x[0])
    return [dict(trade, at=round((at - START_MS) / 1000, 3)) for at, trade in arriving]


GRADING = Data(
    "grading",
    {
        "check": check_trades,
        "sample": grading_sample,
        "basics": basics_trades,
        "basics_records": lambda: check_records(3),
        "probe": grading_probe,
        "lab": lab_stream,
        "replayed": lambda: with_replays(check_trades(), every=377, twins_every=503),
    },
    EXPECTED_DIR,
    {
        "panel_sql": {
            "pair": "ethereum / tether",
            "time_from": "2025-01-01T00:12:00Z",
            "time_to": "2025-01-01T00:27:00Z",
        }
    },
    rates={  # the grading market's rates (its seed and start; grading_sample's start is the practice sample's)
        "check": lambda: market_rates(8, SEED, START_MS, LATE_RATES),
        "replayed": lambda: market_rates(8, SEED, START_MS, LATE_RATES),
        "basics": lambda: market_rates(3, SEED, START_MS, LATE_RATES),
        "basics_records": lambda: market_rates(3, SEED, START_MS, LATE_RATES),
        "sample": lambda: market_rates(SAMPLE_MINUTES, SEED, late_feed=LATE_RATES),
    },
)

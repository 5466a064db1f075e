"""The fixed trade datasets of the notebooks and exercise checks, where their expected outputs are
stored, and moving them in and out of Kafka topics with kafka-python.

- `sample_trades`: the synthetic market's first half hour, the same on every machine (notebooks 02, 07, 09);
- `check_trades`: the exercises' check dataset, out of order within the watermark delay, with
  same-millisecond ties, so that open/close by arrival order is caught;
- `basics_records`: three minutes of it with bad records, late trades (their window had fired) and trades
  behind the watermark in a window still open (good ones) put in (the checks of part L1);
- `probe_trades`: one pair with stragglers of known lags (the source_table check reads the watermark off it);
- `replayed_trades`: the check dataset as a producer that reconnects sends it, some trades twice (notebook 10).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from producer.rates import rates_from_trades
from producer.synthetic import generate_rates, generate_trades

from .. import kafka
from ..config import Config
from .watermark_sim import DELAY_MS, lab_stream

SAMPLE_SEED = 42
SAMPLE_START_MS = 1_735_689_600_000  # 2025-01-01 00:00:00 UTC
SAMPLE_MINUTES = 30
SAMPLE_TOPIC = "workbook-sample"  # the notebooks' own topic: the live `trades` stream keeps changing
WINDOW_MS = 60_000
PROBE_START_MS = 1_735_776_000_000  # 2025-01-02 00:00:00 UTC
PROBE_LAGS_MS = (300, 1_000, 2_500, 4_000, 4_999, 5_000, 5_001, 7_000, 12_000, 30_000, 49_000, 50_500, 70_000)
# the checks' stored expected outputs (made by the instructor-only references, workbook/course/references/)
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"


def sample_trades(minutes: int = SAMPLE_MINUTES, seed: int = SAMPLE_SEED) -> list[dict]:
    """The synthetic market's first `minutes` minutes: the same trades on every machine."""
    return list(generate_trades(seed=seed, start_ms=SAMPLE_START_MS, duration_s=minutes * 60))


def market_rates(
    minutes: int = SAMPLE_MINUTES,
    seed: int = SAMPLE_SEED,
    start_ms: int = SAMPLE_START_MS,
    late_feed: tuple[str, int] | None = ("euro", 20_000),
) -> list[dict]:
    """The USD rates of the synthetic market of sample_trades (producer.synthetic.generate_rates): the `rates`
    table of the datasets made of its trades (check, sample, basics, replayed; notebook 11's temporal join).
    `late_feed` (asset, ms): that asset's rates begin so late (its feed joins late), so the trades quoted in it
    before have no rate yet (an inner temporal join drops them)."""
    asset, late_ms = late_feed or ("", 0)
    rates = generate_rates(seed=seed, start_ms=start_ms, duration_s=minutes * 60)
    return [r for r in rates if r["asset"] != asset or r["timestamp"] >= start_ms + late_ms]


def check_trades(minutes: int = 8, max_disorder_ms: int = 2_000, seed: int = 7) -> list[dict]:
    """Synthetic trades in *arrival* order: event time shuffled by up to max_disorder_ms
    (less than the source's watermark delay, so no trade is late), plus same-millisecond ties,
    a window without buys, one without sells, and a pair that trades in one window only.
    Made once per process (every check uses them): a new list of new dicts each call."""
    return [dict(t) for t in _check_trades(minutes, max_disorder_ms, seed)]


@functools.lru_cache(maxsize=4)
def _check_trades(minutes: int, max_disorder_ms: int, seed: int) -> tuple:
    trades = [dict(t) for t in sample_trades(minutes=minutes)]
    rng = random.Random(seed)
    for i in range(0, len(trades) - 1, 17):  # ties: the next trade of the list gets the same timestamp
        if trades[i + 1]["base"] == trades[i]["base"] and trades[i + 1]["quote"] == trades[i]["quote"]:
            trades[i + 1]["timestamp"] = trades[i]["timestamp"]
    start = trades[0]["timestamp"] // WINDOW_MS * WINDOW_MS
    # windows without buys and without sells: a NULL instead of 0 shows there
    for (base, quote), minute, direction in ((("tether", "euro"), 2, "sell"), (("ethereum", "bitcoin"), 1, "buy")):
        for t in trades:
            if (t["base"], t["quote"]) == (base, quote) and (t["timestamp"] - start) // WINDOW_MS == minute % minutes:
                t["direction"] = direction
    # a pair in one window only (four trades, the last two in the same millisecond)
    t0 = start + min(3, minutes - 1) * WINDOW_MS + 12_345
    for dt, price, volume, direction in (
        (0, 0.3141, 1500.0, "buy"),
        (20_000, 0.3127, 800.0, "sell"),
        (41_000, 0.3135, 2500.0, "buy"),
        (41_000, 0.3152, 700.0, "buy"),
    ):
        trades.append(
            {
                "exchange": "binance",
                "base": "dogecoin",
                "quote": "tether",
                "direction": direction,
                "price": price,
                "volume": volume,
                "timestamp": t0 + dt,
                "priceUsd": None,
            }
        )
    trades.sort(key=lambda t: t["timestamp"])  # stable: the ties keep their order
    # Arrival order: sort by event time plus a random delay in [0, max_disorder_ms).
    delayed = sorted(trades, key=lambda t: t["timestamp"] + rng.randrange(max_disorder_ms))
    # Sanity: nothing arrives later than the delay allows.
    newest = 0
    for t in delayed:
        assert t["timestamp"] > newest - max_disorder_ms
        newest = max(newest, t["timestamp"])
    return tuple(delayed)


BEHIND = "behind the watermark"  # a good trade: its window is still open, Flink counts it


def injected(trades: list[dict]) -> dict[int, str]:
    """Where basics_trades puts its bad records, late trades and trades behind the watermark: arrival index ->
    what it is."""
    n = len(trades)
    return {
        n // 8: "negative price",
        n // 4: "unknown direction",
        3 * n // 8: "volume 0",
        n // 2: "missing base",
        9 * n // 16: BEHIND,
        5 * n // 8: "late",
        11 * n // 16: BEHIND,
        3 * n // 4: "late",
        7 * n // 8: "late",
    }


def straggler_time(newest: int, late: bool) -> int:
    """The event time of a trade arriving when the newest one read is `newest` (so the watermark of the 5-second
    delay is newest - 5 s): late, in the minute before the watermark's (that window has fired); or behind the
    watermark in the watermark's own minute (a window still open)."""
    watermark = newest - DELAY_MS
    minute = watermark // WINDOW_MS * WINDOW_MS
    if late:
        return minute - 20_000
    assert watermark < minute + WINDOW_MS - 1, "the watermark's own window must still be open"
    return max(minute, watermark - 1_500)


def basics_records(trades: list[dict] | None = None, where: dict | None = None) -> list[tuple[dict, str | None]]:
    """Three minutes of the check market (arrival order, disorder up to 2 s, same-ms ties), with bad records,
    late trades and trades behind the watermark put in at fixed places: each record with what is wrong with it
    (None for a good one, those behind the watermark included). `trades` and `where` (arrival index -> what,
    as `injected` gives them) make the same of other trades (the grading data)."""
    trades = check_trades(minutes=3) if trades is None else trades
    out = [(dict(t), None) for t in trades]
    for i, what in sorted((injected(trades) if where is None else where).items(), reverse=True):
        base = dict(trades[i])
        if what == "negative price":
            base["price"] = -base["price"]
        elif what == "unknown direction":
            base["direction"] = "hold"
        elif what == "volume 0":
            base["volume"] = 0.0
        elif what == "missing base":
            base["base"] = None
        else:  # a valid bitcoin / tether trade, late or behind the watermark
            newest = max(t["timestamp"] for t in trades[: i + 1])
            base.update(
                base="bitcoin",
                quote="tether",
                price=93_000.5 + i % 7,
                volume=0.5,
                timestamp=straggler_time(newest, what == "late"),
                direction="sell" if what == "late" else "buy",
            )
        out.insert(i + 1, (base, None if what == BEHIND else what))
    return out


def basics_trades() -> list[dict]:
    return [t for t, _ in basics_records()]


def probe_trades(lags_ms: tuple = PROBE_LAGS_MS, start_ms: int = PROBE_START_MS) -> list[dict]:
    """One pair, a trade a second, and after every 8th one a straggler lags_ms behind the newest (its price
    is its lag): which stragglers are behind the watermark tells the watermark's delay."""
    out, newest = [], start_ms
    lags = list(lags_ms)
    for k in range(8 * len(lags) + 80):
        newest = start_ms + 1_000 * k + 123
        out.append(
            {
                "base": "bitcoin",
                "quote": "tether",
                "direction": "buy",
                "price": 100.0 + k,
                "volume": 1.0,
                "timestamp": newest,
            }
        )
        if k % 8 == 7 and lags:
            lag = lags.pop(0)
            out.append(
                {
                    "base": "bitcoin",
                    "quote": "tether",
                    "direction": "sell",
                    "price": 1.0 * lag,
                    "volume": 2.0,
                    "timestamp": newest - lag,
                }
            )
    return out


REPLAY_BACK_MS = 3_000  # a replay re-sends the trades of the last 3 s: duplicates arrive within the watermark's delay


def with_replays(trades: list[dict], every: int = 450, twins_every: int = 611) -> list[dict]:
    """`trades` (arrival order) as a producer that reconnects now and then sends them: after every `every`-th
    trade, the trades of the last REPLAY_BACK_MS of event time again (identical records, later in the topic); and
    every `twins_every`-th trade has a twin: another trade of the same pair and millisecond that differs in one
    field only (its direction, its volume, its price or its pair's quote, in turn), which is no duplicate."""
    out, newest = [], 0
    for i, t in enumerate(trades):
        out.append(dict(t))
        newest = max(newest, t["timestamp"])
        if i % twins_every == twins_every // 2:
            k = (i // twins_every) % 4
            twin = dict(t)
            if k == 0:
                twin["direction"] = "sell" if t["direction"] == "buy" else "buy"
            elif k == 1:
                twin["volume"] = round(t["volume"] * 2, 8)
            elif k == 2:
                twin["price"] = round(t["price"] * 1.0001, 8)
            else:  # the same trade in another pair (another quote) of the same base
                twin["quote"] = "united-states-dollar" if t["quote"] == "tether" else "tether"
            out.append(twin)
        if i % every == every - 1:
            out += [dict(u) for u in trades[max(0, i - 200) : i + 1] if u["timestamp"] >= newest - REPLAY_BACK_MS]
    return out


def replayed_trades() -> list[dict]:
    """The check dataset with replays and twins (with_replays): the deduplication exercise's data."""
    return with_replays(check_trades())


def fill_topic(config: Config, topic: str, trades: list[dict], partitions: int = 1) -> int:
    """Replace `topic`'s content with `trades` (keyed by pair, in list order); returns the count
    (every record acknowledged by the broker)."""
    return kafka.fill_topic(config.kafka_bootstrap_servers, topic, trades, partitions)


def read_topic(config: Config, topic: str, limit: int | None = None, idle_ms: int = 1000) -> list[dict]:
    """Every record of `topic` (or the first `limit`), decoded from JSON."""
    return kafka.read_topic(config.kafka_bootstrap_servers, topic, limit, idle_ms)


# --- practice and grading: which datasets and stored expected outputs the checks use ------------------


@dataclass(frozen=True)
class Data:
    """The datasets a check runs an answer on and the expected outputs it compares with: the PRACTICE ones
    (public: the students' feedback, with example rows) or held-out ones for grading (instructor-only,
    workbook/course/grading/, not in the student release: an answer tuned to the public rows fails there)."""

    name: str
    datasets: dict  # "check", "sample", "basics", "basics_records", "probe", "lab" -> a function giving its records
    expected_dir: Path
    params: dict = field(default_factory=dict)  # exercise -> its parameters here (e.g. panel_sql's pair and range)
    # dataset -> its USD rates (the `rates` table over it); a dataset without: rates derived from its trades
    rates: dict = field(default_factory=dict)


PRACTICE = Data(
    "practice",
    {
        "check": check_trades,
        "sample": sample_trades,
        "basics": basics_trades,
        "basics_records": basics_records,
        "probe": probe_trades,
        "lab": lab_stream,
        "replayed": replayed_trades,
    },
    EXPECTED_DIR,
    rates={
        "check": lambda: market_rates(8),
        "replayed": lambda: market_rates(8),
        "basics": lambda: market_rates(3),
        "basics_records": lambda: market_rates(3),
        "sample": market_rates,
    },
)
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("workbook_check_data", default=PRACTICE)


@contextlib.contextmanager
def using(data: Data):
    """Run the checks inside the block on `data` (the grading command: `with using(GRADING): ...`)."""
    token = _ACTIVE.set(data)
    try:
        yield data
    finally:
        _ACTIVE.reset(token)


def active() -> Data:
    """The data the checks use now (PRACTICE unless `using` says otherwise)."""
    return _ACTIVE.get()


def records(name: str) -> list:
    """The records of dataset `name` in the active data."""
    return active().datasets[name]()


def rates_of(name: str) -> Callable[[], list]:
    """The function giving the USD rates of dataset `name` in the active data (the `rates` table over it): its
    own, else the rates the producer derives from trades it replays (producer.rates)."""
    own = active().rates.get(name)
    if own is not None:
        return own
    trades = dataset(name)
    return lambda: rates_from_trades(t for t in trades() if isinstance(t, dict))


def dataset(name: str) -> Callable[[], list]:
    """The function giving dataset `name`'s records in the active data."""
    return active().datasets[name]


def expected_path(filename: str) -> Path:
    """Where a stored expected output of the active data is."""
    return active().expected_dir / filename

"""A seeded, deterministic synthetic crypto market.

`generate_trades(seed, start_ms, pairs, count, duration_s)` is a pure function
of its arguments: the same call gives the same trades, and a shorter `count`
gives a prefix of a longer one. The model, simulated in windows of 60 s:

- each asset has a "fair" USD log-price: a random walk (Brownian, realistic
  annual volatility) on a 1 s grid, interpolated between grid points; USD is 1,
  tether stays within a few basis points of 1;
- each asset has a market sentiment: an Ornstein-Uhlenbeck process (5-minute
  memory) that sets the probability that a trade's taker buys
  (logistic in sentiment(base) - sentiment(quote), 30%..70% most of the time);
- each market (exchange, base, quote) has Poisson trade arrivals (a few per
  second), a small exchange-specific basis and half-spread: a buy fills at the
  ask, a sell at the bid;
- every trade pushes the price by a square-root impact of its USD notional,
  up for buys, down for sells: a transient part in its own market that decays
  over ~1 minute, and a permanent part (a tenth) that goes into the fair price
  of the base asset at the end of the window, so buy pressure on one exchange
  moves the asset everywhere (arbitrage);
- notional sizes are heavy-tailed: log-normal body x Pareto tail (alpha 1.3);
- prices are rounded to each market's tick, volumes to its lot size;
- priceUsd follows the producer's rule (producer.assets.UsdPricer).

Random numbers come from numpy's legacy RandomState, whose streams numpy keeps
identical across versions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .assets import USD_LIKE, UsdPricer, asset_id, split_symbol
from .rates import RATE_KEEP_ALIVE_MS, rate_value

DEFAULT_SEED = 42
DEFAULT_START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
WINDOW_S = 60
SECONDS_PER_YEAR = 365.25 * 86400


@dataclass(frozen=True)
class Asset:
    usd: float  # starting USD price
    vol: float  # annual volatility of the fair price's random walk (order flow adds to it)
    impact: float  # transient log-price impact of a $10k market order (square-root law)


ASSETS: dict[str, Asset] = {
    "united-states-dollar": Asset(1.0, 0.0, 0.0),
    "tether": Asset(1.0, 0.002, 0.0),
    "euro": Asset(1.04, 0.07, 0.0),
    "bitcoin": Asset(94_000.0, 0.30, 5.0e-5),
    "ethereum": Asset(3_350.0, 0.45, 7.0e-5),
    "solana": Asset(190.0, 0.70, 1.2e-4),
    "xrp": Asset(2.10, 0.70, 1.2e-4),
}
DEFAULT_ASSET = Asset(1.0, 0.7, 1.5e-4)  # for pairs of assets not listed above


@dataclass(frozen=True)
class Market:
    exchange: str
    base: str
    quote: str
    rate: float  # trades per second
    price_decimals: int  # tick = 10**-price_decimals
    volume_decimals: int  # lot = 10**-volume_decimals
    half_spread: float  # relative
    basis: float  # relative offset of this exchange's price
    notional: float  # median-ish notional of a trade, USD


MARKETS: tuple[Market, ...] = (
    Market("binance", "bitcoin", "tether", 4.0, 2, 5, 0.5e-5, 0.0, 400.0),
    Market("binance", "ethereum", "tether", 3.0, 2, 4, 1.0e-5, 0.0, 300.0),
    Market("binance", "solana", "tether", 2.0, 2, 3, 2.0e-5, 0.0, 200.0),
    Market("binance", "ethereum", "bitcoin", 1.0, 5, 4, 2.0e-5, 0.0, 300.0),
    Market("coinbase", "bitcoin", "united-states-dollar", 3.0, 2, 8, 0.5e-5, 2.0e-4, 500.0),
    Market("coinbase", "ethereum", "united-states-dollar", 2.0, 2, 8, 1.0e-5, 2.5e-4, 400.0),
    Market("kraken", "xrp", "euro", 1.5, 5, 8, 5.0e-5, -3.0e-4, 250.0),
    Market("kraken", "bitcoin", "euro", 1.0, 1, 8, 1.0e-5, -2.0e-4, 600.0),
    Market("kraken", "tether", "euro", 0.5, 4, 2, 0.5e-4, 0.0, 2000.0),
    Market("bitstamp", "bitcoin", "united-states-dollar", 1.0, 0, 8, 1.0e-5, 1.0e-4, 500.0),
)
PAIRS = tuple(f"{m.exchange}:{m.base}/{m.quote}" for m in MARKETS)

SENTIMENT_TAU_S = 300.0
IMPACT_TAU_S = 60.0  # decay time of the transient impact
PERMANENT_SHARE = 0.1  # permanent impact / transient impact
SENTIMENT_GAIN = 0.85  # logistic slope: buy probability = 1/(1+exp(-gain*(s_base - s_quote)))
PARETO_ALPHA = 1.3
BODY_SIGMA = 0.8
MAX_NOTIONAL = 5e6
IMPACT_DECAY = math.exp(-WINDOW_S / IMPACT_TAU_S)  # over a window
SENTIMENT_DECAY = math.exp(-1.0 / SENTIMENT_TAU_S)  # over a second
SENTIMENT_SHOCK = math.sqrt(1.0 - SENTIMENT_DECAY * SENTIMENT_DECAY)  # keeps the sentiment's variance at 1


def select_markets(pairs: Iterable[str] | None) -> tuple[Market, ...]:
    """Markets of `pairs`: "exchange:base/quote" or "base/quote" (every exchange
    listing it), in asset ids ("bitcoin/tether") or tickers ("BTC/USDT").
    A pair listed nowhere becomes a new market on exchange "synthetic"."""
    if not pairs:
        return MARKETS
    out: list[Market] = []
    for spec in pairs:
        exchange, _, pair = spec.rpartition(":")
        parts = split_symbol(pair)
        if parts is None:
            raise ValueError(f"pair {spec!r}: use BASE/QUOTE, e.g. bitcoin/tether or BTC/USDT")
        base, quote = asset_id(parts[0]), asset_id(parts[1])
        found = [m for m in MARKETS if m.base == base and m.quote == quote and (not exchange or m.exchange == exchange)]
        if not found:
            found = [Market(exchange or "synthetic", base, quote, 2.0, _decimals(base, quote), 4, 2e-5, 0.0, 300.0)]
        out.extend(m for m in found if m not in out)
    return tuple(out)


def _decimals(base: str, quote: str) -> int:
    price = ASSETS.get(base, DEFAULT_ASSET).usd / ASSETS.get(quote, DEFAULT_ASSET).usd
    return max(0, 5 - int(math.floor(math.log10(price))))  # about 6 significant digits


class _Asset:
    """Simulation state of one asset, and its 1 s grid of the current window."""

    def __init__(self, name: str):
        self.name = name
        self.spec = ASSETS.get(name, DEFAULT_ASSET)
        self.log_usd = math.log(self.spec.usd)
        self.sentiment = 0.0
        self.sigma = self.spec.vol / math.sqrt(SECONDS_PER_YEAR)  # per sqrt(second)
        self.pinned = name in USD_LIKE  # stablecoins: mean-revert to 1 USD
        self.grid_log = self.grid_sent = None  # fair log-price and sentiment at 0, 1, ..., WINDOW_S s

    def walk(self, rng: np.random.RandomState) -> None:
        """The grid of the next window, from the current state, which moves to the window's end."""
        W = WINDOW_S
        eps = rng.standard_normal(W)
        steps = self.sigma * eps
        if self.pinned and self.name != "united-states-dollar":
            steps = steps - 0.01 * self.log_usd  # gentle pull back to the peg
        self.grid_log = self.log_usd + np.concatenate(([0.0], np.cumsum(steps)))
        noise = rng.standard_normal(W)
        decay, shock = SENTIMENT_DECAY, SENTIMENT_SHOCK  # locals for the loop
        s = np.empty(W + 1)
        s[0] = x = self.sentiment
        for k in range(W):
            x = decay * x + shock * noise[k]
            s[k + 1] = x
        self.grid_sent = s
        self.log_usd = float(self.grid_log[-1])
        self.sentiment = x


class _Book:
    """Simulation state of one market: the transient impact of its trades."""

    def __init__(self, market: Market, base: _Asset, quote: _Asset):
        self.market = market
        self.base = base
        self.quote = quote
        self.transient = 0.0  # at the window start

    def trades(self, rng: np.random.RandomState):
        """This window's trades as (t, buy, price, volume) arrays in time order, or None if it has none."""
        m, W = self.market, WINDOW_S
        n = rng.poisson(m.rate * W)
        t = np.sort(rng.uniform(0.0, W, n))
        u_side = rng.uniform(0.0, 1.0, n)
        body = np.exp(BODY_SIGMA * rng.standard_normal(n))
        tail = (1.0 - rng.uniform(0.0, 1.0, n)) ** (-1.0 / PARETO_ALPHA)
        if n == 0:
            self.transient *= IMPACT_DECAY
            return None
        k = np.minimum(t.astype(np.int64), W - 1)
        frac = t - k
        lb, lq = self.base.grid_log, self.quote.grid_log
        log_base = lb[k] + frac * (lb[k + 1] - lb[k])
        log_quote = lq[k] + frac * (lq[k + 1] - lq[k])
        sent = self.base.grid_sent[k] - self.quote.grid_sent[k]
        buy = u_side < 1.0 / (1.0 + np.exp(-SENTIMENT_GAIN * sent))
        sign = np.where(buy, 1.0, -1.0)
        notional = np.minimum(m.notional * body * tail, MAX_NOTIONAL)
        impact = self.base.spec.impact * sign * np.sqrt(notional / 1e4)
        # a trade fills before its own impact; transient impact decays as exp(-t/tau):
        # x(t_j) = exp(-t_j/tau) * (x0 + sum_{i<j} impact_i * exp(t_i/tau))
        grow = np.exp(t / IMPACT_TAU_S)
        acc = np.cumsum(impact * grow)
        before = np.exp(-t / IMPACT_TAU_S) * (self.transient + np.concatenate(([0.0], acc[:-1])))
        perm = PERMANENT_SHARE * np.cumsum(impact)
        perm_before = np.concatenate(([0.0], perm[:-1]))
        mid = np.exp(log_base - log_quote + before + perm_before) * (1.0 + m.basis)
        price = np.round(mid * (1.0 + m.half_spread * sign), m.price_decimals)
        tick = 10.0**-m.price_decimals
        price = np.maximum(price, tick)
        volume = np.round(notional / np.exp(log_base), m.volume_decimals)
        volume = np.maximum(volume, 10.0**-m.volume_decimals)
        self.transient = IMPACT_DECAY * (self.transient + float(acc[-1]))
        self.base.log_usd += float(perm[-1])  # permanent impact, for every market of the asset
        return t, buy, price, volume


def _windows(
    markets: tuple[Market, ...], seed: int, start_ms: int, end_ms: int | None, on_window=None
) -> Iterator[tuple[list, ...]]:
    """The simulation, window by window until end_ms: for each window with trades, its trades
    in time order as columns (timestamps, indexes in `markets`, buys, prices, volumes).
    `on_window(t0_ms, assets)`, if given, sees every window's assets once their grids are drawn (generate_rates);
    it draws no random numbers, so the trades are the same with it or without."""
    rng = np.random.RandomState(seed)
    names = sorted({m.base for m in markets} | {m.quote for m in markets})
    assets = {n: _Asset(n) for n in names}
    books = [_Book(m, assets[m.base], assets[m.quote]) for m in markets]
    window = 0
    while True:
        t0_ms = start_ms + window * WINDOW_S * 1000
        if end_ms is not None and t0_ms >= end_ms:
            return
        # the random draws in a fixed order, every asset's grid first (by name), then each market's trades
        for name in names:
            assets[name].walk(rng)
        if on_window is not None:
            on_window(t0_ms, assets)
        parts = []
        for i, book in enumerate(books):
            trades = book.trades(rng)
            if trades is not None:
                t, buy, price, volume = trades
                parts.append((t, np.full(len(t), i, dtype=np.int64), buy, price, volume))
        window += 1
        if parts:
            yield _merge(t0_ms, parts)
        elif on_window is not None:
            yield None  # generate_rates needs every window, also one without trades


def _merge(t0_ms: int, parts: list[tuple]) -> tuple[list, ...]:
    """Columns (t, market index, buy, price, volume) of each market, merged in time order as lists; t in epoch ms."""
    t, *columns = (np.concatenate(c) for c in zip(*parts))
    order = np.argsort(t, kind="stable")
    ts = (t0_ms + np.floor(t[order] * 1000.0).astype(np.int64)).tolist()
    return (ts, *(c[order].tolist() for c in columns))


def generate_trades(
    seed: int = DEFAULT_SEED,
    start_ms: int = DEFAULT_START_MS,
    pairs=None,
    count: int | None = None,
    duration_s: float | None = None,
) -> Iterator[dict]:
    """Trades of the synthetic market in timestamp order (the lab's records).

    seed: random seed; start_ms: epoch ms of the market's start; pairs: see
    select_markets() (default: all of MARKETS); count: number of trades;
    duration_s: simulated seconds. With neither count nor duration the
    iterator is endless.
    """
    markets = select_markets(pairs)
    pricer = UsdPricer()
    end_ms = None if duration_s is None else start_ms + int(round(duration_s * 1000))
    emitted = 0
    # per-market constants, as lists for the inner loop
    m_exchange = [m.exchange for m in markets]
    m_base = [m.base for m in markets]
    m_quote = [m.quote for m in markets]
    for ts, mi, buys, prices, vols in _windows(markets, seed, start_ms, end_ms):
        for j in range(len(ts)):
            tsj = ts[j]
            if end_ms is not None and tsj >= end_ms:
                return
            i = mi[j]
            base = m_base[i]
            quote = m_quote[i]
            p = prices[j]
            yield {
                "exchange": m_exchange[i],
                "base": base,
                "quote": quote,
                "direction": "buy" if buys[j] else "sell",
                "price": p,
                "volume": vols[j],
                "timestamp": tsj,
                "priceUsd": pricer(base, quote, p),
            }
            emitted += 1
            if count is not None and emitted >= count:
                return


RATE_EVERY_MS = 1_000  # the rates stream: each asset's USD rate at most this often (and RATE_KEEP_ALIVE_MS)


def generate_rates(
    seed: int = DEFAULT_SEED,
    start_ms: int = DEFAULT_START_MS,
    pairs=None,
    duration_s: float | None = None,
    every_ms: int = RATE_EVERY_MS,
    keep_alive_ms: int = RATE_KEEP_ALIVE_MS,
) -> Iterator[dict]:
    """The USD rates of the synthetic market of generate_trades(seed, start_ms, pairs) in timestamp order:
    {"asset": "bitcoin", "rate_usd": 93012.5, "timestamp": ms}. Every `every_ms` from start_ms on, each asset
    of the markets whose rate changed since its last record gets one, and every asset at least every
    `keep_alive_ms`. The rate is the asset's fair USD price of the model (the one its trades' prices are drawn
    around: a trade's price is it x (1 + spread, basis and impact, a few basis points), so price x the quote's
    rate is about the trade's priceUsd); USD is 1. The same simulation as the trades': a pure function of its
    arguments, endless without duration_s."""
    if every_ms <= 0 or WINDOW_S * 1000 % every_ms:
        raise ValueError(f"every_ms must divide {WINDOW_S * 1000}, got {every_ms}")
    markets = select_markets(pairs)
    end_ms = None if duration_s is None else start_ms + int(round(duration_s * 1000))
    seen: list[tuple[int, dict]] = []
    sim = _windows(markets, seed, start_ms, end_ms, on_window=lambda t0, assets: seen.append((t0, assets)))
    last: dict[str, tuple[float, int]] = {}  # asset -> (rate, timestamp) of its last record
    for _ in sim:
        while seen:
            t0_ms, assets = seen.pop(0)
            grids = {name: a.grid_log for name, a in sorted(assets.items())}
            for offset in range(0, WINDOW_S * 1000, every_ms):
                ts = t0_ms + offset
                if end_ms is not None and ts >= end_ms:
                    return
                k, frac = divmod(offset, 1000)
                for name, grid in grids.items():
                    rate = rate_value(math.exp(grid[k] + frac / 1000 * (grid[k + 1] - grid[k])))
                    before = last.get(name)
                    if before is None or before[0] != rate or ts - before[1] >= keep_alive_ms:
                        last[name] = (rate, ts)
                        yield {"asset": name, "rate_usd": rate, "timestamp": ts}

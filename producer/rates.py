"""The rates stream: each asset's USD rate, a record {"asset": "bitcoin", "rate_usd": 93012.5, "timestamp": ms}
when it changes and at least every RATE_KEEP_ALIVE_MS per asset, written to its own topic (KAFKA_RATES_TOPIC)
beside the trades.

- synthetic source: the model's fair USD prices (producer.synthetic.generate_rates), merged in time order with
  the trades (with_rates);
- replay source: derived from the replayed trades by the rule of priceUsd (producer.assets.UsdPricer): an
  asset's rate is the price of its latest trade against USD or a USD stablecoin, in either direction; USD and
  the stablecoins are worth 1 (RatesFromTrades, rates_from_trades).

RatesTap sends the rate records of a merged stream to their own sink and passes the trades on, so the producer's
main loop (loop.py) moves trades only, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .assets import USD_LIKE
from .record import dumps

RATE_KEEP_ALIVE_MS = 5_000  # every asset's rate at least this often (of event time), changed or not


def rate_value(usd: float) -> float:
    """A USD rate as the rates stream sends it: 8 significant digits."""
    return float(f"{usd:.8g}")


class RatesFromTrades:
    """The replay rule: feed it trades in stream order; each call returns the rate records the trade makes
    (a changed rate at the trade's time), after the keep-alive records due by then (at a trade that is
    keep_alive_ms or more after an asset's last record, that asset's rate again, at the trade's time)."""

    def __init__(self, keep_alive_ms: int = RATE_KEEP_ALIVE_MS):
        self.keep_alive_ms = keep_alive_ms
        self.last: dict[str, tuple[float, int]] = {}  # asset -> (rate, time of its last record)
        self.newest = 0  # the newest trade time seen: keep-alive records are never older

    def _emit(self, asset: str, rate: float, ts: int, out: list) -> None:
        before = self.last.get(asset)
        if before is None or before[0] != rate or ts - before[1] >= self.keep_alive_ms:
            ts = max(ts, before[1]) if before else ts  # a rate's records in time order, a late trade too
            self.last[asset] = (rate, ts)
            out.append({"asset": asset, "rate_usd": rate, "timestamp": ts})

    def __call__(self, trade: dict) -> list[dict]:
        out: list[dict] = []
        base, quote, price, ts = trade.get("base"), trade.get("quote"), trade.get("price"), trade.get("timestamp")
        if not (isinstance(ts, int) and isinstance(price, (int, float)) and price > 0 and base and quote):
            return out  # a bad record makes no rate
        if ts > self.newest:  # time moved on: the keep-alive records due (a rate unchanged for keep_alive_ms)
            self.newest = ts
            for asset, (rate, at) in sorted(self.last.items()):
                if ts - at >= self.keep_alive_ms:
                    self._emit(asset, rate, ts, out)
        for usd_like in {base, quote} & USD_LIKE:
            self._emit(usd_like, 1.0, ts, out)
        if quote in USD_LIKE and base not in USD_LIKE:
            self._emit(base, rate_value(price), ts, out)
        elif base in USD_LIKE and quote not in USD_LIKE:
            self._emit(quote, rate_value(1.0 / price), ts, out)
        return out


def rates_from_trades(trades: Iterable[dict], keep_alive_ms: int = RATE_KEEP_ALIVE_MS) -> list[dict]:
    """The rates the producer sends while it replays `trades` (stream order), in the order it sends them."""
    rule = RatesFromTrades(keep_alive_ms)
    return [r for t in trades if type(t) is dict for r in rule(t)]


def with_rates(trades: Iterable, rates: Iterable[dict]) -> Iterator:
    """The trades (and the source's other items) with the rate records merged in, by timestamp: each rate before
    the first trade that is not older. Ends with the trades."""
    rates = iter(rates)
    pending = next(rates, None)
    for item in trades:
        if type(item) is dict:
            while pending is not None and pending["timestamp"] <= item["timestamp"]:
                yield pending
                pending = next(rates, None)
        yield item


def derived_rates(trades: Iterable) -> Iterator:
    """The replayed trades with the rate records the replay rule makes from them, each before its trade."""
    rule = RatesFromTrades()
    for item in trades:
        if type(item) is dict:
            yield from rule(item)
        yield item


class RatesTap:
    """Iterate over a merged stream: the rate records (those with an "asset" field) go to `sink` (their key: the
    asset), the rest is passed on. `sent` counts the rate records handed to the sink."""

    def __init__(self, items: Iterable, sink):
        self.items = items
        self.sink = sink
        self.sent = 0

    def __iter__(self) -> Iterator:
        send = self.sink.send
        for item in self.items:
            if type(item) is dict and "asset" in item:
                payload, key = dumps(item), item["asset"].encode()
                while True:
                    try:
                        send(payload, key)
                        break
                    except BufferError:  # the client's queue is full: wait for acknowledgements
                        self.sink.wait_room()
                self.sent += 1
            else:
                yield item

    def close(self) -> None:
        close = getattr(self.items, "close", None)
        if close is not None:
            close()

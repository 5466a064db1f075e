"""Binance spot trade streams.

Docs: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
Subscribe on wss://stream.binance.com:9443/ws with
  {"method": "SUBSCRIBE", "params": ["btcusdt@trade", ...], "id": 1}
Trade: {"e":"trade","E":..,"s":"BTCUSDT","t":..,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}
(also "aggTrade", and the combined-stream wrapper {"stream":..,"data":{..}}).
`m` is "the buyer is the market maker": m=true means the taker SOLD -> "sell".
"""

from __future__ import annotations

from ..assets import asset_id, split_symbol
from ..record import Rejected, Skip, make_trade
from .base import WebsocketSource


class BinanceSource(WebsocketSource):
    name = "binance"
    default_url = "wss://stream.binance.com:9443/ws"
    default_pairs = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "ETH/BTC", "XRP/USDT", "BTC/EUR")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.symbols: dict[str, tuple[str, str]] = {}
        for pair in self.pairs:
            parts = split_symbol(pair)
            if parts:
                self.symbols[(parts[0] + parts[1]).upper()] = (asset_id(parts[0]), asset_id(parts[1]))

    def streams(self) -> list[str]:
        return [f"{(b + q).lower()}@trade" for b, q in self.ticker_pairs()]

    def subscribe_messages(self) -> list:
        return [{"method": "SUBSCRIBE", "params": self.streams(), "id": 1}]

    def pair(self, symbol: str) -> tuple[str, str]:
        ids = self.symbols.get(symbol.upper())
        if ids is None:
            parts = split_symbol(symbol)
            if parts is None:
                raise Rejected("unknown symbol", symbol)
            ids = self.symbols[symbol.upper()] = (asset_id(parts[0]), asset_id(parts[1]))
        return ids

    def parse(self, msg) -> list:
        if not isinstance(msg, dict):
            raise Rejected("unknown message", type(msg).__name__)
        if "data" in msg and "stream" in msg:
            msg = msg["data"]
            if not isinstance(msg, dict):
                raise Rejected("malformed message", "data is not an object")
        event = msg.get("e")
        if event in ("trade", "aggTrade"):
            m = msg["m"]
            if m is True:
                side = "sell"
            elif m is False:
                side = "buy"
            else:
                raise Rejected("unknown side", repr(m))
            base, quote = self.pair(msg["s"])
            return [make_trade(self.name, base, quote, side, msg["p"], msg["q"], msg["T"])]
        if "result" in msg and "id" in msg:
            return []  # reply to SUBSCRIBE
        if "error" in msg:
            return [Skip("exchange error", str(msg["error"])[:80])]
        raise Rejected("unknown message", str(event))

"""Gemini market data v2 (an extra live source; the captures include it).

Docs: https://docs.gemini.com/websocket-api/#market-data-version-2
Subscribe on wss://api.gemini.com/v2/marketdata with
  {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD", ...]}]}
Trade: {"type":"trade","symbol":"BTCUSD","event_id":3575573053,"timestamp":1601617445612,
        "price":"10000.00","quantity":"0.01","side":"buy"}; `side` is the taker's.
The first "l2_updates" of a symbol carries the book and a `trades` array of
trades from BEFORE the subscription (repeated on every reconnect): ignored,
like heartbeats.
"""

from __future__ import annotations

from ..assets import pair_ids
from ..record import Rejected, Skip, make_trade
from .base import WebsocketSource


class GeminiSource(WebsocketSource):
    name = "gemini"
    default_url = "wss://api.gemini.com/v2/marketdata"
    default_pairs = ("BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC", "BTC/EUR")

    def subscribe_messages(self) -> list:
        symbols = [b + q for b, q in self.ticker_pairs()]
        return [{"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": symbols}]}]

    def parse(self, msg) -> list:
        if not isinstance(msg, dict):
            raise Rejected("unknown message", type(msg).__name__)
        kind = msg.get("type")
        if kind == "trade":
            ids = pair_ids(msg["symbol"])
            if ids is None:
                raise Rejected("unknown symbol", msg["symbol"])
            return [make_trade(self.name, ids[0], ids[1], msg["side"], msg["price"], msg["quantity"], msg["timestamp"])]
        if kind in ("l2_updates", "heartbeat", "candles_1m_updates", "auction_result", "auction_indicative"):
            return []
        if kind == "error" or msg.get("result") == "error":
            return [Skip("exchange error", str(msg.get("reason") or msg.get("message"))[:80])]
        raise Rejected("unknown message", str(kind))

"""Coinbase Exchange websocket feed, `matches` channel.

Docs: https://docs.cdp.coinbase.com/exchange/websocket-feed/channels#match
Subscribe on wss://ws-feed.exchange.coinbase.com with
  {"type": "subscribe", "product_ids": ["BTC-USD", ...], "channels": ["matches", "heartbeat"]}
Trade: {"type":"match","trade_id":10,"sequence":50,"maker_order_id":"..","taker_order_id":"..",
        "time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}
`side` is the MAKER order's side: side "sell" = the taker bought -> "buy", and vice versa.
"last_match" (sent once after subscribing: a trade from before the subscription,
repeated on every reconnect) is ignored, like "subscriptions" and "heartbeat".
"""

from __future__ import annotations

from ..assets import pair_ids
from ..record import Rejected, Skip, iso_to_ms, make_trade
from .base import WebsocketSource

_TAKER = {"sell": "buy", "buy": "sell"}
_CONTROL = {"subscriptions", "heartbeat", "last_match", "status", "ticker"}


class CoinbaseSource(WebsocketSource):
    name = "coinbase"
    default_url = "wss://ws-feed.exchange.coinbase.com"
    default_pairs = ("BTC-USD", "ETH-USD", "SOL-USD", "ETH-BTC", "XRP-USD", "BTC-EUR")

    def product_ids(self) -> list[str]:
        return [f"{b}-{q}" if q else b for b, q in self.ticker_pairs()]

    def subscribe_messages(self) -> list:
        return [{"type": "subscribe", "product_ids": self.product_ids(), "channels": ["matches", "heartbeat"]}]

    def parse(self, msg) -> list:
        if not isinstance(msg, dict):
            raise Rejected("unknown message", type(msg).__name__)
        kind = msg.get("type")
        if kind == "match":
            side = msg["side"]
            if side not in _TAKER:
                raise Rejected("unknown side", repr(side))
            ids = pair_ids(msg["product_id"])
            if ids is None:
                raise Rejected("unknown symbol", msg["product_id"])
            return [
                make_trade(self.name, ids[0], ids[1], _TAKER[side], msg["price"], msg["size"], iso_to_ms(msg["time"]))
            ]
        if kind in _CONTROL:
            return []
        if kind == "error":
            return [Skip("exchange error", str(msg.get("message"))[:80])]
        raise Rejected("unknown message", str(kind))

"""Bitstamp websocket v2, `live_trades_<pair>` channels.

Docs: https://www.bitstamp.net/websocket/v2/
Subscribe on wss://ws.bitstamp.net with one message per pair:
  {"event": "bts:subscribe", "data": {"channel": "live_trades_btcusd"}}
Trade: {"event":"trade","channel":"live_trades_btcusd","data":{"id":..,"timestamp":"1641343699",
        "amount":0.0792,"amount_str":"0.07920000","price":3805.44,"price_str":"3805.44","type":0,
        "microtimestamp":"1641343699596000","buy_order_id":..,"sell_order_id":..}}
`type` 0 = buy, 1 = sell (the taker's side). "bts:request_reconnect" makes us reconnect.
"""

from __future__ import annotations

from ..assets import pair_ids
from ..record import Rejected, Skip, epoch_ms, make_trade, seconds_to_ms
from .base import ReconnectRequested, WebsocketSource

_SIDE = {0: "buy", 1: "sell"}


class BitstampSource(WebsocketSource):
    name = "bitstamp"
    default_url = "wss://ws.bitstamp.net"
    default_pairs = ("BTC/USD", "ETH/USD", "BTC/EUR", "XRP/EUR", "SOL/USD", "USDT/EUR")

    def channels(self) -> list[str]:
        return ["live_trades_" + (b + q).lower() for b, q in self.ticker_pairs()]

    def subscribe_messages(self) -> list:
        return [{"event": "bts:subscribe", "data": {"channel": c}} for c in self.channels()]

    def parse(self, msg) -> list:
        if not isinstance(msg, dict):
            raise Rejected("unknown message", type(msg).__name__)
        event = msg.get("event")
        if event == "trade":
            channel = msg["channel"]
            if not channel.startswith("live_trades_"):
                raise Rejected("unknown message", channel)
            ids = pair_ids(channel[len("live_trades_") :])
            if ids is None:
                raise Rejected("unknown symbol", channel)
            d = msg["data"]
            kind = d["type"]
            if isinstance(kind, bool) or kind not in _SIDE:
                raise Rejected("unknown side", repr(kind))
            if "microtimestamp" in d:
                ts = d["microtimestamp"]
                if not (isinstance(ts, str) and ts.isdigit()):
                    raise Rejected("invalid timestamp", repr(ts))
                ts = epoch_ms(int(ts) // 1000)
            else:
                ts = seconds_to_ms(d["timestamp"])
            price = d.get("price_str", d.get("price"))
            amount = d.get("amount_str", d.get("amount"))
            return [make_trade(self.name, ids[0], ids[1], _SIDE[kind], price, amount, ts)]
        if event in ("bts:subscription_succeeded", "bts:heartbeat", "bts:unsubscription_succeeded"):
            return []
        if event == "bts:request_reconnect":
            raise ReconnectRequested("bts:request_reconnect")
        if event == "bts:error":
            return [Skip("exchange error", str(msg.get("data"))[:80])]
        raise Rejected("unknown message", str(event))

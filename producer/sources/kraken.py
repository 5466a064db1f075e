"""Kraken websocket v2, `trade` channel (and v1 array messages, as in recordings).

Docs: https://docs.kraken.com/api/docs/websocket-v2/trade
Subscribe on wss://ws.kraken.com/v2 with
  {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD", ...], "snapshot": false}}
Trade: {"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,
        "qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"}]}
`side` is the taker's. snapshot=false: a reconnect does not repeat the last 50 trades.
v1 (wss://ws.kraken.com): [channelID, [[price, volume, time, side "b"|"s", type, misc], ...], "trade", "XBT/USD"].
"""

from __future__ import annotations

from ..assets import pair_ids
from ..record import Rejected, Skip, iso_to_ms, make_trade, seconds_to_ms
from .base import WebsocketSource

_V1_SIDE = {"b": "buy", "s": "sell"}


class KrakenSource(WebsocketSource):
    name = "kraken"
    default_url = "wss://ws.kraken.com/v2"
    default_pairs = ("BTC/USD", "ETH/USD", "SOL/USD", "ETH/BTC", "XRP/EUR", "BTC/EUR", "USDT/EUR")

    def subscribe_messages(self) -> list:
        symbols = [f"{b}/{q}" if q else b for b, q in self.ticker_pairs()]
        return [{"method": "subscribe", "params": {"channel": "trade", "symbol": symbols, "snapshot": False}}]

    def _ids(self, symbol) -> tuple[str, str]:
        ids = pair_ids(symbol) if isinstance(symbol, str) else None
        if ids is None:
            raise Rejected("unknown symbol", repr(symbol))
        return ids

    def parse(self, msg) -> list:
        if isinstance(msg, list):
            return self._parse_v1(msg)
        if not isinstance(msg, dict):
            raise Rejected("unknown message", type(msg).__name__)
        channel = msg.get("channel")
        if channel == "trade":
            if msg.get("type") not in ("update", "snapshot"):
                raise Rejected("unknown message", f"trade/{msg.get('type')}")
            out = []
            for t in msg["data"]:
                try:
                    base, quote = self._ids(t["symbol"])
                    out.append(
                        make_trade(self.name, base, quote, t["side"], t["price"], t["qty"], iso_to_ms(t["timestamp"]))
                    )
                except Rejected as e:
                    out.append(Skip.of(e))
                except KeyError as e:
                    out.append(Skip("missing field", str(e)))
                except TypeError as e:
                    out.append(Skip("malformed message", f"{type(e).__name__}: {e}"))
            return out
        if channel in ("heartbeat", "status") or msg.get("method") in ("subscribe", "pong", "unsubscribe"):
            if msg.get("success") is False:
                return [Skip("exchange error", str(msg.get("error"))[:80])]
            return []
        if msg.get("event") in ("heartbeat", "systemStatus", "subscriptionStatus", "pong"):  # v1
            return []
        raise Rejected("unknown message", str(channel or msg.get("event") or msg.get("method")))

    def _parse_v1(self, msg: list) -> list:
        if len(msg) < 4 or msg[-2] != "trade":
            raise Rejected("unknown message", "v1 array")
        base, quote = self._ids(msg[-1])
        out = []
        for t in msg[1]:
            try:
                side = _V1_SIDE.get(t[3], t[3])
                out.append(make_trade(self.name, base, quote, side, t[0], t[1], seconds_to_ms(t[2])))
            except Rejected as e:
                out.append(Skip.of(e))
            except (IndexError, TypeError) as e:
                out.append(Skip("malformed message", f"{type(e).__name__}: {e}"))
        return out

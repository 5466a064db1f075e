"""The original lab's CoinCap trades websocket (wss://ws.coincap.io/trades/<exchange>,
retired by CoinCap on 2025-03-31), for anyone with a compatible feed (--url).

Each message is already a trade record of the lab:
  {"exchange":"bitso","base":"xrp","quote":"tether","direction":"buy","price":0.6174,
   "volume":180,"timestamp":1651686997237,"priceUsd":0.6178606418423568}
No subscription message. priceUsd is kept as sent; when absent or null it is
computed by the producer's rule (see producer/README.md).
"""

from __future__ import annotations

from ..record import validate_record
from .base import WebsocketSource


class CoincapSource(WebsocketSource):
    name = "coincap"
    default_url = "wss://ws.coincap.io/trades/binance"
    default_pairs = ()

    def parse(self, msg) -> list:
        return [validate_record(msg)]

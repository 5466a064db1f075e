"""Live exchange adapters, by --source name."""

from .base import IGNORED, WebsocketSource
from .binance import BinanceSource
from .bitstamp import BitstampSource
from .coinbase import CoinbaseSource
from .coincap import CoincapSource
from .gemini import GeminiSource
from .kraken import KrakenSource

LIVE_SOURCES: dict[str, type[WebsocketSource]] = {
    "binance": BinanceSource,
    "coinbase": CoinbaseSource,
    "kraken": KrakenSource,
    "bitstamp": BitstampSource,
    "coincap": CoincapSource,
    "gemini": GeminiSource,
}

__all__ = ["IGNORED", "LIVE_SOURCES", "WebsocketSource"]

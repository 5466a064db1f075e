"""Exchange symbols -> CoinCap-style asset ids, pair splitting, USD pricing.

The lab's records name assets the way CoinCap did ("bitcoin", "tether",
"united-states-dollar", ...). Exchanges use tickers ("BTC", "XBT", "USDT").
`asset_id()` maps a ticker through SYMBOLS; a ticker that is not in the table
is lower-cased and kept (never dropped), so a new listing still flows through
as e.g. "pengu". Add a line to SYMBOLS to give it its CoinCap id.
"""

from __future__ import annotations

# ticker (upper case, as exchanges print it) -> CoinCap asset id
SYMBOLS: dict[str, str] = {
    # fiat (CoinCap ids)
    "USD": "united-states-dollar",
    "ZUSD": "united-states-dollar",
    "EUR": "euro",
    "ZEUR": "euro",
    "GBP": "british-pound-sterling",
    "ZGBP": "british-pound-sterling",
    "JPY": "japanese-yen",
    "CHF": "swiss-franc",
    "CAD": "canadian-dollar",
    "AUD": "australian-dollar",
    "SGD": "singapore-dollar",
    "KRW": "south-korean-won",
    "TRY": "turkish-lira",
    "BRL": "brazilian-real",
    "MXN": "mexican-peso",
    "PLN": "polish-zloty",
    "UAH": "ukrainian-hryvnia",
    "ZAR": "south-african-rand",
    "ARS": "argentine-peso",
    "IDR": "indonesian-rupiah",
    # USD stablecoins
    "USDT": "tether",
    "USDC": "usd-coin",
    "BUSD": "binance-usd",
    "DAI": "multi-collateral-dai",
    "TUSD": "trueusd",
    "USDP": "paxos-standard",
    "PAX": "paxos-standard",
    "FDUSD": "first-digital-usd",
    "GUSD": "gemini-dollar",
    "PYUSD": "paypal-usd",
    "EURT": "tether-eurt",
    "EURC": "euro-coin",
    # crypto
    "BTC": "bitcoin",
    "XBT": "bitcoin",
    "XXBT": "bitcoin",
    "ETH": "ethereum",
    "XETH": "ethereum",
    "XRP": "xrp",
    "XXRP": "xrp",
    "BNB": "binance-coin",
    "SOL": "solana",
    "ADA": "cardano",
    "DOGE": "dogecoin",
    "XDG": "dogecoin",
    "TRX": "tron",
    "DOT": "polkadot",
    "LTC": "litecoin",
    "XLTC": "litecoin",
    "BCH": "bitcoin-cash",
    "ETC": "ethereum-classic",
    "LINK": "chainlink",
    "AVAX": "avalanche",
    "MATIC": "polygon",
    "POL": "polygon-ecosystem-token",
    "SHIB": "shiba-inu",
    "UNI": "uniswap",
    "XLM": "stellar",
    "XXLM": "stellar",
    "XMR": "monero",
    "XXMR": "monero",
    "ATOM": "cosmos",
    "NEAR": "near-protocol",
    "ALGO": "algorand",
    "FIL": "filecoin",
    "XTZ": "tezos",
    "AAVE": "aave",
    "MKR": "maker",
    "GRT": "the-graph",
    "MANA": "decentraland",
    "SAND": "the-sandbox",
    "AXS": "axie-infinity",
    "EOS": "eos",
    "KSM": "kusama",
    "WAVES": "waves",
    "SC": "siacoin",
    "OCEAN": "ocean-protocol",
    "OMG": "omg",
    "NKN": "nkn",
    "LRC": "loopring",
    "SKL": "skale-network",
    "NMR": "numeraire",
    "ALCX": "alchemix",
    "WBTC": "wrapped-bitcoin",
    "PEPE": "pepe",
    "SUI": "sui",
    "APT": "aptos",
    "ARB": "arbitrum",
    "OP": "optimism",
    "TON": "toncoin",
    "ICP": "internet-computer",
    "HBAR": "hedera-hashgraph",
    "VET": "vechain",
    "INJ": "injective-protocol",
    "FET": "fetch",
    "CRV": "curve-dao-token",
    "COMP": "compound",
    "SNX": "synthetix-network-token",
    "ZEC": "zcash",
    "XZEC": "zcash",
    "DASH": "dash",
    "BAT": "basic-attention-token",
    "ENJ": "enjin-coin",
    "CHZ": "chiliz",
    "1INCH": "1inch",
    "YFI": "yearn-finance",
    "SUSHI": "sushiswap",
    "ZRX": "0x",
    "QNT": "quant",
    "RUNE": "thorchain",
    "FTM": "fantom",
    "EGLD": "elrond-egld",
    "KAVA": "kava",
    "FLOW": "flow",
    "MINA": "mina",
    "RNDR": "render-token",
    "RENDER": "render-token",
    "PAXG": "pax-gold",
}

# Quote assets worth one US dollar: a trade quoted in one of these has
# priceUsd == price (stablecoins are taken at par; CoinCap used their market
# rate, which differs by a few basis points at most in normal times).
USD_LIKE: frozenset[str] = frozenset(
    {
        "united-states-dollar",
        "tether",
        "usd-coin",
        "binance-usd",
        "multi-collateral-dai",
        "trueusd",
        "paxos-standard",
        "first-digital-usd",
        "gemini-dollar",
        "paypal-usd",
    }
)

# Tickers that end concatenated exchange symbols ("BTCUSDT", "ethbtc"),
# longest first so that "USDT" wins over "USD" and "FDUSD" over "USD".
QUOTE_TICKERS: tuple[str, ...] = tuple(
    sorted(
        {
            "USDT",
            "USDC",
            "BUSD",
            "FDUSD",
            "TUSD",
            "USDP",
            "PAX",
            "DAI",
            "GUSD",
            "PYUSD",
            "USD",
            "EUR",
            "GBP",
            "JPY",
            "CHF",
            "CAD",
            "AUD",
            "SGD",
            "KRW",
            "TRY",
            "BRL",
            "MXN",
            "PLN",
            "UAH",
            "ZAR",
            "ARS",
            "IDR",
            "BTC",
            "XBT",
            "ETH",
            "BNB",
            "XRP",
            "TRX",
            "DOGE",
            "SOL",
            "EURT",
            "EURC",
        },
        key=len,
        reverse=True,
    )
)

_cache: dict[str, str] = {}


def asset_id(ticker: str) -> str:
    """CoinCap-style id of an exchange ticker; unknown tickers lower-cased."""
    try:
        return _cache[ticker]
    except KeyError:
        pass
    key = ticker.strip()
    result = SYMBOLS.get(key.upper(), key.lower())
    _cache[ticker] = result
    return result


def split_symbol(symbol: str) -> tuple[str, str] | None:
    """Split an exchange pair symbol into (base ticker, quote ticker).

    Handles separated forms ("BTC/USD", "BTC-USD", "btc_usd") and concatenated
    ones ("BTCUSDT", "ethbtc") by the longest known quote suffix. None when a
    concatenated symbol ends in no known quote ticker.
    """
    s = symbol.strip()
    for sep in ("/", "-", "_", ":"):
        if sep in s:
            base, _, quote = s.partition(sep)
            if base and quote:
                return base, quote
            return None
    up = s.upper()
    for q in QUOTE_TICKERS:
        if up.endswith(q) and len(up) > len(q):
            return s[: len(s) - len(q)], s[len(s) - len(q) :]
    return None


def pair_ids(symbol: str) -> tuple[str, str] | None:
    """(base id, quote id) of an exchange pair symbol, or None."""
    parts = split_symbol(symbol)
    if parts is None:
        return None
    return asset_id(parts[0]), asset_id(parts[1])


class UsdPricer:
    """priceUsd of a trade, from the stream seen so far.

    - quote worth one USD (USD or a USD stablecoin): priceUsd = price;
    - otherwise priceUsd = price x (latest USD price of the quote asset), where
      the latest USD price of an asset comes from the latest trade of that asset
      against USD (or a USD stablecoin) in either direction, on any exchange of
      the stream: "bitcoin/tether" at 95000 makes bitcoin worth 95000 USD;
      "tether/euro" at 0.92 makes euro worth 1/0.92 USD;
    - no such trade seen yet: None (JSON null).
    """

    __slots__ = ("usd",)

    def __init__(self) -> None:
        self.usd: dict[str, float] = {}

    def __call__(self, base: str, quote: str, price: float) -> float | None:
        if quote in USD_LIKE:
            if base not in USD_LIKE:
                self.usd[base] = price
            return price
        if base in USD_LIKE:
            self.usd[quote] = 1.0 / price
            return 1.0
        rate = self.usd.get(quote)
        return None if rate is None else price * rate

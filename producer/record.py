"""The lab's trade record: building, validating and (de)serializing it.

One JSON object per trade with exactly these fields, in this order:
{"exchange","base","quote","direction","price","volume","timestamp","priceUsd"}
- timestamp: epoch milliseconds (int), 2009..2286 (else the unit is wrong);
- direction: "buy" | "sell", the side of the aggressor (taker);
- price, volume: positive finite numbers; priceUsd: number or null.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

try:  # orjson is ~5x faster than json; the hot loop of --speed max uses it
    import orjson as _orjson

    dumps = _orjson.dumps  # -> bytes
    loads = _orjson.loads
    JSONDecodeError = _orjson.JSONDecodeError
except ImportError:  # pragma: no cover - orjson is pinned in requirements.txt
    import json as _json

    def dumps(obj) -> bytes:
        return _json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()

    loads = _json.loads
    JSONDecodeError = ValueError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
FIELDS = ("exchange", "base", "quote", "direction", "price", "volume", "timestamp", "priceUsd")
DIRECTIONS = ("buy", "sell")


class Rejected(Exception):
    """A message or trade that is not forwarded; `reason` is the count key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Skip:
    """Yielded by sources in place of a trade that was rejected."""

    __slots__ = ("reason", "detail")

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail

    @classmethod
    def of(cls, exc: Rejected) -> Skip:
        return cls(exc.reason, exc.detail)

    def __repr__(self) -> str:
        return f"Skip({self.reason!r}, {self.detail!r})"


def positive(value, what: str) -> float:
    """A positive finite float from a JSON number or numeric string."""
    if isinstance(value, bool) or value is None:
        raise Rejected(f"invalid {what}", repr(value))
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise Rejected(f"invalid {what}", repr(value)) from None
    if not math.isfinite(x):
        raise Rejected(f"invalid {what}", repr(value))
    if x <= 0:
        raise Rejected(f"non-positive {what}", repr(value))
    return x


# Plausible trade times: no crypto trade before 2009 (Bitcoin's first block: 2009-01-03), and the
# processor's own range ends in 2286 (13 digits). Outside them a timestamp is in the wrong unit.
MIN_TIMESTAMP_MS = 1_230_768_000_000  # 2009-01-01T00:00:00Z
MAX_TIMESTAMP_MS = 9_999_999_999_999  # 2286-11-20T17:46:39.999Z


def ms_to_iso(ms: int) -> str:
    """Epoch ms as '2025-01-01T00:00:00.000Z' (or '?' if out of datetime's range), for messages."""
    try:
        return (_EPOCH + ms * _MS).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except OverflowError:
        return "?"


def implausible_timestamp(value: int) -> Rejected:
    """The rejection of an epoch-ms value outside 2009..2286, with the likely unit mistake."""
    if value < MIN_TIMESTAMP_MS:
        hint = ""
        if MIN_TIMESTAMP_MS <= value * 1000 <= MAX_TIMESTAMP_MS:
            hint = f"; seconds instead of milliseconds? ({value} s = {ms_to_iso(value * 1000)})"
        return Rejected("timestamp before 2009", f"{value} ms = {ms_to_iso(value)}{hint}")
    for unit, div in (("microseconds", 1000), ("nanoseconds", 1_000_000)):
        if MIN_TIMESTAMP_MS <= value // div <= MAX_TIMESTAMP_MS:
            return Rejected(
                "timestamp after 2286", f"{value} ms; {unit} instead of milliseconds? ({ms_to_iso(value // div)})"
            )
    return Rejected("timestamp after 2286", f"{value} ms")


def epoch_ms(value) -> int:
    if isinstance(value, bool):
        raise Rejected("invalid timestamp", repr(value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value <= 0:
        raise Rejected("invalid timestamp", repr(value))
    if not MIN_TIMESTAMP_MS <= value <= MAX_TIMESTAMP_MS:
        raise implausible_timestamp(value)
    return value


def direction(side) -> str:
    if side in DIRECTIONS:
        return side
    raise Rejected("unknown side", repr(side))


def make_trade(exchange: str, base: str, quote: str, direction_: str, price, volume, timestamp) -> dict:
    """A validated trade record (raises Rejected); priceUsd null, for the caller to fill in."""
    return {
        "exchange": exchange,
        "base": base,
        "quote": quote,
        "direction": direction(direction_),
        "price": positive(price, "price"),
        "volume": positive(volume, "volume"),
        "timestamp": epoch_ms(timestamp),
        "priceUsd": None,
    }


def validate_record(obj) -> dict:
    """Check a decoded record of the lab's format; returns it normalized.

    Extra fields are dropped; a missing priceUsd becomes null.
    """
    if not isinstance(obj, dict):
        raise Rejected("malformed message", f"not a JSON object: {type(obj).__name__}")
    for name in FIELDS[:7]:
        if name not in obj:
            raise Rejected("missing field", name)
    for name in ("exchange", "base", "quote"):
        if not isinstance(obj[name], str) or not obj[name]:
            raise Rejected("malformed message", f"{name}={obj[name]!r}")
    pu = obj.get("priceUsd")
    if pu is not None:
        try:
            pu = float(pu)
            if not math.isfinite(pu):
                pu = None
        except (TypeError, ValueError):
            pu = None
    trade = make_trade(
        obj["exchange"], obj["base"], obj["quote"], obj["direction"], obj["price"], obj["volume"], obj["timestamp"]
    )
    trade["priceUsd"] = pu
    return trade


def iso_to_ms(text) -> int:
    """'2021-04-17T16:43:37.089723Z' -> epoch ms (exact integer arithmetic)."""
    if not isinstance(text, str):
        raise Rejected("invalid timestamp", repr(text))
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise Rejected("invalid timestamp", repr(text)) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return epoch_ms((t - _EPOCH) // _MS)


def seconds_to_ms(value) -> int:
    """'1618678133.123456' or 1618678133 (seconds) -> epoch ms, without float error."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = repr(value)
    if not isinstance(value, str):
        raise Rejected("invalid timestamp", repr(value))
    whole, _, frac = value.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise Rejected("invalid timestamp", repr(value))
    return epoch_ms(int(whole) * 1000 + int((frac + "000")[:3]))

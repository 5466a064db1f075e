"""Grafana's time range: `now-30m`, `now-6h`, `now-1d/d`, `now/w`, or absolute times.

The dashboard's `time` ({"from": "now-30m", "to": "now"}) and whatever a
student types are resolved as Grafana's `dateMath.parse` does: `now`, then
any number of `+N unit` / `-N unit` steps (units s m h d w M y; months and
years are calendar steps, the day clamped to the month's length as moment.js
does), then an optional `/unit` rounding: to the start of the unit for `from`,
to its last millisecond for `to`. Rounding is done in UTC (the dashboard says
`timezone: browser`; the notebooks work in UTC like the rest of the project)
and weeks start on Monday (ISO). `now` has millisecond precision, as in a
browser. Absolute times: a datetime, an ISO 8601 string, or epoch milliseconds.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["TimeRangeError", "resolve", "time_range", "utcnow"]

_UNITS = "smhdwMy"
_STEP = re.compile(r"([+-])(\d*)([smhdwMy])")


class TimeRangeError(ValueError):
    """A time Grafana would not accept."""


def utcnow() -> datetime:
    """Now in UTC, truncated to the millisecond as a browser's clock."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _add_months(t: datetime, months: int) -> datetime:
    index = t.year * 12 + t.month - 1 + months
    year, month = divmod(index, 12)
    day = min(t.day, calendar.monthrange(year, month + 1)[1])
    return t.replace(year=year, month=month + 1, day=day)


def _step(t: datetime, sign: int, n: int, unit: str) -> datetime:
    if unit == "M":
        return _add_months(t, sign * n)
    if unit == "y":
        return _add_months(t, sign * n * 12)
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[unit]
    return t + sign * timedelta(seconds=n * seconds)


def _start_of(t: datetime, unit: str) -> datetime:
    if unit == "s":
        return t.replace(microsecond=0)
    if unit == "m":
        return t.replace(second=0, microsecond=0)
    if unit == "h":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        return day - timedelta(days=day.weekday())
    if unit == "M":
        return day.replace(day=1)
    return day.replace(month=1, day=1)  # "y"


def _end_of(t: datetime, unit: str) -> datetime:
    start = _start_of(t, unit)
    nxt = _step(start, 1, 1, unit)
    return nxt - timedelta(milliseconds=1)


def _absolute(value: Any) -> datetime:
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        t = datetime.fromtimestamp(value / 1000, timezone.utc)
    elif isinstance(value, str) and value.strip().isdigit():
        t = datetime.fromtimestamp(int(value.strip()) / 1000, timezone.utc)
    elif isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise TimeRangeError(
                f"cannot read the time {value!r}: write it as Grafana does, relative ('now', 'now-30m', "
                "'now-6h', 'now-1d/d') or absolute ('2025-01-01T00:00:00Z', epoch milliseconds)"
            ) from None
    else:
        raise TimeRangeError(f"a time must be a string, a datetime or epoch milliseconds, not {type(value).__name__}")
    if t.tzinfo is None:  # naive times are UTC, as everywhere in the project
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def resolve(value: Any, now: datetime | None = None, round_up: bool = False) -> datetime:
    """One end of a time range as a UTC datetime (`round_up` for the `to` end, as Grafana's dateMath)."""
    if not (isinstance(value, str) and value.strip().startswith("now")):
        return _absolute(value)
    text = value.strip()
    t = _absolute(now) if now is not None else utcnow()
    rest = text[3:]
    rounding = None
    if "/" in rest:
        rest, rounding = rest.split("/", 1)
        if rounding not in tuple(_UNITS):
            raise TimeRangeError(f"{text!r}: '/{rounding}' is not a unit to round to (one of s m h d w M y)")
    pos = 0
    for m in _STEP.finditer(rest):
        if m.start() != pos:
            break
        t = _step(t, 1 if m.group(1) == "+" else -1, int(m.group(2) or 1), m.group(3))
        pos = m.end()
    if pos != len(rest):
        raise TimeRangeError(
            f"{text!r} is not a Grafana relative time: 'now', then steps such as '-30m', '-6h', "
            "'+1d' (units s m h d w M y), then an optional rounding such as '/d'"
        )
    if rounding:
        t = _end_of(t, rounding) if round_up else _start_of(t, rounding)
    return t


def time_range(time_from: Any, time_to: Any, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(from, to) in UTC, as Grafana resolves a dashboard's time picker."""
    now = now if now is not None else utcnow()
    t_from, t_to = resolve(time_from, now), resolve(time_to, now, round_up=True)
    if t_from > t_to:
        raise TimeRangeError(
            f"the time range {time_from!r} to {time_to!r} ends before it starts "
            f"({t_from.isoformat()} > {t_to.isoformat()})"
        )
    return t_from, t_to

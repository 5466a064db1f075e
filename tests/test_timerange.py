"""Grafana's time picker forms, resolved as Grafana's dateMath.parse does, with a fixed 'now'."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from workbook.dashboard import grafana, timerange

NOW = datetime(2025, 3, 31, 14, 25, 36, 789000, tzinfo=timezone.utc)  # a Monday


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, round_up, expected",
    [
        ("now", False, NOW),
        ("now-30m", False, utc(2025, 3, 31, 13, 55, 36, 789000)),
        ("now-6h", False, utc(2025, 3, 31, 8, 25, 36, 789000)),
        ("now+1h", False, utc(2025, 3, 31, 15, 25, 36, 789000)),
        ("now-1h-30m", False, utc(2025, 3, 31, 12, 55, 36, 789000)),  # steps chain
        ("now-h", False, utc(2025, 3, 31, 13, 25, 36, 789000)),  # no number: 1
        ("now-10s", False, utc(2025, 3, 31, 14, 25, 26, 789000)),
        ("now-2d", False, utc(2025, 3, 29, 14, 25, 36, 789000)),
        ("now-1w", False, utc(2025, 3, 24, 14, 25, 36, 789000)),
        ("now-1M", False, utc(2025, 2, 28, 14, 25, 36, 789000)),  # calendar month, day clamped as moment.js
        ("now-1y", False, utc(2024, 3, 31, 14, 25, 36, 789000)),
        # rounding: to the start of the unit for 'from', its last millisecond for 'to'
        ("now/d", False, utc(2025, 3, 31)),
        ("now/d", True, utc(2025, 3, 31, 23, 59, 59, 999000)),
        ("now-1d/d", False, utc(2025, 3, 30)),
        ("now-1d/d", True, utc(2025, 3, 30, 23, 59, 59, 999000)),
        ("now/h", False, utc(2025, 3, 31, 14)),
        ("now/m", True, utc(2025, 3, 31, 14, 25, 59, 999000)),
        ("now/w", False, utc(2025, 3, 31)),  # ISO weeks start on Monday
        ("now-1w/w", False, utc(2025, 3, 24)),
        ("now-1w/w", True, utc(2025, 3, 30, 23, 59, 59, 999000)),
        ("now/M", False, utc(2025, 3, 1)),
        ("now/M", True, utc(2025, 3, 31, 23, 59, 59, 999000)),
        ("now-1M/M", True, utc(2025, 2, 28, 23, 59, 59, 999000)),
        ("now/y", False, utc(2025, 1, 1)),
        ("now/y", True, utc(2025, 12, 31, 23, 59, 59, 999000)),
    ],
)
def test_relative_times_as_grafana_resolves_them(text, round_up, expected):
    assert timerange.resolve(text, NOW, round_up=round_up) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2025-01-01T00:00:00Z", utc(2025, 1, 1)),
        ("2025-01-01T01:00:00+01:00", utc(2025, 1, 1)),
        ("2025-01-01 00:30", utc(2025, 1, 1, 0, 30)),  # naive: UTC
        ("1735689600000", utc(2025, 1, 1)),  # epoch milliseconds, as in a Grafana URL
        (1735689600000, utc(2025, 1, 1)),
        (datetime(2025, 1, 1), utc(2025, 1, 1)),
    ],
)
def test_absolute_times(value, expected):
    assert timerange.resolve(value, NOW) == expected


def test_the_dashboards_default_range_is_the_last_30_minutes():
    time = grafana.load_dashboard()["time"]
    assert timerange.time_range(time["from"], time["to"], now=NOW) == (utc(2025, 3, 31, 13, 55, 36, 789000), NOW)
    # the sample data's half hour, as the notebook's fixed-data cells see it with 'now' at its end
    assert timerange.time_range("now-30m", "now", now="2025-01-01T00:30:00Z") == (
        utc(2025, 1, 1),
        utc(2025, 1, 1, 0, 30),
    )


def test_now_has_millisecond_precision_like_a_browser():
    assert timerange.utcnow().microsecond % 1000 == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("now-5x", "not a Grafana relative time"),
        ("now-", "not a Grafana relative time"),
        ("now/q", "not a unit to round to"),
        ("yesterday", "cannot read the time 'yesterday'"),
    ],
)
def test_bad_times_say_what_is_accepted(text, message):
    with pytest.raises(timerange.TimeRangeError, match=message):
        timerange.resolve(text, NOW)


def test_a_range_that_ends_before_it_starts():
    with pytest.raises(timerange.TimeRangeError, match="ends before it starts"):
        timerange.time_range("now", "now-1h", now=NOW)

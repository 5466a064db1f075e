"""Notebook 08's time-zone experiment on Flink 2.0: the session zone (`SET 'table.local-time-zone' = ...` in a
cell) moves how TIMESTAMP_LTZ instants are shown and where day windows of a TIMESTAMP_LTZ time attribute start
(CUMULATE's "today"); it does not move the instants themselves nor minute windows (a whole-hour offset)."""

from __future__ import annotations

import pandas as pd
import pytest

from workbook.course import feedback

pytestmark = pytest.mark.flink
FIRST = """SELECT MIN(ts) AS first_ts, CAST(MIN(ts) AS STRING) AS shown FROM valid_trades"""
MINUTES = """SELECT window_start, COUNT(*) AS trades
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end"""
TODAY = """SELECT window_start, window_end, COUNT(*) AS trades
FROM TABLE(CUMULATE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY))
GROUP BY window_start, window_end"""


def _in(zone: str, sql: str, **options) -> pd.DataFrame:
    session = feedback.session()
    session.run_cell(f"SET 'table.local-time-zone' = '{zone}'")
    try:
        return session.run_cell(sql, **options).frame
    finally:
        session.run_cell("RESET 'table.local-time-zone'")


@pytest.mark.parametrize("arrow", ["1", "0"])
def test_an_instant_is_the_same_instant_shown_in_the_session_zone(arrow, monkeypatch):
    monkeypatch.setenv("WORKBOOK_ARROW_COLLECT", arrow)  # our Arrow collection, and PyFlink's own (mended)
    utc, ny = _in("UTC", FIRST), _in("America/New_York", FIRST)
    assert utc["first_ts"][0] == ny["first_ts"][0]  # the same instant
    assert str(ny["first_ts"][0].tz) == "America/New_York"
    assert utc["shown"][0] == "2025-01-01 00:00:00.093" and ny["shown"][0] == "2024-12-31 19:00:00.093"


def test_minute_windows_keep_their_trades_and_show_local_wall_times():
    utc, ny = _in("UTC", MINUTES), _in("America/New_York", MINUTES)
    assert list(utc["trades"]) == list(ny["trades"])
    assert list(utc["window_start"] - ny["window_start"]) == [pd.Timedelta(hours=5)] * len(utc)


def test_cumulates_today_is_the_session_zones_day():
    utc, ny = _in("UTC", TODAY, limit=1), _in("America/New_York", TODAY, limit=1)
    assert (str(utc["window_start"][0]), str(utc["window_end"][0])) == ("2025-01-01 00:00:00", "2025-01-01 01:00:00")
    # New York's day began at 2024-12-31 00:00 local; the trades (19:00-19:08 local) fall in its 20th hour
    assert (str(ny["window_start"][0]), str(ny["window_end"][0])) == ("2024-12-31 00:00:00", "2024-12-31 20:00:00")
    assert utc["trades"][0] == ny["trades"][0]


def test_reset_goes_back_to_utc():
    _in("America/New_York", FIRST)  # sets the zone, then RESET
    assert feedback.session().run_cell(FIRST).frame["shown"][0] == "2025-01-01 00:00:00.093"

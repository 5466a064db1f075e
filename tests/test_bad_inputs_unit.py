"""Unit tests of the bad-input guards that need no services: which Kafka record values count
as readable (as Flink's JSON format reads them), the edges of a partition, MAX_AHEAD_SECONDS."""

from __future__ import annotations

import pytest

from workbook.config import load_config
from workbook.pipeline import edges, statements


@pytest.mark.parametrize(
    "value, ok",
    [
        (b'{"base": "bitcoin"}', True),
        (b'  {"a": 1} trailing', True),  # Flink's parser stops after the first value
        (b"{}", True),
        (b"[1, 2]", False),
        (b"42", False),
        (b"null", False),
        (b'"text"', False),
        (b"", False),
        (None, False),
        (b"{truncated", False),
        (b"\xff\xfe{", False),
        (b'{"price": NaN}', False),  # not JSON (Jackson refuses it too)
    ],
)
def test_readable_is_a_json_object(value, ok):
    assert edges.readable(value) is ok


def test_edges_count_before_the_first_and_after_the_last_readable_record():
    e = edges.Edge(partition=0, start=10, end=30, first_readable=12, last_readable=27)
    assert (e.before, e.after, e.latest_unreadable) == (2, 2, 29)
    only_before = edges.Edge(0, 10, 30, 12, 29)
    assert (only_before.before, only_before.after, only_before.latest_unreadable) == (2, 0, 11)
    nothing = edges.Edge(0, 10, 30, 10, 29)
    assert (nothing.before, nothing.after, nothing.latest_unreadable) == (0, 0, None)
    none_readable = edges.Edge(0, 10, 30, None, None)
    assert (none_readable.before, none_readable.after, none_readable.latest_unreadable) == (20, 0, 29)


def test_max_ahead_seconds_is_a_setting_and_fills_the_sql(tmp_path):
    env = tmp_path / ".env"
    env.write_text("MAX_AHEAD_SECONDS=120\n")
    config = load_config(env)
    assert config.max_ahead_seconds == 120
    assert statements.sql_values(config)["MAX_AHEAD_SECONDS"] == 120
    env.write_text("MAX_AHEAD_SECONDS=-5\n")
    with pytest.raises(
        ValueError, match="line 1: MAX_AHEAD_SECONDS=-5: expected a whole number, 0 or more: how many seconds ahead"
    ):
        load_config(env)
    trades_sql = next(s for s in statements.load_statements() if s.name == "trades").text
    assert "${MAX_AHEAD_SECONDS}" in trades_sql

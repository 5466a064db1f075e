"""`%%flinksql --changelog` in bulk: a long update stream comes back in Arrow batches (not row by row), is
shown cut with a note, and replays to the query's final rows; a query stopped at its time limit says what it
was doing and names a join without a key only when its plan has one."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from workbook.course import feedback, magic
from workbook.pipeline.session import QueryTimeout

pytestmark = pytest.mark.flink
RUNNING_COUNT = "SELECT currency_pair, COUNT(*) AS n FROM valid_trades GROUP BY currency_pair"


class Shell:
    def __init__(self):
        self.user_ns = {}


def replay(changelog: pd.DataFrame) -> Counter:
    """The final rows a changelog leaves: +I/+U add a row, -U/-D take one away."""
    rows = Counter()
    for op, *values in changelog.itertuples(index=False):
        rows[tuple(values)] += 1 if op in ("+I", "+U") else -1
    return +rows


def test_a_long_changelog_comes_back_whole_and_is_shown_cut(capsys):
    shell = Shell()
    shown = magic.run("--changelog --out log", RUNNING_COUNT, shell)
    log = shell.user_ns["log"]
    assert len(log) > 17_000 and set(log["op"]) == {"+I", "-U", "+U"}  # every valid trade updates its pair
    assert len(shown) == magic.CHANGELOG_SHOWN and shown.equals(log.head(magic.CHANGELOG_SHOWN))
    assert f"the first {magic.CHANGELOG_SHOWN} of {len(log)} changelog rows" in capsys.readouterr().out
    final = feedback.session().run_cell(RUNNING_COUNT).frame
    assert replay(log) == Counter(map(tuple, final.itertuples(index=False)))
    # in arrival order: a pair's count grows one by one
    btc = log[(log["currency_pair"] == "bitcoin / tether") & (log["op"] != "-U")]["n"].tolist()
    assert btc == list(range(1, len(btc) + 1))


def test_a_changelog_with_a_limit_is_its_first_rows():
    full = feedback.session().run_cell(RUNNING_COUNT, changelog=True).frame
    first = feedback.session().run_cell(RUNNING_COUNT, changelog=True, limit=25).frame
    assert first.equals(full.head(25))


def test_a_time_limit_says_how_far_the_changelog_came_and_names_the_join():
    cross = "SELECT a.price, b.price AS other FROM valid_trades a, valid_trades b WHERE a.price < b.price"
    with pytest.raises(QueryTimeout) as stopped:
        feedback.session().run_cell(cross, changelog=True, timeout_s=4)
    text = str(stopped.value)
    assert "stopped after 4 s" in text and "changelog rows had come back" in text
    assert "a join without an equality between its two sides (a cross join" in text


def test_a_time_limit_without_a_join_does_not_blame_one():
    slow = "SELECT currency_pair, COUNT(DISTINCT price * volume) AS n FROM valid_trades GROUP BY currency_pair"
    with pytest.raises(QueryTimeout) as stopped:
        feedback.session().run_cell(slow, timeout_s=0.01)
    text = str(stopped.value)
    assert "stopped after 0.01 s" in text and "join" not in text and "--timeout SECONDS" in text

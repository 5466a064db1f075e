"""Part L2 of the exercise ladder: candle_stats, candlesticks and volumes.

Each check fails on its skeleton, passes on its solution (and on other correct ways), and names
known wrong answers: run as SQL on the real Flink (MiniCluster) for the main ones, and as result
frames built from the expected output for many more (the comparison is the same code)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from workbook.course import checks, checks_candles, datasets, exercises
from workbook.course.checks_candles import compare, expected_result
from workbook.pipeline import sql_files

ROOT = Path(__file__).resolve().parent.parent
TUMBLE = "FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))"
GROUP = "GROUP BY window_start, window_end, currency_pair"
WINDOW = "window_start AS ts_start, window_end AS ts_end, currency_pair"
STATS = (
    "MIN(price) AS price_min, MAX(price) AS price_max, SUM(price * volume) / SUM(volume) AS price_avg, "
    "SUM(volume) AS volume, COUNT(*) AS num_trades"
)
OPEN = "CAST(SPLIT_INDEX(MIN(order_key), '|', 3) AS DOUBLE)"
CLOSE = "CAST(SPLIT_INDEX(MAX(order_key), '|', 3) AS DOUBLE)"


def candles(
    open_=OPEN,
    close=CLOSE,
    avg="SUM(price * volume) / SUM(volume)",
    window=TUMBLE,
    group=GROUP,
    count="CAST(COUNT(*) AS INT)",
    lo="MIN(price)",
    hi="MAX(price)",
):
    return (
        f"INSERT INTO candlesticks SELECT {WINDOW}, {avg} AS price_avg, {open_} AS price_open, "
        f"{lo} AS price_min, {hi} AS price_max, {close} AS price_close, SUM(volume) AS volume, "
        f"{count} AS num_trades {window} {group}"
    )


def volumes(
    buy="SUM(CASE WHEN direction = 'buy' THEN volume ELSE 0 END)",
    sell="SUM(CASE WHEN direction = 'sell' THEN volume ELSE 0 END)",
    group=GROUP,
    window=TUMBLE,
):
    return f"INSERT INTO volumes SELECT {WINDOW}, {buy} AS volume_buy, {sell} AS volume_sell {window} {group}"


def problems(result) -> str:
    assert not result, result.text()
    return "\n".join(result.problems)


# --- stored expected outputs, no Flink -----------------------------------------------------------


def test_expected_outputs_are_up_to_date():
    from workbook.course.references import candles

    trades = datasets.check_trades()
    assert candles.expected_candlesticks(trades) == json.loads(
        (checks_candles.EXPECTED_DIR / "candlesticks.json").read_text()
    ), "run python -m workbook.course.references.candles"
    assert candles.expected_volumes(trades) == json.loads((checks_candles.EXPECTED_DIR / "volumes.json").read_text())
    assert checks_candles.expected_is_current()


def test_check_data_has_the_cases_the_checks_need():
    v = expected_result("volumes")
    assert ((v["volume_buy"] == 0) & (v["volume_sell"] > 0)).any(), "a window without buys"
    assert ((v["volume_sell"] == 0) & (v["volume_buy"] > 0)).any(), "a window without sells"
    per_pair = v.groupby("currency_pair").size()
    assert (per_pair == 1).any(), "a pair in one window only"
    trades = datasets.check_trades()
    stamps = [(t["base"], t["quote"], t["timestamp"]) for t in trades]
    assert len(stamps) - len(set(stamps)) >= 50, "same-millisecond trades"
    assert datasets.check_trades() == trades, "deterministic"
    c = checks_candles.expected_frame("candlesticks")
    assert (c["open_arrival"] != c["price_open"]).sum() >= 5 and (c["close_arrival"] != c["price_close"]).sum() >= 5


@pytest.mark.parametrize("name", ["candle_stats", "candlesticks", "volumes"])
def test_expected_passes_itself(name):
    assert compare(name, expected_result(name)) == []


def _mutated(name, fn):
    df = expected_result(name).copy()
    return fn(df)


def _swap(a, b):
    def fn(df):
        df[a], df[b] = df[b].values, df[a].values
        return df

    return fn


def _set(col, values):
    def fn(df):
        df[col] = values(df) if callable(values) else values
        return df

    return fn


def _shift(minutes, size=1):
    def fn(df):
        df["ts_start"] = df["ts_start"] + pd.Timedelta(minutes=minutes)
        df["ts_end"] = df["ts_start"] + pd.Timedelta(minutes=size)
        return df

    return fn


def _arrival(col):
    def fn(df):
        full = checks_candles.expected_frame("candlesticks")
        df[col] = full["open_arrival" if col == "price_open" else "close_arrival"].values
        return df

    return fn


FRAME_MISTAKES = [
    # (exercise, mutation, words the message must contain)
    ("candlesticks", _swap("price_min", "price_max"), "price_min holds the values of price_max"),
    ("candlesticks", _swap("price_open", "price_close"), "price_open holds the close"),
    ("candlesticks", _arrival("price_open"), "price_open follows arrival order"),
    ("candlesticks", _arrival("price_close"), "price_close follows arrival order"),
    ("candlesticks", _arrival("price_close"), "price_open is right now"),
    ("candlesticks", _set("price_open", lambda d: d["price_min"]), "price_open equals price_min"),
    (
        "candlesticks",
        _set("price_avg", lambda d: checks_candles.expected_frame("candlesticks")["price_mean"].values),
        "plain average",
    ),
    ("candlesticks", _set("price_open", None), "price_open is NULL in every row"),
    ("candlesticks", _set("price_open", lambda d: d["price_open"].astype(str)), "CAST(... AS DOUBLE)"),
    ("candlesticks", _set("num_trades", lambda d: d["num_trades"].astype(float) + 0.5), "whole number"),
    ("candlesticks", _set("ts_start", lambda d: d["ts_start"].astype(str)), "ts_start should be a timestamp"),
    ("candlesticks", lambda d: d.rename(columns={"price_open": "open"}), "missing ['price_open']"),
    ("candlesticks", lambda d: d[[c for c in d.columns if c != "num_trades"]], "missing ['num_trades']"),
    (
        "candlesticks",
        lambda d: d[list(d.columns[:3]) + ["price_open", "price_avg"] + list(d.columns[5:])],
        "another order",
    ),
    ("candlesticks", lambda d: pd.concat([d, d.iloc[:5]]), "appear more than once"),
    ("candlesticks", lambda d: d[d["currency_pair"] != "dogecoin / tether"], "missing currency pairs"),
    ("candlesticks", lambda d: d.iloc[3:], "missing rows"),
    ("candlesticks", _shift(1), "one minute too late"),
    ("candlesticks", _shift(-1), "one minute too early"),
    ("candlesticks", _shift(0, size=10), "sliding (HOP) windows of 10 minutes every 1 minute"),
    (
        "candlesticks",
        lambda d: d.assign(
            ts_start=d["ts_start"].dt.floor("10min"), ts_end=d["ts_start"].dt.floor("10min") + pd.Timedelta(minutes=10)
        ).drop_duplicates(["ts_start", "currency_pair"]),
        "tumbling windows of 10 minutes",
    ),
    (
        "candlesticks",
        lambda d: d.assign(currency_pair=d["currency_pair"].str.replace(" / ", "/")),
        "'base / quote' with spaces",
    ),
    ("candlesticks", lambda d: d.iloc[:0], "no rows"),
    ("candlesticks", lambda d: d.assign(ts_end=d["ts_end"] - pd.Timedelta(milliseconds=1)), "window_time"),
    ("candlesticks", lambda d: d.assign(ts_start=d["ts_end"], ts_end=d["ts_start"]), "ts_start and ts_end are swapped"),
    (
        "candlesticks",
        _set("price_close", lambda d: "1735689600123|100000|1000000000000004217|" + d["price_close"].astype(str)),
        "whole order_key",
    ),
    ("volumes", lambda d: d[d["volume_buy"] > 0], "missing rows"),
    ("candle_stats", _swap("price_min", "price_max"), "price_min holds the values of price_max"),
    ("candle_stats", _swap("volume", "price_avg"), "swapped"),
    (
        "candle_stats",
        lambda d: pd.concat(
            [
                d,
                d.assign(
                    ts_start=d["ts_start"] + pd.Timedelta(seconds=30), ts_end=d["ts_end"] + pd.Timedelta(seconds=30)
                ),
            ]
        ),
        "HOP",
    ),
    ("candle_stats", lambda d: pd.concat([d, d.assign(ts_end=d["ts_end"] + pd.Timedelta(minutes=1))]), "CUMULATE"),
    (
        "candle_stats",
        lambda d: pd.concat([d, d.iloc[[0]].assign(currency_pair="bitcoin / yen")]),
        "unexpected currency pairs",
    ),
    ("volumes", _swap("volume_buy", "volume_sell"), "buy and sell are swapped"),
    ("volumes", _set("volume_buy", lambda d: d["volume_buy"].where(d["volume_buy"] != 0)), "NULL instead of 0"),
    ("volumes", _set("volume_sell", lambda d: d["volume_sell"].where(d["volume_sell"] != 0)), "ELSE 0"),
    ("volumes", _set("volume_buy", lambda d: d["volume_buy"] + d["volume_sell"]), "every trade"),
    ("volumes", _set("volume_sell", 0.0), "condition never holds"),
    ("volumes", _set("volume_buy", None), "volume_buy is NULL in every row"),
    ("volumes", lambda d: pd.concat([d.assign(volume_sell=0.0), d.assign(volume_buy=0.0)]), "GROUP BY"),
    ("volumes", lambda d: d.rename(columns={"volume_buy": "bought"}), "missing ['volume_buy']"),
    ("volumes", _shift(0, size=5), "5 minutes"),
    ("volumes", lambda d: d[d["ts_start"] != d["ts_start"].max()], "missing rows"),
]


@pytest.mark.parametrize("name,mutate,words", FRAME_MISTAKES, ids=[f"{n}-{w[:30]}" for n, _, w in FRAME_MISTAKES])
def test_result_mistakes_are_named(name, mutate, words):
    found = compare(name, mutate(expected_result(name).copy()))
    assert found, "the check passed a wrong result"
    assert words in "\n".join(found), found


def test_column_names_in_upper_case_are_no_mistake():
    got = expected_result("volumes")
    assert compare("volumes", got.set_axis([c.upper() for c in got.columns], axis=1)) == []


def test_release_free_references_are_not_imported_by_checks():
    text = (ROOT / "workbook" / "course" / "checks_candles.py").read_text()
    assert "references" not in re.sub(r'""".*?"""', "", text, flags=re.S)


# --- the checks on the real Flink ---------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("name", ["candle_stats", "candlesticks", "volumes"])
def test_solution_passes(stack, name):
    result = checks.check(name, exercises.solution(name))
    assert result, result.text()
    assert "73 rows (10 pairs, 8 windows)" in result.summary


@pytest.mark.integration
def test_skeletons_fail(stack):
    assert not checks.check("candlesticks", (ROOT / "sql" / "40_candlesticks.sql").read_text())
    assert not checks.check("volumes", (ROOT / "sql" / "41_volumes.sql").read_text())
    from workbook.course import magic  # noqa: F401 -- the cell skeleton lives in the notebook

    nb = json.loads((ROOT / "notebooks" / "05_candlesticks.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "--exercise candle_stats" in "".join(c["source"]))
    skeleton = cell.split("\n", 1)[1]
    assert "TODO" in skeleton and "MIN(price)" not in skeleton
    assert not checks.check("candle_stats", skeleton)


CORRECT_CANDLES = {
    "window deduplication (ROW_NUMBER)": f"""
        WITH w AS (SELECT * {TUMBLE}),
        firsts AS (SELECT * FROM (SELECT window_start, window_end, currency_pair, price,
              ROW_NUMBER() OVER (PARTITION BY window_start, window_end, currency_pair ORDER BY ts ASC) AS rn FROM w)
              WHERE rn = 1),
        lasts AS (SELECT * FROM (SELECT window_start, window_end, currency_pair, price,
              ROW_NUMBER() OVER (PARTITION BY window_start, window_end, currency_pair ORDER BY ts DESC) AS rn FROM w)
              WHERE rn = 1),
        stats AS (SELECT window_start, window_end, currency_pair, SUM(price * volume) / SUM(volume) AS price_avg,
              MIN(price) AS price_min, MAX(price) AS price_max, SUM(volume) AS volume,
              CAST(COUNT(*) AS INT) AS num_trades FROM w {GROUP})
        SELECT s.window_start AS ts_start, s.window_end AS ts_end, s.currency_pair, s.price_avg,
               f.price AS price_open, s.price_min, s.price_max, l.price AS price_close, s.volume, s.num_trades
        FROM stats s
        JOIN firsts f ON f.window_start = s.window_start AND f.window_end = s.window_end
                     AND f.currency_pair = s.currency_pair
        JOIN lasts l ON l.window_start = s.window_start AND l.window_end = s.window_end
                    AND l.currency_pair = s.currency_pair""",
}


@pytest.mark.integration
@pytest.mark.parametrize("how", list(CORRECT_CANDLES))
def test_other_correct_candlesticks_pass(stack, how):
    result = checks.check("candlesticks", CORRECT_CANDLES[how])
    assert result, result.text()


SQL_MISTAKES = [
    ("candlesticks", candles("FIRST_VALUE(price)", "LAST_VALUE(price)"), "follows arrival order"),
    ("candlesticks", candles(close="LAST_VALUE(price)"), "price_open is right now"),
    ("candlesticks", candles(CLOSE, OPEN), "price_open holds the close"),
    ("candlesticks", candles("SPLIT_INDEX(MIN(order_key), '|', 3)"), "CAST(... AS DOUBLE)"),
    ("candlesticks", candles(avg="AVG(price)"), "plain average"),
    ("candlesticks", candles(lo="MAX(price)", hi="MIN(price)"), "price_min holds the values of price_max"),
    ("candlesticks", candles(group=GROUP + ", direction"), "appear more than once"),
    ("candlesticks", candles(window=TUMBLE.replace("'1' MINUTE", "'10' MINUTE")), "10 minutes"),
    (
        "candlesticks",
        candles(
            window="FROM TABLE(HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '1' MINUTE))"
        ),
        "windows",
    ),
    (
        "candle_stats",
        f"SELECT {WINDOW}, {STATS.replace('MIN(price) AS price_min', 'AVG(price) AS price_min')} {TUMBLE} {GROUP}",
        "price_min",
    ),
    (
        "candle_stats",
        f"SELECT {WINDOW}, {STATS} FROM TABLE(CUMULATE(TABLE valid_trades, DESCRIPTOR(ts), "
        f"INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) {GROUP}",
        "CUMULATE",
    ),
    (
        "candle_stats",
        f"SELECT {WINDOW}, {STATS} {TUMBLE} WHERE currency_pair <> 'dogecoin / tether' {GROUP}",
        "missing currency pairs",
    ),
    ("volumes", volumes("SUM(CASE WHEN direction = 'buy' THEN volume END)"), "NULL instead of 0"),
    (
        "volumes",
        volumes(
            "SUM(CASE WHEN direction = 'sell' THEN volume ELSE 0 END)",
            "SUM(CASE WHEN direction = 'buy' THEN volume ELSE 0 END)",
        ),
        "buy and sell are swapped",
    ),
    ("volumes", volumes(group=GROUP + ", direction"), "appear more than once"),
    ("volumes", volumes("SUM(CASE WHEN direction = 'BUY' THEN volume ELSE 0 END)"), "condition never holds"),
    ("volumes", volumes("SUM(volume)"), "every trade"),
]


@pytest.mark.integration
@pytest.mark.parametrize("name,sql,words", SQL_MISTAKES, ids=[f"{n}-{w[:30]}" for n, _, w in SQL_MISTAKES])
def test_sql_mistakes_are_named(stack, name, sql, words):
    found = problems(checks.check(name, sql))
    assert words in found, found


@pytest.mark.integration
def test_a_done_file_that_keeps_its_todo_passes_with_a_note(stack):
    text = (ROOT / "sql" / "41_volumes.sql").read_text() + exercises.solution("volumes")
    result = checks.check("volumes", text)
    assert result and "delete the TODO line" in result.summary


@pytest.mark.integration
def test_cells_after_an_unfinished_exercise_show_nothing_of_the_expected_rows(stack, capsys):
    """Notebooks 05 and 06 compare the student's result with other data in the cells after the exercise:
    an answer with no query, a wrong table or other columns gives no rows (the exercise's columns) and says
    so; never the expected output (the answer's data)."""
    unfinished = {
        "volumes": sql_files.load_sql("41_volumes"),
        "candlesticks": "SELECT currency_pair FROM valid_trades",
        "candle_stats": "SELECT * FROM no_such_table",
    }
    for name, sql in unfinished.items():
        frame = checks_candles.answer_frame(name, sql)
        said = capsys.readouterr().out
        assert frame.empty and list(frame.columns) == checks_candles.COLUMNS[name]
        assert f"{name}: your answer has no usable result yet" in said and "no rows until it has" in said, said
    assert checks_candles.answer_frame("candlesticks", None).empty  # an exercise cell not run in this kernel
    # a finished answer: its own rows, silently (the solution run's committed outputs stay as they are)
    frame = checks_candles.answer_frame("volumes", exercises.solution("volumes"))
    assert capsys.readouterr().out == ""
    assert list(frame.columns) == checks_candles.COLUMNS["volumes"] and len(frame) == len(expected_result("volumes"))

"""Checks of the candlestick and volume exercises (notebooks 05 and 06): `candle_stats`,
`candlesticks` and `volumes`.

The student's query runs on the fixed check dataset (checks.check_trades: out of order within
the watermark delay, same-millisecond ties, windows without buys or without sells, a pair in one
window only) and its result is compared, as a multiset keyed by (window, pair), with the stored
expected output workbook/course/expected/<name>.json. The feedback names the mistake: wrong
names, order or types of columns, windows of the wrong size or kind, a key that appears twice,
missing or extra rows, NULL instead of 0, swapped columns, arrival order instead of event time.
"""

from __future__ import annotations

import functools
import hashlib
import json

import pandas as pd

from ..pipeline import sql_files
from ..pipeline.session import SqlError
from ..pipeline.statements import EXERCISE_FILES
from .datasets import EXPECTED_DIR, check_trades, expected_path
from .exercises import get
from .feedback import (
    CheckResult,
    Wrong,
    answer_sql,
    close,
    judged,
    passed,
    require_sink_columns,
    require_windowed,
    run_answer,
)

CANDLE_COLUMNS = [
    "ts_start",
    "ts_end",
    "currency_pair",
    "price_avg",
    "price_open",
    "price_min",
    "price_max",
    "price_close",
    "volume",
    "num_trades",
]
VOLUME_COLUMNS = ["ts_start", "ts_end", "currency_pair", "volume_buy", "volume_sell"]
KEY = ["ts_start", "ts_end", "currency_pair"]
STATS_COLUMNS = ["ts_start", "ts_end", "currency_pair", "price_min", "price_max", "price_avg", "volume", "num_trades"]
COLUMNS = {"candle_stats": STATS_COLUMNS, "candlesticks": CANDLE_COLUMNS, "volumes": VOLUME_COLUMNS}
SINKS = tuple(EXERCISE_FILES.values())  # the exercises whose statement the processor runs: INSERT INTO <name>
MINUTE = pd.Timedelta(minutes=1)
_WINDOW = "one-minute tumbling windows: FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))"


def fingerprint(trades) -> str:
    """A short digest of a dataset (the stored expected output belongs to one dataset)."""
    text = ";".join(
        f"{t['timestamp']}:{t['base']}/{t['quote']}:{t['price']}:{t['volume']}:{t['direction']}" for t in trades
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expected_frame(name: str = "candlesticks", data: str = "check") -> pd.DataFrame:
    """The stored expected output of exercise `name` on a dataset ('check', or 'sample' for the
    candlesticks), with the extra columns the checks use to name mistakes."""
    stored = "candlesticks" if name == "candle_stats" else name
    return frame_of(json.loads(expected_path(f"{stored}{'' if data == 'check' else '_' + data}.json").read_text()))


def frame_of(doc: dict) -> pd.DataFrame:
    """A stored expected output ({"rows": [...]}) as a frame."""
    df = pd.DataFrame(doc["rows"])
    for col in ("ts_start", "ts_end"):
        df[col] = pd.to_datetime(df[col]).astype("datetime64[ms]")
    if "num_trades" in df:
        df["num_trades"] = df["num_trades"].astype("int64")
    return df


def expected_result(name: str = "candlesticks", data: str = "check") -> pd.DataFrame:
    """The expected output itself: the exercise's columns only, in (window, pair) order."""
    return expected_frame(name, data)[COLUMNS[name]]


# --- comparing ------------------------------------------------------------------------------------


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with naive UTC millisecond window times, in (window, pair) order."""
    df = df.copy()
    for col in ("ts_start", "ts_end"):
        if col in df:
            ts = pd.to_datetime(df[col])
            if ts.dt.tz is not None:
                ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
            df[col] = ts.astype("datetime64[ms]")
    return df.sort_values([c for c in KEY if c in df]).reset_index(drop=True)


def example_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> tuple:
    """The first (window, pair) whose row differs: (got, expected) as dicts (None where absent)."""
    if list(actual.columns) != list(expected.columns) or not set(KEY) <= set(actual.columns):
        got = actual.iloc[0].to_dict() if len(actual) else None
        return got, (expected.iloc[0].to_dict() if len(expected) else None)
    try:
        a, e = normalize(actual), normalize(expected)
    except (ValueError, TypeError):
        return (actual.iloc[0].to_dict() if len(actual) else None), expected.iloc[0].to_dict()
    keyed_a = {tuple(map(str, r[KEY])): r for _, r in a.iterrows()}
    for _, row in e.iterrows():
        mine = keyed_a.get(tuple(map(str, row[KEY])))
        if mine is None:
            return None, _plain(row)
        if not all(close(mine[c], row[c]) for c in e.columns if c not in KEY):
            return _plain(mine), _plain(row)
    return None, None


def _plain(row) -> dict:
    return {k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in row.to_dict().items()}


def _in_set(values: pd.Series, allowed: pd.Series) -> pd.Series:
    return pd.Series([v == v and any(close(v, x) for x in ok) for v, ok in zip(values.astype(float), allowed)])


def _where(row) -> str:
    return f"{row['currency_pair']} at {pd.Timestamp(row['ts_start']).strftime('%H:%M')}"


def _columns(got: list, want: list) -> list[str]:
    if got == want:
        return []
    lower = [str(c).lower() for c in got]
    missing = [c for c in want if c not in lower]
    extra = [c for c in got if str(c).lower() not in want]
    said = []
    if missing:
        said.append(f"missing {missing}")
    if extra:
        said.append(f"unexpected {extra}")
    if not missing and not extra and len(got) == len(want) and lower != want:
        said.append(
            "the right names in another order (INSERT INTO fills the table's columns by position)"
            if lower != [c.lower() for c in want] and sorted(lower) == sorted(want)
            else "names differ in case"
        )
    elif not missing and not extra:
        said.append("a column appears twice")
    return [
        f"columns: your query returns {got}, expected {want} ({'; '.join(said)}). Name each column with AS, "
        "in this order."
    ]


def _types(df: pd.DataFrame, want: list) -> list[str]:
    problems = []
    for col in want:
        s = df[col].dropna()
        if not len(s):
            continue
        v = s.iloc[0]
        if col in ("ts_start", "ts_end"):
            if not (pd.api.types.is_datetime64_any_dtype(df[col]) or isinstance(v, pd.Timestamp)):
                problems.append(
                    f"{col} should be a timestamp (window_start / window_end as they are), got values "
                    f"like {v!r} ({type(v).__name__})."
                )
        elif col == "currency_pair":
            if not isinstance(v, str):
                problems.append(f"currency_pair should be text like 'bitcoin / tether', got {v!r}.")
        elif col == "num_trades":
            if not pd.api.types.is_integer_dtype(df[col]) and not isinstance(v, int):
                problems.append(
                    f"num_trades should be a whole number (COUNT(*), CAST(... AS INT)), got values "
                    f"like {v!r} ({df[col].dtype})."
                )
        elif isinstance(v, str) and v.count("|") == 3:
            problems.append(
                f"{col} holds a whole order_key ({v!r}): the price is its 4th part, "
                "SPLIT_INDEX(..., '|', 3), a string to CAST(... AS DOUBLE)."
            )
        elif isinstance(v, str):
            problems.append(f"{col} should be a number (DOUBLE), got text like {v!r}: CAST(... AS DOUBLE).")
        elif isinstance(v, bool) or not pd.api.types.is_number(v):
            problems.append(f"{col} should be a number (DOUBLE), got {v!r} ({type(v).__name__}).")
    return problems


def _dur(td) -> str:
    seconds = int(pd.Timedelta(td).total_seconds())
    if seconds % 60:
        return f"{seconds} seconds"
    return "1 minute" if seconds == 60 else f"{seconds // 60} minutes"


def _windows(a: pd.DataFrame) -> list[str]:
    """Windows of the wrong size or kind: every window must be one minute, starting on a whole minute."""
    length = a["ts_end"] - a["ts_start"]
    lengths = sorted(set(length))
    if (length < pd.Timedelta(0)).all():
        return ["ts_start and ts_end are swapped: ts_start is window_start (the earlier), ts_end window_end."]
    if (length == pd.Timedelta(0)).all():
        return ["ts_end equals ts_start in every row: ts_start is window_start, ts_end window_end."]
    if lengths == [MINUTE - pd.Timedelta(milliseconds=1)]:
        return [
            "ts_end is the window's last millisecond (window_time): the table wants window_end, the "
            "(exclusive) end of the window."
        ]
    if lengths == [MINUTE] and (a["ts_start"].dt.second == 0).all() and (a["ts_start"].dt.microsecond == 0).all():
        return []
    if len(lengths) > 1:
        if a.groupby(["currency_pair", "ts_start"])["ts_end"].nunique().max() > 1:
            kind = "windows of growing length from the same start: CUMULATE windows"
        elif (a.groupby(["currency_pair", "ts_end"])["ts_start"].nunique() > 1).any():
            kind = "windows of several lengths ending together: overlapping windows"
        else:
            kind = "windows of different lengths (SESSION windows?)"
        return [f"windows: {kind}, lengths {[_dur(x) for x in lengths[:4]]}. Use {_WINDOW}."]
    size = lengths[0]
    starts = a["ts_start"].drop_duplicates().sort_values()
    step = starts.diff().dropna().min() if len(starts) > 1 else size
    if size != MINUTE:
        kind = (
            f"sliding (HOP) windows of {_dur(size)} every {_dur(step)}"
            if step < size
            else f"tumbling windows of {_dur(size)}"
        )
        return [f"windows: your windows are {_dur(size)} long ({kind}); expected {_WINDOW}."]
    return [
        f"windows: 1 minute long but starting at {starts.iloc[0].time()} (every {_dur(step)}): overlapping or "
        f"shifted windows (HOP?). Use {_WINDOW}."
    ]


def _duplicates(a: pd.DataFrame) -> list[str]:
    counts = a.groupby(KEY).size()
    dup = counts[counts > 1]
    if not len(dup):
        return []
    (start, _, pair), n = dup.index[0], int(dup.iloc[0])
    return [
        f"one row per window and pair: {len(dup)} (window, pair) keys appear more than once, e.g. {pair} at "
        f"{start.strftime('%H:%M')} {n} times ({len(a)} rows, {len(counts)} distinct keys). Group by "
        "window_start, window_end and currency_pair only: another column in GROUP BY (direction, price, ...) "
        "splits a window's trades into several rows."
    ]


def _keys(a: pd.DataFrame, e: pd.DataFrame) -> list[str]:
    ka, ke = set(map(tuple, a[KEY].values)), set(map(tuple, e[KEY].values))
    if ka == ke:
        return []
    for delta, word in ((MINUTE, "late"), (-MINUTE, "early")):
        if {(s - delta, t - delta, p) for s, t, p in ka} == ke:
            return [
                f"windows off by one: every window starts one minute too {word}. "
                "Use window_start and window_end of the TUMBLE table function as they are."
            ]
    pa, pe = set(a["currency_pair"]), set(e["currency_pair"])
    problems = []
    if pe - pa:
        problems.append(
            f"missing currency pairs: {sorted(pe - pa)} (your pairs: {sorted(pa)[:6]}; expected "
            "'base / quote' with spaces, every valid trade counted)"
        )
    if pa - pe:
        problems.append(f"unexpected currency pairs: {sorted(pa - pe)[:5]} (expected: {sorted(pe)[:3]}, ...)")
    if problems:
        return problems

    def show(keys):
        return ", ".join(f"{p} at {s.strftime('%H:%M')}" for s, _, p in sorted(keys)[:2])

    if ke - ka:
        problems.append(
            f"missing rows: {len(ke - ka)} of the {len(ke)} (window, pair) rows are not in your result, "
            f"e.g. {show(ke - ka)}: every window with at least one valid trade of the pair has a row."
        )
    if ka - ke:
        problems.append(
            f"extra rows: {len(ka - ke)} (window, pair) rows that should not be there, e.g. {show(ka - ke)}."
        )
    return problems


def _value_problems(name: str, m: pd.DataFrame, columns: list) -> list[str]:
    """m: the expected rows merged with the student's (suffix _got) on the key."""
    values = [c for c in columns if c not in KEY]
    ok = {c: close(m[f"{c}_got"], m[c]) for c in values}
    if "open_ok" in m:
        for col, allowed in (("price_open", "open_ok"), ("price_close", "close_ok")):
            if col in values:
                ok[col] = _in_set(m[f"{col}_got"], m[allowed])
    problems = [_column_problem(col, m, values, ok) for col in values if not ok[col].all()]
    if "volume_buy" in values and len(problems) == 2 and all("swapped" in p for p in problems):
        problems = [
            "buy and sell are swapped: volume_buy must sum the volume of the trades with direction = "
            "'buy', volume_sell those with direction = 'sell'."
        ]
    return problems


def _column_problem(col: str, m: pd.DataFrame, values: list, ok: dict) -> str:
    """What is wrong with the column `col` of the merged rows `m`, which differs in some rows (ok[col])."""
    got = m[f"{col}_got"].reset_index(drop=True)
    want = m[col].reset_index(drop=True)
    bad = ~ok[col].values
    first = m.loc[bad].iloc[0]
    if got.isna().all():
        return f"{col} is NULL in every row: the TODO is still there, or the expression is NULL."
    nulls = got.isna() & want.notna()
    if nulls.any() and (want[nulls] == 0).all() and close(got[~nulls], want[~nulls]).all():
        ex = m.loc[nulls.values].iloc[0]
        return (
            f"{col} is NULL instead of 0 in {int(nulls.sum())} windows without such trades, e.g. "
            f"{_where(ex)}: a CASE WHEN without ELSE gives NULL there (SUM over nothing); add "
            "ELSE 0 (or COALESCE(..., 0))."
        )
    twin = next(
        (
            o
            for o in values + [c for c in ("volume", "price_mean") if c in m and c not in values]
            if o != col and close(got, m[o]).all() and not close(want, m[o]).all()
        ),
        None,
    )
    if col in ("price_open", "price_close") and "open_ok" in m:
        problem = _open_close_problem(col, m, got, bad, first, twin, ok)
        if problem:
            return problem
    if twin == "price_mean":
        return (
            f"{col} is the plain average AVG(price): the volume-weighted average price is "
            "SUM(price * volume) / SUM(volume)."
        )
    if twin == "volume" and col in ("volume_buy", "volume_sell"):
        return f"{col} sums the volume of every trade: count only the trades with direction = '{col.split('_')[1]}'."
    if twin is not None:
        return (
            f"{col} holds the values of {twin}: swapped columns? e.g. {_where(first)}: got "
            f"{first[f'{col}_got']}, expected {first[col]}."
        )
    if col in ("volume_buy", "volume_sell") and (got.fillna(0) == 0).all():
        return (
            f"{col} is 0 (or NULL) in every window: the condition never holds; direction is "
            "'buy' or 'sell' (lower case)."
        )
    return (
        f"{col}: {int(bad.sum())} of {len(m)} rows differ, e.g. {_where(first)}: got "
        f"{first[f'{col}_got']}, expected {first[col]}."
    )


def _open_close_problem(col: str, m: pd.DataFrame, got: pd.Series, bad, first, twin, ok: dict) -> str | None:
    """The known mistakes of price_open / price_close: arrival order, the other end, the min or max."""
    other = "close_ok" if col == "price_open" else "open_ok"
    arrival = "open_arrival" if col == "price_open" else "close_arrival"
    done = "price_close" if col == "price_open" else "price_open"
    right_other = f" ({done} is right now: do the same for {col}.)" if ok.get(done, pd.Series([0])).all() else ""
    if close(got, m[arrival]).all():
        word = "first" if col == "price_open" else "last"
        return (
            f"{col} follows arrival order ({'FIRST' if word == 'first' else 'LAST'}_VALUE?), "
            f"not event time: {int(bad.sum())} of {len(m)} windows differ, e.g. {_where(first)}: "
            f"got {first[f'{col}_got']}, the {word} trade by ts has {first[col]}. Trades arrive "
            f"out of order: take the price of the trade with the "
            f"{'earliest' if word == 'first' else 'latest'} ts.{right_other}"
        )
    if _in_set(got, m[other]).all():
        return (
            f"{col} holds the {'close' if col == 'price_open' else 'open'} (the "
            f"{'latest' if col == 'price_open' else 'earliest'} trade): open is the earliest "
            f"trade of the window by ts, close the latest.{right_other}"
        )
    if twin in ("price_min", "price_max"):
        return (
            f"{col} equals {twin} in every row: open/close are the prices of the earliest/latest "
            f"trade by ts, not the lowest/highest price.{right_other}"
        )
    return None


def _named(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """`frame` with exercise `name`'s column names when its own differ only in case (INSERT INTO fills the
    table by position: case is no mistake); otherwise as it is."""
    columns = COLUMNS[name]
    return frame.set_axis(columns, axis=1) if [str(c).lower() for c in frame.columns] == columns else frame


def compare(name: str, actual: pd.DataFrame, expected: pd.DataFrame | None = None) -> list[str]:
    """What is wrong with `actual` as the answer of exercise `name` (empty: nothing)."""
    columns = COLUMNS[name]
    expected = expected_frame(name) if expected is None else expected
    actual = _named(actual, name)
    problems = _columns([str(c) for c in actual.columns], columns)
    if problems:
        return problems
    if not len(actual):
        return [f"your query returns no rows; expected {len(expected)} (one per window and pair)."]
    problems = _types(actual, columns)
    if problems:
        return problems
    a, e = normalize(actual[columns]), normalize(expected)
    problems = _windows(a) or _duplicates(a)
    if problems:
        return problems
    key_problems = _keys(a, e)
    if key_problems and any(
        p.startswith(("windows off", "missing currency", "unexpected currency")) for p in key_problems
    ):
        return key_problems
    m = e.merge(a, on=KEY, suffixes=("", "_got"))
    return key_problems + (_value_problems(name, m, columns) if len(m) else [])


def require_result(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Wrong naming what is wrong with `frame` as exercise `name`'s result on the check dataset of the active data
    (`compare`'s problems, with an example row); the expected result when nothing is. The SQL answers and the
    Table API answer of the candlestick statistics (checks_table_api) are judged here alike."""
    expected = expected_frame(name)
    problems = compare(name, frame, expected)
    result = expected[COLUMNS[name]]
    if problems:
        try:
            got, exp = example_rows(frame, result)
        except Exception:  # noqa: BLE001 -- an example row is a courtesy: the problems say what is wrong
            got, exp = None, None
        raise Wrong(problems, got, exp)
    return result


# exercise -> (the answer's SQL, its result on the check dataset or the Wrong it raised): the cells after a check
# reuse it, a failed run included (an unfinished answer is not run a second time)
_LAST: dict = {}


def _outcome(name: str, sql: str, timeout_s: float | None = None):
    """run_answer's frame, or the Wrong it raised."""
    exercise = get(name)
    try:
        return run_answer(sql, timeout_s, source=None if exercise.in_cell else exercise.student)
    except Wrong as wrong:
        return wrong


def answer_frame(name: str, sql: str | None) -> pd.DataFrame:
    """The result of `sql` (exercise `name`'s answer, e.g. `exercises.answer(name)`) on the check dataset: the
    one its check got, when the check ran on this SQL, else the query's result now. An answer that does not
    run yet, or lacks the exercise's columns, gives no rows (the exercise's columns), with a line saying so:
    the cells after an unfinished exercise still run, and show nothing of the expected output."""
    if sql is None:
        return pd.DataFrame(columns=COLUMNS[name])
    outcome = _LAST[name][1] if name in _LAST and _LAST[name][0] == sql else _outcome(name, sql)
    if isinstance(outcome, Wrong):
        why = outcome.problems[0].splitlines()[0]
    else:
        frame = _named(outcome, name)
        if list(frame.columns) == COLUMNS[name]:
            return frame
        why = f"its columns are {list(frame.columns)}"
    print(f"\u2139\ufe0f {name}: your answer has no usable result yet ({why}): no rows until it has.")
    return pd.DataFrame(columns=COLUMNS[name])


def require_own_sink(name: str, sql: str) -> None:
    """Wrong when the processor would refuse the exercise's file as it is (it skips a file that writes another
    table, holds more than its one INSERT, or is no INSERT INTO its table): the same rule, sql_files.own_sink_problem.
    A bare query (a cell's answer) is judged on its rows alone."""
    try:
        text = answer_sql(sql)
    except SqlError:  # the answer is not even SQL: the check's run says so
        return
    statements = [t for _, t in sql_files.split_statements(text)]
    if len(statements) < 2 and not any(sql_files.kind(t) == "insert" for t in statements):
        return
    problem = sql_files.own_sink_problem(text, name)
    if problem:
        raise Wrong(
            [f"the processor would skip your file: {problem}."],
            summary=f"the file may only write {name}, with one INSERT INTO {name} statement.",
        )


def check(name: str, sql: str, timeout_s: float | None = None) -> CheckResult:
    if name in SINKS:
        require_own_sink(name, sql)
    outcome = _outcome(name, sql, timeout_s)
    _LAST[name] = (sql, outcome)
    if isinstance(outcome, Wrong):
        raise outcome
    result = require_result(name, outcome)
    if name in SINKS:
        require_sink_columns(sql, name)
    require_windowed(sql, "TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)", hint_level=1)
    pairs = result["currency_pair"].nunique()
    todo = (
        " Now delete the TODO line of the file: the processor skips a file that still has one."
        if name != "candle_stats" and "TODO" in sql
        else ""
    )
    return passed(
        name,
        f"correct: {len(result)} rows ({pairs} pairs, "
        f"{result['ts_start'].nunique()} windows) match the expected output.{todo}",
    )


def expected_is_current() -> bool:
    """The stored expected outputs belong to today's check dataset."""
    doc = json.loads((EXPECTED_DIR / "candlesticks.json").read_text())
    return doc["fingerprint"] == fingerprint(check_trades())


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {name: judged(name)(functools.partial(check, name)) for name in COLUMNS}

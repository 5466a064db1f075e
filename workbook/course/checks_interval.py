"""Check of notebook 11's interval-join exercise (advanced track):

- quick_reversals: each buy with every sell of its pair whose time is within 2 seconds of the buy's (before or
  after, both ends included): an interval join of valid_trades with itself, s.ts BETWEEN b.ts - INTERVAL '2'
  SECOND AND b.ts + INTERVAL '2' SECOND, which Flink runs as an IntervalJoin operator (append-only).

Flink's plan is read first (nothing runs): a join without a time bound (a regular Join, whose state grows forever,
and whose rows on 8 minutes of trades are millions), a window join, an interval join not keyed by the pair and a
bound wider than 2 seconds are named before they run. The answer then runs on the check dataset in the warm
session; its rows are compared with the stored expected output, workbook/course/expected/quick_reversals.csv
(workbook/course/references/interval.py), one row per (buy, sell): rows flagged may_drop (a trade behind the
watermark whose partner Flink may have forgotten already) may be there or not. Named mistakes: one side of the
buy only, the ends of the bounds left out, bounds swapped, buys paired with buys, buys and sells swapped.
"""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd

from .datasets import records
from .feedback import (
    CheckResult,
    Wrong,
    answer_plan,
    judged,
    load_expected_csv,
    passed,
    plan_operators,
    require_operator,
    require_rows,
    require_types,
    run_answer,
)

NAME = "quick_reversals"
COLUMNS = ["currency_pair", "buy_ts", "sell_ts", "buy_price", "sell_price"]
BOUND_MS = 2_000
HOW = "s.ts BETWEEN b.ts - INTERVAL '2' SECOND AND b.ts + INTERVAL '2' SECOND"


def load_expected() -> pd.DataFrame:
    return load_expected_csv(NAME, ("buy_ts", "sell_ts"))


def _price(x) -> str:
    return f"{float(x):.12g}"


def _keys(frame: pd.DataFrame) -> list[tuple]:
    """(pair, buy ms, sell ms, buy price, sell price) of each row."""
    return list(
        zip(
            frame["currency_pair"].astype(str),
            frame["buy_ts"].astype("int64"),
            frame["sell_ts"].astype("int64"),
            map(_price, frame["buy_price"]),
            map(_price, frame["sell_price"]),
            strict=True,
        )
    )


def _as_row(key: tuple) -> dict:
    pair, buy, sell, buy_price, sell_price = key
    return {
        "currency_pair": pair,
        "buy_ts": str(pd.Timestamp(buy, unit="ms")),
        "sell_ts": str(pd.Timestamp(sell, unit="ms")),
        "buy_price": float(buy_price),
        "sell_price": float(sell_price),
    }


def _apart(key: tuple) -> str:
    """How far the sell of a row is from its buy, in words."""
    ms = key[2] - key[1]
    return f"{abs(ms) / 1000:g} s {'after' if ms >= 0 else 'before'} the buy"


# --- Flink's plan, read before the answer runs ----------------------------------------------------------------


def _children(lines: list[str], at: int) -> tuple[str, str]:
    """The text of the left and the right input of the operator on line `at` of a plan."""
    col = len(lines[at]) - len(lines[at].lstrip(" +-:|"))
    right = next((i for i in range(at + 1, len(lines)) if lines[i].startswith("+- ", col)), len(lines))
    end = next(
        (i for i in range(right + 1, len(lines)) if len(lines[i]) - len(lines[i].lstrip(" +-:|")) <= col),
        len(lines),
    )
    return "\n".join(lines[at + 1 : right]), "\n".join(lines[right:end])


def _sell_minus_buy(plan_text: str) -> tuple[int, int] | None:
    """The range of (sell time - buy time) the interval join takes, in ms, when its inputs show which side has
    the buys; None when they do not."""
    lines = plan_text.splitlines()
    at = next((i for i, line in enumerate(lines) if "IntervalJoin(" in line), None)
    m = re.search(r"leftLowerBound=(-?\d+), leftUpperBound=(-?\d+)", lines[at]) if at is not None else None
    if m is None:
        return None
    lo, hi = int(m.group(1)), int(m.group(2))  # left time - right time is in [lo, hi]
    left, right = _children(lines, at)

    def filters(text: str, direction: str) -> bool:  # a WHERE direction = '...' (valid_trades's CASE has both)
        return re.search(rf"=\(direction\d*, _UTF-16LE'{direction}'", text) is not None

    if filters(left, "buy") and filters(right, "sell") and not filters(left, "sell") and not filters(right, "buy"):
        return -hi, -lo  # left: the buys
    if filters(left, "sell") and filters(right, "buy") and not filters(left, "buy") and not filters(right, "sell"):
        return lo, hi  # left: the sells
    return None


def _example_apart(lo: int, hi: int) -> dict | None:
    """A buy and a sell of one pair whose times are more than 2 s but within [lo, hi] apart (sell - buy): a row
    an answer with those bounds returns that the exercise's does not."""
    trades = [t for t in records("check") if t.get("direction") in ("buy", "sell") and t.get("timestamp")]
    by_pair: dict = {}
    for t in trades:
        by_pair.setdefault((t["base"], t["quote"]), []).append(t)
    for (base, quote), ts in by_pair.items():
        buys = [t for t in ts if t["direction"] == "buy"]
        sells = sorted((t for t in ts if t["direction"] == "sell"), key=lambda t: t["timestamp"])
        for b in buys[:50]:
            for s in sells:
                d = s["timestamp"] - b["timestamp"]
                if lo <= d <= hi and abs(d) > BOUND_MS:
                    return _as_row((f"{base} / {quote}", b["timestamp"], s["timestamp"], b["price"], s["price"]))
    return None


def _before_running(plan) -> None:
    """The mistakes Flink's plan shows: named before the answer runs (some of them would run for minutes)."""
    if plan is None:
        return
    operators = plan_operators(plan)
    if "IntervalJoin" not in plan.operators:
        if "WindowJoin" in plan.operators:
            raise Wrong(
                "your query is a window join (Flink's plan: WindowJoin): it pairs trades of the same window only, "
                "so a buy at xx:01.9 never meets a sell at xx:02.1 of the next window. An interval join pairs "
                f"each buy with the sells within 2 seconds of it, wherever the window edges are: {HOW}.",
                summary="a window join, not an interval join.",
                hint_level=2,
            )
        if "Join" in plan.operators:
            raise Wrong(
                f"your join has no time bound that Flink can use (Flink's plan: {operators}, a regular Join): "
                "it keeps every trade it has seen in its state forever, waiting for partners, and pairs each buy "
                "with every sell of its pair of the whole stream (the check does not run it: millions of rows on "
                "8 minutes of trades). Bound the sell's time by the buy's, on the time attributes themselves: "
                f"{HOW} (not TIMESTAMPDIFF or another function of the times).",
                summary="no time bound: a regular join.",
                hint_level=2,
            )
        return
    exchanges = re.findall(r"Exchange\(distribution=\[(.*?)\]", plan.text)
    if any(d == "single" or (d.startswith("hash") and "pair" not in d) for d in exchanges):
        keys = ", ".join(dict.fromkeys(exchanges))
        raise Wrong(
            f"your interval join is not keyed by the pair (Flink's plan sends the trades to the join by {keys}): "
            "it pairs a buy of bitcoin with a sell of dogecoin. Join the two sides on "
            "b.currency_pair = s.currency_pair (and the time bound).",
            summary="wrong key: not the same pair.",
            hint_level=2,
        )
    window = _sell_minus_buy(plan.text)
    if window is None:
        return
    lo, hi = window
    if lo > hi:
        raise Wrong(
            f"your bounds are swapped: BETWEEN takes the lower bound first, and a time between b.ts + 2 s and "
            f"b.ts - 2 s does not exist (your query returns no rows): {HOW}.",
            summary="bounds swapped: no rows.",
        )
    if lo < -BOUND_MS or hi > BOUND_MS:
        example = _example_apart(lo, hi)
        raise Wrong(
            f"rows differ: your interval join pairs a buy with the sells from {-lo / 1000:g} s before it to "
            f"{hi / 1000:g} s after it (Flink's plan), not within 2 seconds: rows like the example, with the sell "
            "more than 2 s from the buy, are too many (the check does not run it). Is your interval in SECOND? "
            f"{HOW}.",
            example,
            None,
            summary="rows differ.",
        )


# --- the rows -------------------------------------------------------------------------------------------------


def _shape(got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    require_rows(got, expected, COLUMNS, "Name each column with AS, in this order.")
    times = {c: "a trade's time" for c in ("buy_ts", "sell_ts")}
    return require_types(got, times, {c: "a trade's price" for c in ("buy_price", "sell_price")})


def _directions() -> dict:
    """(pair, ms, price) of each trade of the check dataset -> its directions: which side a row's trade is."""
    out: dict = {}
    for t in records("check"):
        if t.get("base") is None or t.get("quote") is None or t.get("timestamp") is None or t.get("price") is None:
            continue
        key = (f"{t['base']} / {t['quote']}", int(t["timestamp"]), _price(t["price"]))
        out.setdefault(key, set()).add(t.get("direction"))
    return out


def _rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    g = Counter(_keys(got))
    every = Counter(_keys(expected))
    sure = Counter(_keys(expected[~expected["may_drop"].astype(bool)]))
    extra = g - every
    missing = sure - g
    if not extra and not missing:
        return
    n = f"{sum(g.values())} rows, expected {sum(sure.values())}"
    if extra:
        _extra(extra, n)
    _missing(missing, n)


def _extra(extra: Counter, n: str) -> None:
    """Wrong for rows that are not in the expected result."""
    side = _directions()

    def is_(pair, ms, price, direction):
        return direction in side.get((pair, ms, price), ())

    def buy_side(k, d):
        return is_(k[0], k[1], k[3], d)

    def sell_side(k, d):
        return is_(k[0], k[2], k[4], d)

    swapped = [k for k in extra if buy_side(k, "sell") and sell_side(k, "buy")]
    if swapped and len(swapped) >= 0.9 * sum(1 for _ in extra):
        k = swapped[0]
        raise Wrong(
            f"{n}: your buy_ts and buy_price are a sell's, sell_ts and sell_price a buy's (e.g. the row's "
            "'buy' is a sell of the dataset). Take the buy's columns from the side you filter on "
            "direction = 'buy', the sell's from the side with direction = 'sell'.",
            _as_row(k),
            None,
            summary="buys and sells swapped.",
        )
    same = [k for k in extra if (buy_side(k, "buy") and sell_side(k, "buy")) or (buy_side(k, "sell"))]
    if same:
        k = same[0]
        raise Wrong(
            f"{n}: some rows pair a buy with a buy, or a sell with anything (e.g. the row's 'sell' is a buy of "
            "the dataset, or the trade with itself): each side of the join needs its own direction, "
            "b.direction = 'buy' AND s.direction = 'sell'.",
            _as_row(k),
            None,
            summary="buys paired with buys.",
        )
    far = [k for k in extra if abs(k[2] - k[1]) > BOUND_MS]
    k = far[0] if far else next(iter(extra))
    why = f"its sell is {_apart(k)}, more than 2 s" if far else "no buy and sell of valid_trades make it"
    raise Wrong(
        f"rows differ: {n}; {sum(extra.values())} rows are not in the expected result, e.g. this one ({why}). "
        f"One row per buy and sell of the same pair with {HOW}.",
        _as_row(k),
        None,
        summary="rows differ.",
    )


def _missing(missing: Counter, n: str) -> None:
    """Wrong for expected rows that are missing."""
    lost = list(missing)
    k = lost[0]
    if all(m[2] < m[1] for m in lost):
        raise Wrong(
            f"{n}: every sell BEFORE its buy is missing (e.g. the example's, {_apart(k)}): your time bound takes "
            f"the sells after the buy only. Within 2 seconds before or after: {HOW}.",
            None,
            _as_row(k),
            summary="one side of the buy only: sells before it missing.",
        )
    if all(m[2] > m[1] for m in lost):
        raise Wrong(
            f"{n}: every sell AFTER its buy is missing (e.g. the example's, {_apart(k)}): your time bound takes "
            f"the sells before the buy only. Within 2 seconds before or after: {HOW}.",
            None,
            _as_row(k),
            summary="one side of the buy only: sells after it missing.",
        )
    if all(abs(m[2] - m[1]) == BOUND_MS for m in lost):
        raise Wrong(
            f"{n}: the sells exactly 2 s from their buy are missing (e.g. the example's): both ends are included, "
            f"as BETWEEN includes them: {HOW}.",
            None,
            _as_row(k),
            summary="the ends of the bounds left out.",
        )
    raise Wrong(
        f"rows differ: {n}; {sum(missing.values())} expected rows are missing, e.g. this one ({_apart(k)}). One row "
        f"per buy and sell of the same pair with {HOW}, from valid_trades.",
        None,
        _as_row(k),
        summary="rows differ.",
    )


_KNOWN_ERRORS = [
    (
        "Found more than one rowtime field",
        "two event-time columns in the result.",
        "an interval join keeps the time attributes of both sides, and a query's result can have one only: select "
        "the buy's ts as it is and turn the sell's into a plain timestamp, CAST(s.ts AS TIMESTAMP_LTZ(3)) AS "
        "sell_ts.",
    ),
]


@judged(NAME)
def check(sql: str, timeout_s: float | None = None) -> CheckResult:
    plan = answer_plan(sql)
    _before_running(plan)
    frame = run_answer(sql, timeout_s, known_errors=_KNOWN_ERRORS)
    expected = load_expected()
    got = _shape(frame.copy(), expected)
    _rows(got, expected)
    require_operator(
        plan,
        "IntervalJoin",
        "an interval join",
        f"Join valid_trades with itself with a time bound on the time attributes, {HOW}: Flink runs it as an "
        "IntervalJoin and emits each pair once.",
    )
    late = int(expected["may_drop"].sum())
    note = f"; {late} rows of trades behind the watermark Flink may drop as late" if late else ""
    return passed(
        NAME,
        # the expected count, not len(got): which flagged rows Flink drops varies from run to run, and a verdict's
        # words must not (the grader's reports of one folder are the same twice)
        f"correct: your rows match the {len(expected)} expected (buy, sell) pairs within 2 seconds{note}; Flink "
        "runs it as an interval join "
        "(append-only: each pair emitted once).",
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {NAME: check}

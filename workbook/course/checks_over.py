"""Check of notebook 10's OVER-window exercise (advanced track):

- moving_vwap: every trade with its pair's VWAP over the 5 minutes up to it (an event-time OVER window,
  RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW, partitioned by pair).

The answer runs on the check dataset in the warm session; its rows are compared with the stored expected output,
workbook/course/expected/moving_vwap.csv (workbook/course/references/over.py), one row per trade. Named mistakes:
a simple average, a VWAP since the first trade (UNBOUNDED PRECEDING), no PARTITION BY, ROWS instead of RANGE,
one row per window instead of per trade, an updating GROUP BY.
"""

from __future__ import annotations

import pandas as pd

from .feedback import (
    CheckResult,
    Wrong,
    answer_plan,
    close,
    example_row,
    judged,
    load_expected_csv,
    passed,
    require_operator,
    require_rows,
    require_types,
    run_answer,
)

NAME = "moving_vwap"
COLUMNS = ["currency_pair", "ts", "price", "vwap"]
KEY = ["currency_pair", "ts", "price"]


def load_expected() -> pd.DataFrame:
    return load_expected_csv(NAME, ("ts",))


def _shape(got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    have = list(got.columns)
    if have != COLUMNS and {"window_start", "window_end"} & set(have):
        raise Wrong(
            f"your query returns {have}: one row per window. An OVER window keeps every row: one row per "
            "trade, with the VWAP of the 5 minutes up to that trade (no window_start, no GROUP BY).",
            example_row(got),
            example_row(expected[COLUMNS]),
            summary="one row per window, not one per trade.",
        )
    require_rows(got, expected, COLUMNS, "Name each column with AS, in this order.")
    got = require_types(got, {"ts": "the trade's time"})
    return got.sort_values([*KEY, "vwap"], kind="stable").reset_index(drop=True)


def _rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    if len(got) < len(expected) // 2 and got["currency_pair"].nunique() * 20 > len(got):
        raise Wrong(
            f"{len(got)} rows for {len(expected)} trades: an OVER window keeps every row (one per trade); a GROUP BY "
            "makes one row per group.",
            example_row(got),
            example_row(expected[COLUMNS]),
            summary="one row per group, not one per trade.",
        )
    if len(got) != len(expected) or not (got[KEY].astype(str).values == expected[KEY].astype(str).values).all():
        g = set(map(tuple, got[KEY].astype(str).values))
        e = set(map(tuple, expected[KEY].astype(str).values))
        raise Wrong(
            f"{len(got)} rows, expected {len(expected)} (one per trade of valid_trades that the OVER window "
            f"takes); e.g. missing {sorted(e - g)[:1]}, unexpected {sorted(g - e)[:1]}. Select currency_pair, ts "
            "and price of valid_trades as they are, without a WHERE.",
            summary="other trades.",
        )


def _values(got: pd.DataFrame, expected: pd.DataFrame, plan) -> None:
    ok = close(got["vwap"], expected["vwap"], rel=1e-7)  # a DECIMAL(30, 8) cast of a right VWAP passes
    if ok.all():
        return
    bad = int((~ok).values.argmax())
    example_got, example_expected = example_row(got[COLUMNS], bad), example_row(expected[COLUMNS], bad)
    if plan is not None and "OverAggregate(" in plan.text and "OverAggregate(partitionBy=" not in plan.text:
        raise Wrong(
            "your VWAP mixes the trades of all pairs (bitcoin's and dogecoin's prices in one average: Flink's "
            "OverAggregate has no partitionBy): PARTITION BY currency_pair in the OVER clause.",
            example_got,
            example_expected,
            summary="the trades of every pair in one average.",
        )
    variants = [
        (
            "avg_price",
            "a simple average, not the VWAP.",
            "vwap is the plain average of the prices: weight each price by its volume (the VWAP of notebook 5, "
            "over the OVER window).",
        ),
        (
            "vwap_all",
            "the VWAP since the first trade, not over 5 minutes.",
            "your VWAP covers every earlier trade of the pair, not the 5 minutes up to the trade. UNBOUNDED "
            "PRECEDING does that, and so does ROWS with a time interval (ROWS counts rows: Flink takes ROWS BETWEEN "
            "INTERVAL '5' MINUTE PRECEDING as every earlier row). A time range is RANGE BETWEEN INTERVAL '5' "
            "MINUTE PRECEDING AND CURRENT ROW.",
        ),
    ]
    for column, summary, problem in variants:
        share = close(got["vwap"], expected[column]).mean()
        if share > 0.98:
            raise Wrong(problem, example_got, {**example_expected}, summary=summary)
    raise Wrong(
        f"vwap: {int((~ok).sum())} of {len(got)} rows differ, e.g. {example_got['currency_pair']} at "
        f"{example_got['ts']}: got {example_got['vwap']}, expected {example_expected['vwap']}. The VWAP of the "
        "pair's trades whose time is in the 5 minutes up to each trade, that trade and every trade of the same "
        "millisecond included: a time range, ordered by ts.",
        example_got,
        example_expected,
        summary="vwap differs.",
    )


_KNOWN_ERRORS = [
    (
        "can only be ordered in ASCENDING mode",
        "ordered descending.",
        "a streaming OVER window goes forward in time: ORDER BY ts, ascending (Flink refuses DESC here).",
    ),
    (
        "Data Type mismatch between ORDER BY and RANGE clause",
        "ordered by a column that is not the time.",
        "a time range (RANGE BETWEEN INTERVAL ...) needs the OVER window ordered by the event time: ORDER BY ts.",
    ),
    (
        "OVER windows' ordering in stream mode must be defined on a time attribute",
        "ordered by a column that is not a time attribute.",
        "a streaming OVER window is ordered by the event time, ORDER BY ts (an ascending time attribute), not by "
        "price or another column.",
    ),
]


@judged(NAME)
def check(sql: str, timeout_s: float | None = None) -> CheckResult:
    frame = run_answer(sql, timeout_s, known_errors=_KNOWN_ERRORS)
    expected = load_expected()
    got = _shape(frame.copy(), expected)
    _rows(got, expected)
    plan = answer_plan(sql)
    _values(got, expected, plan)
    require_operator(
        plan,
        "OverAggregate",
        "an OVER window",
        "Aggregate OVER a window of the trades before each one: Flink emits each trade's row once, when the "
        "watermark passes it.",
    )
    return passed(
        NAME, f"correct: {len(expected)} trades, each with the VWAP of its pair's 5 minutes up to it (an OVER window)."
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {NAME: check}

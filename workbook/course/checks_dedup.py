"""Check of notebook 10's deduplication exercise (advanced track):

- first_trades: each trade of a replayed stream once (a producer that reconnects sends its last seconds again),
  the first copy kept: ROW_NUMBER() OVER (PARTITION BY every field of the trade ORDER BY ts) = 1, which Flink
  runs as a Deduplicate operator keeping the first row (each trade emitted once: a copy never replaces it).

The answer runs on the replayed dataset (datasets.with_replays); its rows are compared with the stored expected
output, workbook/course/expected/first_trades.csv (workbook/course/references/dedup.py). Its final rows are not
enough: keeping the last copy, ordering by another column and SELECT DISTINCT give the same final rows, so the
check also reads its changelog (keeping the last copy updates a row for every replayed copy) and the operator
Flink runs (a Deduplicate by event time, not a Rank or a GroupAggregate).
"""

from __future__ import annotations

import pandas as pd

from .feedback import (
    CheckResult,
    Wrong,
    data_key,
    example_row,
    judged,
    last_query,
    load_expected_csv,
    passed,
    require_rows,
    require_types,
    run_answer,
    session,
)

NAME = "first_trades"
DATA = "replayed"
COLUMNS = ["currency_pair", "direction", "price", "volume", "ts"]


def load_expected() -> pd.DataFrame:
    return load_expected_csv(NAME, ("ts",))


def _shape(got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    require_rows(got, expected, COLUMNS, "Select the trade's columns only (not the row number), in this order.")
    return require_types(got, {"ts": "the trade's time"})


def _counted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby(COLUMNS, sort=True).size().rename("n").reset_index()


def _rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    g, e = _counted(got), _counted(expected[COLUMNS])
    m = e.merge(g, on=COLUMNS, how="outer", suffixes=("_expected", "_got")).fillna({"n_expected": 0, "n_got": 0})
    twice = m[m["n_got"] > 1]
    if len(twice):
        copies = int((twice["n_got"] - 1).sum())
        raise Wrong(
            f"{len(twice)} trades are still there more than once ({copies} copies): a replayed copy has the same "
            "pair, direction, price, volume and time as the first one. Number the copies of each trade, ROW_NUMBER() "
            "OVER (PARTITION BY <every field of the trade> ORDER BY ts), and keep number 1.",
            example_row(twice[COLUMNS]),
            summary="the replayed copies are still there.",
        )
    gone = m[(m["n_expected"] > 0) & (m["n_got"] == 0)]
    if len(gone):
        lost = gone.iloc[0]
        same_time = got[(got["currency_pair"] == lost["currency_pair"]) & (got["ts"] == lost["ts"])]
        differs = [
            c
            for c in ("direction", "price", "volume")
            if len(same_time)
            and not (same_time[c] == lost[c]).any()
            and all((same_time[o] == lost[o]).any() for o in ("direction", "price", "volume") if o != c)
        ]
        other_pair = got[
            (got["currency_pair"] != lost["currency_pair"])
            & (got["ts"] == lost["ts"])
            & (got["direction"] == lost["direction"])
            & (got["price"] == lost["price"])
            & (got["volume"] == lost["volume"])
        ]
        if not differs and len(other_pair):
            differs = ["currency_pair"]
        which = f" (they differ in {differs[0]} only: is {differs[0]} in your PARTITION BY?)" if differs else ""
        raise Wrong(
            f"{len(gone)} trades are missing: your query took two different trades of the same pair and time for "
            f"copies of one{which}. A copy is the same in every field: partition by currency_pair, direction, "
            "price, volume and ts.",
            None,
            example_row(gone[COLUMNS]),
            summary="different trades taken for copies.",
        )
    extra = m[m["n_expected"] == 0]
    if len(extra):
        raise Wrong(
            f"{len(extra)} rows are no trade of valid_trades: select its columns as they are.",
            example_row(extra[COLUMNS]),
            summary="other rows.",
        )


def _streaming(sql: str, timeout_s: float | None) -> None:
    log = run_answer(sql, timeout_s, data=DATA, changelog=True)
    updates = log[log["op"] != "+I"]
    if len(updates):
        raise Wrong(
            f"your final rows are right, but your query's changelog has {len(updates)} updates "
            f"({', '.join(f'{k}: {v}' for k, v in updates['op'].value_counts().items())}): it keeps the LAST copy "
            "(ORDER BY ts DESC), so each replayed copy retracts the row it had emitted (-U) and emits it again (+U); "
            "a sink downstream rewrites a row for every copy. Keeping the first copy (ORDER BY ts ASC) emits each "
            "trade once: a copy has the same time, so it never replaces the first.",
            summary="keeps the last copy: an updating result.",
            hint_level=2,
        )
    query = last_query(sql)
    plan = session().execution_plan(query, data_key(DATA)) if query else ""
    if "Deduplicate(keep=[FirstRow]" in plan and "order=[ROWTIME]" in plan:
        return
    if "WindowDeduplicate(" in plan and "keep=[FirstRow]" in plan:
        return  # a window deduplication: the copies of a trade are in its window, the first kept
    if "GroupAggregate(" in plan:
        raise Wrong(
            "your final rows are right, but Flink runs your query as a grouped aggregation (GroupAggregate: "
            "DISTINCT or GROUP BY): after it ts is no longer an event time, so no window can follow it (Flink "
            "refuses a TUMBLE over it), where one can "
            "follow a deduplication. ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ts) = 1 is what Flink runs as "
            "a deduplication.",
            summary="DISTINCT instead of a deduplication.",
            hint_level=2,
        )
    if "Rank(" in plan:
        raise Wrong(
            "your final rows are right, but your ROW_NUMBER is ordered by a column that is not the event time: "
            "Flink runs it as a Top-1 (a Rank operator, which keeps every copy of a key sorted in state and may "
            "change its answer), not as a deduplication. Order by the time attribute: ORDER BY ts.",
            summary="ordered by a column that is not the time.",
            hint_level=2,
        )
    raise Wrong(
        "your final rows are right, but Flink does not run your query as a deduplication keeping the first row by "
        f"event time (its plan: {' '.join(plan.split())[:160]}...). Use ROW_NUMBER() OVER (PARTITION BY ... ORDER BY "
        "ts) and keep number 1.",
        summary="not a deduplication.",
        hint_level=2,
    )


@judged(NAME)
def check(sql: str, timeout_s: float | None = None) -> CheckResult:
    frame = run_answer(sql, timeout_s, data=DATA)
    expected = load_expected()
    got = _shape(frame.copy(), expected)
    _rows(got, expected)
    _streaming(sql, timeout_s)
    copies = int((expected["copies"] - 1).sum())
    return passed(
        NAME,
        f"correct: {len(expected)} trades, the {copies} replayed copies dropped; Flink runs it as a "
        "deduplication keeping the first row by event time, and emits each trade once (its changelog: +I only).",
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {NAME: check}

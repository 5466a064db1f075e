"""Check of notebook 11's temporal-join exercise (advanced track):

- trades_usd: each valid trade with its price in US dollars, price x the USD rate of its quote asset AS OF the
  trade's time: an event-time temporal join of valid_trades with the versioned view rates_versioned,
  FOR SYSTEM_TIME AS OF t.ts, on the quote of currency_pair.

The answer runs on the check dataset and its rates (the `rates` table reads datasets.market_rates' file in the
check session); its rows are compared with the stored expected output, workbook/course/expected/trades_usd.csv
(workbook/course/references/temporal.py). A trade whose quote has no rate yet at its time has no row (an inner
join); a trade that arrives behind the trades' watermark (the grading data's stragglers) may be missing: Flink
joins it only while the rates' side has not moved past it, which depends on how fast the two sources read.

Named mistakes: a regular join (no FOR SYSTEM_TIME AS OF: seen in the plan before anything runs, as it pairs
every rate with every trade, rates from the future included), a processing-time temporal join, the rates table
itself (no key) or a view of it without event time as the versioned side, the wrong asset (the base) as the key,
a LEFT JOIN (rows without a rate), and a plan that is not an insert-only event-time temporal join.
"""

from __future__ import annotations

import pandas as pd

from ..pipeline import sql_files
from ..pipeline.session import SqlError
from .feedback import (
    CheckResult,
    Wrong,
    answer_plan,
    answer_sql,
    close,
    data_key,
    example_row,
    judged,
    last_query,
    load_expected_csv,
    passed,
    plan_operators,
    require_rows,
    require_types,
    run_answer,
    session,
)

NAME = "trades_usd"
COLUMNS = ["currency_pair", "ts", "price", "price_usd"]
KEY = ["currency_pair", "ts", "price"]

_KNOWN_ERRORS = (
    (
        "Processing-time temporal join is not supported",
        "a processing-time temporal join.",
        "FOR SYSTEM_TIME AS OF a PROCTIME() column asks for the rate that holds when Flink processes the trade "
        "(now), not the rate of the trade's own time: replaying the same trades tomorrow would give other "
        "prices. Flink does not even run it over a versioned view like rates_versioned (only over a lookup "
        "table, e.g. a database). Join AS OF the trade's event time: FOR SYSTEM_TIME AS OF t.ts.",
    ),
    (
        "no row time attribute can be found",
        "the rates side has no event time (no watermark).",
        "FOR SYSTEM_TIME AS OF t.ts asks for the version of the rate that holds at the trade's EVENT time, so "
        "Flink needs the rates' event time too: a time attribute with a WATERMARK (rates.ts has one; a CAST or "
        "a function of it, or a table without a WATERMARK, has none). Flink refuses the join at once, it does "
        "not wait: its versions are ordered by that time, and the rates' watermark says when a version is final. "
        "Use rates_versioned as it is.",
    ),
    (
        "no primary key can be found",
        "the versioned side has no primary key: the rates table itself?",
        "a temporal join needs a VERSIONED table on its right side: a key (the asset) whose value changes over "
        "time, each version with the event time from which it holds. The rates table is an append-only stream "
        "with no key; rates_versioned (26_rates_versioned.sql: the last row per asset, ordered by ts) is its "
        "versioned view, with asset as its key. Join rates_versioned FOR SYSTEM_TIME AS OF t.ts.",
    ),
)


def load_expected() -> pd.DataFrame:
    return load_expected_csv(NAME, ("ts", "rate_ts"))


def _plan(sql: str) -> tuple:
    """The plan of the answer's query and what is left to run of the answer: its statements before the query
    (views) are run first, so the query is planned, nothing of it run, before it runs. The plan is None when
    the query does not plan (running it says why)."""
    query = last_query(sql)
    statements = [text for _, text in sql_files.split_statements(answer_sql(sql))] if query else []
    if statements[:-1] and statements[-1] == query:
        try:
            session().run_cell(";\n".join(statements[:-1]), data=data_key("check"), protected=True)
        except SqlError as exc:
            raise Wrong([exc.text()], summary="your query did not run.") from None
        sql = query.strip()
    return answer_plan(sql), sql


def _regular_join(plan) -> None:
    """A join of the rates that is not a temporal join, named before it runs: its result is huge or updating."""
    if plan is None or "TemporalJoin" in plan.operators or "Join" not in plan.operators:
        return
    if plan.updating:
        raise Wrong(
            "your query joins rates_versioned with a REGULAR join (no FOR SYSTEM_TIME AS OF): it joins each trade "
            "with the rate that holds NOW, at the end of what was read, and rewrites all of its earlier rows each "
            "time a rate changes (its result is updating: -U/+U for every trade at every new rate). So a trade "
            "gets a rate from its future, and the state keeps every trade forever. FOR SYSTEM_TIME AS OF t.ts "
            "makes it a temporal join: each trade gets the version of its own time, once.",
            summary="a regular join, not a temporal join: rates from the future.",
            hint_level=2,
        )
    raise Wrong(
        "your query joins the rates with a REGULAR join (no FOR SYSTEM_TIME AS OF): every rate record of the "
        "asset joins every trade (about a record a second per asset: hundreds of rows per trade), rates from "
        "the trade's future included, and Flink keeps every trade and every rate in its state forever. It was "
        "not run (its plan has a Join, not a TemporalJoin). Join the versioned view AS OF the trade's time: "
        "JOIN rates_versioned FOR SYSTEM_TIME AS OF t.ts AS r ON ...",
        summary="a regular join, not a temporal join: every rate joins every trade.",
        hint_level=2,
    )


def _shape(got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    require_rows(
        got,
        expected,
        COLUMNS,
        "Name each column with AS, in this order (ts is the trade's time).",
        (
            "your query returns no rows. Is the join's key the quote asset, as rates_versioned names it ("
            "SPLIT_INDEX(currency_pair, ' / ', 1): SPLIT_INDEX counts from 0)?"
        ),
    )
    return require_types(got, {"ts": "the trade's time"}, {"price_usd": "a number"})


def _prices(both: pd.DataFrame) -> None:
    """price_usd of the trades both have: the expected one, or which mistake gives it."""
    w = both[~close(both["price_usd_got"], both["price_usd_expected"]).to_numpy()]
    if not len(w):
        return
    is_base = close(w["price_usd_got"], w["price"] * w["base_rate_usd"]).to_numpy()
    base_only = close(w["price_usd_got"], w["base_rate_usd"]).to_numpy()
    divided = close(w["price_usd_got"], w["price"] / w["rate_usd"]).to_numpy()
    example = w.rename(columns={"price_usd_got": "price_usd"})[COLUMNS]
    expected_row = w.rename(columns={"price_usd_expected": "price_usd"})[COLUMNS]
    if is_base.mean() > 0.5 or base_only.mean() > 0.5:
        what = "price x the BASE's rate" if is_base.mean() > 0.5 else "the BASE's rate alone"
        raise Wrong(
            f"{len(w)} rows have another price_usd: it is {what} (the first asset of currency_pair). A trade's "
            "price is in units of its QUOTE asset (bitcoin / euro at 90340.2: euros per bitcoin), so its price "
            "in US dollars is price x the quote's USD rate: join rates_versioned on the quote, "
            "SPLIT_INDEX(currency_pair, ' / ', 1) (SPLIT_INDEX counts from 0), as the producer's priceUsd "
            "does. Prices are off by the ratio of the two assets' rates, and trades whose base has no rate "
            "(dogecoin) go missing.",
            example_row(example),
            example_row(expected_row),
            summary="joined on the base asset instead of the quote.",
        )
    if divided.mean() > 0.5:
        raise Wrong(
            f"{len(w)} rows have another price_usd: price divided by the rate. rate_usd is US dollars per unit "
            "of the asset: price (quote units) x rate_usd (dollars per quote unit) is dollars.",
            example_row(example),
            example_row(expected_row),
            summary="divided by the rate instead of multiplying.",
        )
    raise Wrong(
        f"{len(w)} of {len(both)} trades have another price_usd than price x the quote's rate as of the "
        "trade's time (the last rate record at or before ts). Another version of the rate? Join AS OF t.ts, "
        "the trade's event time.",
        example_row(example),
        example_row(expected_row),
        summary="rows differ: price_usd.",
    )


def _rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    g = got.groupby(KEY, sort=False, dropna=False).agg(n=("price_usd", "size"), price_usd=("price_usd", "first"))
    e = expected.groupby(KEY, sort=False).agg(
        n=("price_usd", "size"),
        price_usd=("price_usd", "first"),
        rate_usd=("rate_usd", "first"),
        base_rate_usd=("base_rate_usd", "first"),
        behind=("behind", "first"),
    )
    m = e.merge(g, how="outer", left_index=True, right_index=True, suffixes=("_expected", "_got")).reset_index()
    both = m[m["n_got"].notna() & m["n_expected"].notna()]
    extra = m[m["n_expected"].isna()]
    nulls = extra[extra["price_usd_got"].isna()]
    if len(nulls):
        raise Wrong(
            f"{len(nulls)} rows have no price_usd (NULL): trades whose quote had no rate yet at their time (a rate "
            "feed that joins late: its first seconds). A LEFT JOIN keeps them; the exercise wants an inner "
            "temporal join, which drops a trade without a rate version (JOIN, not LEFT JOIN).",
            example_row(nulls.rename(columns={"price_usd_got": "price_usd"})[COLUMNS]),
            summary="trades without a rate are kept (LEFT JOIN).",
        )
    _prices(both)
    if len(extra):
        raise Wrong(
            f"{len(extra)} rows are no trade of valid_trades with a rate (their pair, time or price is not one of "
            "a trade): select the trade's currency_pair, ts and price as they are.",
            example_row(extra.rename(columns={"price_usd_got": "price_usd"})[COLUMNS]),
            summary="other rows.",
        )
    more = both[both["n_got"] > both["n_expected"]]
    if len(more):
        raise Wrong(
            f"{len(more)} trades come more than once: each trade joins ONE version of its quote's rate.",
            example_row(more.rename(columns={"price_usd_got": "price_usd"})[COLUMNS]),
            summary="trades more than once.",
        )
    gone = m[m["n_got"].isna() & ~m["behind"].astype(bool)]
    fewer = both[(both["n_got"] < both["n_expected"]) & ~both["behind"].astype(bool)]
    if len(gone) or len(fewer):
        example = gone if len(gone) else fewer
        raise Wrong(
            f"{len(gone) + len(fewer)} trades with a rate are missing: every valid trade whose quote has a rate at "
            "its time has a row (a filter? the key of the join?).",
            None,
            example_row(example.rename(columns={"price_usd_expected": "price_usd"})[COLUMNS]),
            summary="trades missing.",
        )


def _streaming(plan) -> None:
    if plan is None:
        return
    if "TemporalJoin" not in plan.operators:
        raise Wrong(
            "your rows are right, but Flink does not run your query as a temporal join (its plan has no "
            f"TemporalJoin: {plan_operators(plan)}). JOIN rates_versioned FOR SYSTEM_TIME "
            "AS OF t.ts, an event-time temporal join.",
            summary="not a temporal join.",
            hint_level=2,
        )
    if plan.updating:
        raise Wrong(
            f"your rows are right, but your query's result is updating ({sorted(plan.kinds)}): an event-time "
            "temporal join emits each trade once (append-only).",
            summary="an updating result.",
            hint_level=2,
        )


@judged(NAME)
def check(sql: str, timeout_s: float | None = None) -> CheckResult:
    plan, sql = _plan(sql)
    _regular_join(plan)
    frame = run_answer(sql, timeout_s, known_errors=_KNOWN_ERRORS)
    expected = load_expected()
    got = _shape(frame.copy(), expected)
    _rows(got, expected)
    _streaming(plan)
    return passed(
        NAME,
        f"correct: your rows match the {len(expected)} expected trades with their price in USD at their quote's rate as of their time (those "
        "without a rate yet dropped); Flink runs it as an event-time temporal join, each trade emitted once "
        "(insert-only).",
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {NAME: check}

"""Check of notebook 11's lookup-join exercise (advanced track):

- trade_assets: each valid trade with the symbol and category of its BASE asset, looked up in the PostgreSQL
  table assets (sql/27_assets.sql, JDBC, with a lookup cache): a LEFT JOIN assets FOR SYSTEM_TIME AS OF a
  processing-time attribute of the trades (PROCTIME()), on the base of currency_pair.

The answer runs on the check dataset, its lookups against the workbook's PostgreSQL table (sql/postgres/
04_assets.sql's rows); its rows are compared with the stored expected output, workbook/course/expected/
trade_assets.csv (workbook/course/references/lookup.py). The table lists no xrp and no dogecoin: their trades
keep NULLs.

Named mistakes: FOR SYSTEM_TIME AS OF the event time ts (Flink refuses it: the table has no versions), an inner
join (the trades of an asset the table lacks are lost), the quote looked up instead of the base, and a regular
join (right rows, but the table is scanned once when the query starts: Flink's plan has a Join, not a
LookupJoin).
"""

from __future__ import annotations

import pandas as pd

from .feedback import (
    CheckResult,
    Wrong,
    answer_plan,
    example_row,
    judged,
    load_expected_csv,
    passed,
    require_operator,
    require_rows,
    require_types,
    run_answer,
)

NAME = "trade_assets"
COLUMNS = ["currency_pair", "ts", "price", "symbol", "category"]
KEY = ["currency_pair", "ts", "price"]
LOOKUP = "LEFT JOIN assets FOR SYSTEM_TIME AS OF t.proc_time AS a ON SPLIT_INDEX(t.currency_pair, ' / ', 0) = a.asset"

_KNOWN_ERRORS = (
    (
        "Event-Time Temporal Table Join requires both primary key and row time attribute",
        "a lookup AS OF the event time ts.",
        "FOR SYSTEM_TIME AS OF t.ts asks for the row of assets as it was at the trade's EVENT time: an event-time "
        "temporal join, which needs a versioned table (versions with an event time and a watermark, as "
        "rates_versioned has). assets is a table in PostgreSQL: it keeps only the current row of each asset, no "
        "history, so Flink refuses it. A lookup join asks PostgreSQL for the row as it is when Flink processes "
        "the trade: AS OF a processing-time attribute, e.g. (SELECT *, PROCTIME() AS proc_time FROM "
        "valid_trades) AS t ... FOR SYSTEM_TIME AS OF t.proc_time.",
    ),
    (
        "can not be reduced to a constant",
        "FOR SYSTEM_TIME AS OF PROCTIME(): a column of the trades is needed.",
        "FOR SYSTEM_TIME AS OF takes a time attribute of the join's left side, not a function call: Flink reads "
        "AS OF PROCTIME() as time travel to one fixed moment, which it cannot compute. Give the trades a "
        "processing-time column in a subquery, (SELECT *, PROCTIME() AS proc_time FROM valid_trades) AS t, and "
        "join FOR SYSTEM_TIME AS OF t.proc_time.",
    ),
    (
        "Connection refused",
        "PostgreSQL does not answer: the lookups need it.",
        "each lookup asks PostgreSQL for a row of the table assets, and nothing answered at POSTGRES_HOST:"
        "POSTGRES_PORT of .env: start the stack with `python -m workbook up` (`python -m workbook status` says "
        "what runs), then run the cell again.",
    ),
)


def load_expected() -> pd.DataFrame:
    return load_expected_csv(NAME, ("ts",))


def _shape(got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    require_rows(got, expected, COLUMNS, "Name each column with AS, in this order (ts is the trade's time).")
    return require_types(got, {"ts": "the trade's time"}, {"price": "a number"})


def _text(values: pd.Series) -> pd.Series:
    """Values as text to compare, NULL as ''."""
    return values.astype(object).where(values.notna(), "").astype(str)


def _row(frame: pd.DataFrame) -> dict | None:
    """The example row of `frame`, a NULL as None (not NaN)."""
    return example_row(frame.astype(object).where(frame.notna(), None))


def _require_workbook_table(expected: pd.DataFrame) -> None:
    """Wrong when the PostgreSQL table assets is not the workbook's for the trades' base assets (a row changed,
    added or deleted there): then the rows differ whatever the answer, and the verdict says why."""
    bases = expected.assign(asset=expected["currency_pair"].str.split(" / ").str[0]).drop_duplicates("asset")
    table = run_answer("SELECT asset, symbol, category FROM assets")
    have = {asset: (symbol, category) for asset, symbol, category in table.itertuples(index=False)}
    changed = []
    for row in bases.itertuples():
        want = None if pd.isna(row.symbol) else (row.symbol, row.category)
        if have.get(row.asset) != want:
            changed.append(f"{row.asset}: {have.get(row.asset) or 'no row'}, the workbook's: {want or 'no row'}")
    if changed:
        raise Wrong(
            "the table assets in PostgreSQL is not the workbook's (sql/postgres/04_assets.sql), so no answer gets "
            f"the expected rows: {'; '.join(changed)}. `python -m workbook up` puts the workbook's rows back; a row "
            "added for an asset it does not list stays: DELETE FROM assets WHERE asset = '...'.",
            summary="the table assets was changed.",
        )


def _rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    e = expected.copy()
    e["n"] = e.groupby(KEY, sort=False)["symbol"].transform("size")
    e = e.drop_duplicates(KEY).set_index(KEY)
    g = got.groupby(KEY, sort=False, dropna=False).agg(
        n=("symbol", "size"), symbol=("symbol", "first"), category=("category", "first")
    )
    m = e.merge(g, how="outer", left_index=True, right_index=True, suffixes=("_expected", "_got")).reset_index()
    both = m[m["n_got"].notna() & m["n_expected"].notna()]
    wrong = both[
        (_text(both["symbol_got"]) != _text(both["symbol_expected"])).to_numpy()
        | (_text(both["category_got"]) != _text(both["category_expected"])).to_numpy()
    ]
    got_row = {f"{c}_got": c for c in ("symbol", "category")}
    expected_row = {f"{c}_expected": c for c in ("symbol", "category")}
    if len(wrong):
        _require_workbook_table(expected)
        example = wrong.rename(columns=got_row)[COLUMNS]
        right = wrong.rename(columns=expected_row)[COLUMNS]
        of_quote = (_text(wrong["symbol_got"]) == _text(wrong["quote_symbol"])).mean()
        if of_quote > 0.5:
            raise Wrong(
                f"{len(wrong)} trades have the symbol and category of their QUOTE asset (the second part of "
                "currency_pair: bitcoin / euro gets EUR): look up the BASE, the asset bought or sold, "
                "SPLIT_INDEX(t.currency_pair, ' / ', 0) = a.asset (SPLIT_INDEX counts from 0).",
                _row(example),
                _row(right),
                summary="looked up the quote asset instead of the base.",
            )
        raise Wrong(
            f"{len(wrong)} of {len(both)} trades have another symbol or category than the row of their base asset "
            "in assets (NULL when assets has no row for it).",
            _row(example),
            _row(right),
            summary="rows differ: symbol or category.",
        )
    extra = m[m["n_expected"].isna()]
    if len(extra):
        raise Wrong(
            f"{len(extra)} rows are no trade of valid_trades: select the trade's currency_pair, ts and price as they "
            "are.",
            _row(extra.rename(columns=got_row)[COLUMNS]),
            summary="other rows.",
        )
    more = both[both["n_got"] > both["n_expected"]]
    if len(more):
        raise Wrong(
            f"{len(more)} trades come more than once: each trade looks up ONE row, that of its base asset (the "
            "table's key, asset).",
            _row(more.rename(columns=got_row)[COLUMNS]),
            summary="trades more than once.",
        )
    gone = m[m["n_got"].isna() | (m["n_got"] < m["n_expected"])]
    if not len(gone):
        return
    example = _row(gone.rename(columns=expected_row)[COLUMNS])
    unlisted = gone["symbol_expected"].isna()
    if unlisted.all():
        pairs = ", ".join(sorted(gone["currency_pair"].unique()))
        raise Wrong(
            f"{len(gone)} trades are missing, all of an asset the table assets does not list ({pairs}): an inner "
            "JOIN drops a trade whose lookup finds no row. The trades are still valid trades: LEFT JOIN keeps them, "
            "with NULL symbol and category.",
            None,
            example,
            summary="trades of unlisted assets are lost (an inner join).",
        )
    raise Wrong(
        f"{len(gone)} trades are missing: every valid trade has a row (a filter?).",
        None,
        example,
        summary="trades missing.",
    )


@judged(NAME)
def check(sql: str, timeout_s: float | None = None) -> CheckResult:
    frame = run_answer(sql, timeout_s, known_errors=_KNOWN_ERRORS)
    plan = answer_plan(sql)  # after the run: the answer's own views (if any) are defined by then
    expected = load_expected()
    got = _shape(frame.copy(), expected)
    _rows(got, expected)
    require_operator(
        plan,
        "LookupJoin",
        "a lookup join",
        "Without FOR SYSTEM_TIME AS OF, Flink reads the whole table assets once, when the query starts (a "
        "TableSourceScan of assets), and joins it as a second input: a row changed in PostgreSQL later is never "
        "seen, and Flink keeps every trade in its state in case another asset row comes. A lookup join asks "
        "PostgreSQL for the base's row when each trade comes (or takes it from its cache): "
        f"FROM (SELECT *, PROCTIME() AS proc_time FROM valid_trades) AS t {LOOKUP}.",
    )
    return passed(
        NAME,
        f"correct: {len(got)} trades with their base asset's symbol and category, NULL for "
        f"{int(got['symbol'].isna().sum())} of assets the table does not list; Flink runs it as a lookup join "
        "(insert-only).",
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {NAME: check}

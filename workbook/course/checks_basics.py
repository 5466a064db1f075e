"""Checks of the SQL rungs of part L1 (notebook 03), and what every check of part L1 shares:

    filter_project    the valid trades of 'bitcoin / tether' with their notional value
    changelog_counts  trades per pair without a window: an updating result (-U/+U)
    tumble_counts     trades per pair and 1-minute tumbling window

(stream_counts, 02's pandas exercise, is checked in checks_stream.py; source_table, 03's DDL, in
checks_source.py.) The SQL checks run the student's query in the kernel's warm session over the
`basics` dataset (datasets.basics_records: three minutes of the synthetic market out of order by up
to 2 s, with a few bad records and late trades, so that leaving out the filter of valid_trades shows).
The expected results are stored in workbook/course/expected/<name>.json, made by the instructor's
references (not in the release): `python -m workbook.course.references.basics`. Each check names the
usual mistakes.
"""

from __future__ import annotations

import json

import pandas as pd

from .datasets import expected_path, records
from .feedback import CheckResult, Wrong, close, judged, passed, require_windowed, run_answer

BASICS = "basics"  # the dataset of the SQL checks
PROBE = "probe"  # the dataset of the source_table check: one pair, stragglers of known lags
PAIR = "bitcoin / tether"  # the pair of filter_project

# --- shared by the checks of part L1 ---------------------------------------------------------------


def expected(name: str) -> dict:
    """The stored expected output of exercise `name` (of the practice data, or the grading data when graded)."""
    return json.loads(expected_path(f"{name}.json").read_text())


def run_basics(
    sql: str, data: str = BASICS, changelog: bool = False, limit: int | None = None, timeout_s: float | None = None
) -> pd.DataFrame:
    """The student's query's rows on a dataset of part L1 (Wrong when it does not run: feedback.run_answer)."""
    return run_answer(sql, timeout_s, data=data, changelog=changelog, limit=limit)


def require_columns(frame: pd.DataFrame, columns: list[str], why: dict | None = None) -> None:
    """Wrong unless the frame has exactly these columns, in this order; `why`: column -> what it is."""
    got = list(frame.columns)
    if got == columns:
        return
    missing = [c for c in columns if c not in got]
    extra = [c for c in got if c not in columns]
    problems = [
        f"columns: your result has {got}, expected {columns}"
        + (f" (missing {missing})" if missing else "")
        + (f" (unexpected {extra})" if extra else "")
        + ("" if missing or extra else " (same names, other order)")
        + ". Name each column with AS."
    ]
    for col, text in (why or {}).items():
        if col in missing or col in extra:
            problems.append(text)
    raise Wrong(problems)


def times(series: pd.Series) -> pd.Series:
    """Timestamps as text to the millisecond, naive UTC (to compare results of any time type)."""
    ts = pd.to_datetime(series)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]


def _nospace(pair) -> str:
    return str(pair).replace(" ", "").lower()


def pair_problems(got_pairs, expected_pairs) -> list[str]:
    """What is wrong with the set of currency pairs of a result (empty: nothing)."""
    got_pairs, expected_pairs = set(map(str, got_pairs)), set(expected_pairs)
    if got_pairs == expected_pairs:
        return []
    if {_nospace(p) for p in got_pairs} == {_nospace(p) for p in expected_pairs}:
        return [
            f"currency_pair is written without the spaces, e.g. {sorted(got_pairs)[0]!r}: expected "
            f"'base / quote' with a space on each side of the slash, e.g. {sorted(expected_pairs)[0]!r}."
        ]
    problems = []
    if expected_pairs - got_pairs:
        problems.append(f"missing currency pairs: {sorted(expected_pairs - got_pairs)[:4]}")
    if got_pairs - expected_pairs:
        problems.append(f"unexpected currency pairs: {sorted(got_pairs - expected_pairs)[:4]}")
    return problems


# --- filter_project -------------------------------------------------------------------------------

FILTER_COLUMNS = ["ts", "direction", "price", "volume", "notional"]


@judged("filter_project")
def check_filter_project(sql, timeout_s: float | None = None) -> CheckResult:
    name = "filter_project"
    frame = run_basics(sql, timeout_s=timeout_s)
    require_columns(
        frame,
        FILTER_COLUMNS,
        {"notional": "notional is the value of the trade in the quote currency: price * volume, named notional."},
    )
    exp = expected(name)
    rows = pd.DataFrame(exp["rows"], columns=["ms", "direction", "price", "volume"])
    got = frame.copy()
    got["ts"] = times(got["ts"])
    rows["ts"] = times(pd.to_datetime(rows["ms"], unit="ms"))
    key = ["ts", "direction", "price", "volume"]

    def keyset(df):
        return df[key].astype(str).apply("|".join, axis=1)

    got_keys, exp_keys = keyset(got), keyset(rows)
    every = pd.DataFrame([dict(t, problem=what) for t, what in records("basics_records")])
    every["pair"] = every["base"].fillna("") + " / " + every["quote"].fillna("")
    every["ts"] = times(pd.to_datetime(every["timestamp"], unit="ms"))
    lookup = dict(zip(keyset(every), zip(every["pair"], every["problem"], strict=True), strict=True))
    extra = got_keys[~got_keys.isin(set(exp_keys))]
    if len(extra):
        found = [lookup.get(k) for k in extra]
        invalid = sorted({p for _, p in filter(None, found) if p})
        other_pairs = sorted({pair for pair, _ in filter(None, found) if pair != PAIR})
        if other_pairs and not (set(got_keys) & set(exp_keys)):
            raise Wrong(
                f"these are the trades of {other_pairs[:3]}, not of {PAIR!r}: filter on "
                f"currency_pair = '{PAIR}' (with the spaces)."
            )
        if other_pairs:
            raise Wrong(f"{len(extra)} rows of other pairs ({other_pairs[:3]}): keep only {PAIR!r}.")
        if invalid:
            raise Wrong(
                f"{len(extra)} invalid trades are included ({', '.join(invalid)}): the valid "
                "trades are those without a problem and not late, the rows of valid_trades."
            )
        raise Wrong(f"{len(extra)} unexpected rows, e.g. {extra.iloc[0]}.")
    if got_keys.duplicated().any():
        raise Wrong(f"{int(got_keys.duplicated().sum())} duplicate rows: each trade once.")
    if len(frame) == 0:
        raise Wrong(f"no rows: the pair is written '{PAIR}' (lower case, a space each side of /).")
    missing = exp_keys[~exp_keys.isin(set(got_keys))]
    if len(missing):
        raise Wrong(
            f"{len(missing)} of {len(rows)} trades of {PAIR!r} are missing, e.g. one at "
            f"{rows.loc[missing.index[0], 'ts']}."
        )
    notional = got["price"].astype(float) * got["volume"].astype(float)
    ok = [close(g, e, 1e-9) for g, e in zip(got["notional"], notional, strict=True)]
    if not all(ok):
        r = got[[not o for o in ok]].iloc[0]
        problem = "notional is not price * volume"
        if close(r["notional"], float(r["volume"]) ** 2):
            problem += ": yours is volume * volume"
        elif close(r["notional"], float(r["price"]) / float(r["volume"])):
            problem += ": yours is price / volume"
        example = {k: r[k] for k in FILTER_COLUMNS}
        raise Wrong(problem + ".", example, dict(example, notional=float(r["price"]) * float(r["volume"])))
    return passed(name, f"correct: the {len(rows)} valid trades of {PAIR!r} with their notional value.")


# --- changelog_counts -----------------------------------------------------------------------------

COUNT_COLUMNS = ["currency_pair", "num_trades"]


@judged("changelog_counts")
def check_changelog_counts(sql, timeout_s: float | None = None) -> CheckResult:
    name = "changelog_counts"
    frame = run_basics(sql, timeout_s=timeout_s)
    if "window_start" in frame.columns or "window_end" in frame.columns:
        raise Wrong(
            "this is a windowed query: its result is append-only (one final row per window, "
            "never updated). The exercise is a GROUP BY without a window: one running count per "
            "pair, updated with every trade."
        )
    require_columns(frame, COUNT_COLUMNS)
    exp = pd.DataFrame(expected(name)["rows"], columns=COUNT_COLUMNS)
    problems = pair_problems(frame["currency_pair"], set(exp["currency_pair"]))
    if problems:
        raise Wrong(problems)
    if frame["currency_pair"].duplicated().any():
        raise Wrong(
            f"{len(frame)} rows for {frame['currency_pair'].nunique()} pairs: a pair appears more "
            "than once, so you group by more than the pair (e.g. the direction or a window). One "
            "row per pair: GROUP BY currency_pair only."
        )
    m = exp.merge(frame, on="currency_pair", suffixes=("", "_got"))
    wrong = m[m["num_trades"] != m["num_trades_got"]]
    if len(wrong):
        r = wrong.iloc[0]
        raise Wrong(
            f"num_trades: {len(wrong)} of {len(m)} pairs differ: the number of valid trades of the "
            "pair (COUNT(*) over valid_trades; not COUNT(DISTINCT ...), which counts values).",
            {"currency_pair": r["currency_pair"], "num_trades": r["num_trades_got"]},
            {"currency_pair": r["currency_pair"], "num_trades": r["num_trades"]},
        )
    log = run_basics(sql, changelog=True, limit=200, timeout_s=timeout_s)
    kinds = set(log["op"])
    if not {"-U", "+U"} <= kinds:
        raise Wrong(
            f"the changelog of your query has only {sorted(kinds)}: an append-only result. A "
            "GROUP BY without a window updates its rows (-U, +U) with every trade."
        )
    return passed(name, f"correct: {len(exp)} pairs; the changelog updates each count (-U/+U) with every trade.")


# --- tumble_counts --------------------------------------------------------------------------------

TUMBLE_COLUMNS = ["window_start", "window_end", "currency_pair", "num_trades"]


@judged("tumble_counts")
def check_tumble_counts(sql, timeout_s: float | None = None) -> CheckResult:
    name = "tumble_counts"
    frame = run_basics(sql, timeout_s=timeout_s)
    if list(frame.columns) == ["currency_pair", "num_trades"]:
        raise Wrong(
            "one count per pair over all time: count per pair AND 1-minute window (add "
            "window_start and window_end from the TUMBLE table function)."
        )
    require_columns(frame, TUMBLE_COLUMNS)
    exp = pd.DataFrame(expected(name)["rows"], columns=TUMBLE_COLUMNS)
    if not len(frame):
        raise Wrong("no rows.")
    got = frame.copy()
    try:
        start, end = pd.to_datetime(got["window_start"]), pd.to_datetime(got["window_end"])
    except (ValueError, TypeError):
        raise Wrong("window_start and window_end should be timestamps (those of the TUMBLE table function).") from None
    sizes = set((end - start).dt.total_seconds())
    if sizes != {60.0}:
        size = sorted(sizes)[0]
        raise Wrong(f"your windows last {size:g} s: they should last 1 minute (INTERVAL '1' MINUTE).")
    starts = start.sort_values().drop_duplicates()
    if len(starts) > 1 and (starts.diff().dropna().dt.total_seconds() < 60).any():
        raise Wrong(
            "your windows overlap (they start less than a minute apart): that is a sliding (HOP) "
            "window; each trade must count in exactly one window: TUMBLE."
        )
    problems = pair_problems(got["currency_pair"], set(exp["currency_pair"]))
    if problems:
        raise Wrong(problems)
    got["window_start"], got["window_end"] = times(start), times(end)
    exp["window_start"], exp["window_end"] = times(exp["window_start"]), times(exp["window_end"])
    key = ["window_start", "window_end", "currency_pair"]
    dup = got[key].astype(str).duplicated()
    if dup.any():
        raise Wrong(
            f"duplicate keys: {int(dup.sum())} (window, pair) appear more than once: you group by "
            "more than the window and the pair (e.g. the direction)."
        )
    if not pd.api.types.is_integer_dtype(got["num_trades"]):
        raise Wrong(f"num_trades should be a whole number (COUNT(*)), got type {got['num_trades'].dtype}.")
    m = exp.merge(got, on=key, how="outer", suffixes=("", "_got"), indicator=True)
    if (m["_merge"] != "both").any():
        missing, extra = m[m["_merge"] == "left_only"], m[m["_merge"] == "right_only"]
        raise Wrong(f"(window, pair) rows: {len(missing)} missing, {len(extra)} unexpected.")
    wrong = m[m["num_trades"] != m["num_trades_got"]]
    if len(wrong):
        r = wrong.iloc[0]
        problem = f"num_trades: {len(wrong)} of {len(m)} rows differ."
        if (wrong["num_trades_got"] < wrong["num_trades"]).all():
            problem += (
                " Yours are all too small: count every trade (COUNT(*)), not distinct values (COUNT(DISTINCT ...))."
            )
        row = {k: r[k] for k in key}
        raise Wrong(problem, dict(row, num_trades=r["num_trades_got"]), dict(row, num_trades=r["num_trades"]))
    require_windowed(sql, "TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)", data=BASICS)
    return passed(
        name,
        f"correct: {len(exp)} rows, one per pair and minute with trades "
        f"({exp['currency_pair'].nunique()} pairs over {exp['window_start'].nunique()} minutes).",
    )


CHECKS = {
    "filter_project": check_filter_project,
    "changelog_counts": check_changelog_counts,
    "tumble_counts": check_tumble_counts,
}

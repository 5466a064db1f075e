"""The check of `stream_counts` (notebook 02, pandas): trades and volume per pair and direction of
the records read back from Kafka. The student's cell runs on the sample's records; the result is
compared with workbook/course/expected/stream_counts.json, naming the usual mistakes: a Series
instead of a frame, one row per pair, buy and sell swapped or added up, the mean instead of the sum.
"""

from __future__ import annotations

import pandas as pd

from .checks_basics import expected, pair_problems, require_columns
from .datasets import records
from .feedback import CheckResult, Wrong, cell_value, close, judged, passed

EXERCISE = "stream_counts"
STREAM_COLUMNS = ["currency_pair", "direction", "trades", "volume"]
KEY = ["currency_pair", "direction"]


def cell_result(code: str, given: list):
    """What the cell's code assigns to stream_counts, run on the records `given` (what it raises, raised)."""
    return cell_value(code, "stream_counts", {"pd": pd, "records": given})


def stream_frame(answer):
    """The student's DataFrame: given as it is, or the code of the cell run on the sample's records."""
    return cell_result(answer, records("sample")) if isinstance(answer, str) else answer


@judged(EXERCISE)
def check_stream_counts(answer, timeout_s: float | None = None) -> CheckResult:
    exp = pd.DataFrame(expected(EXERCISE)["rows"], columns=STREAM_COLUMNS)
    frame = _rows(_frame(answer), exp)
    m = exp.merge(frame, on=KEY, suffixes=("", "_got"))
    _counts(m, exp, frame)
    _volumes(m)
    return passed(
        EXERCISE,
        f"correct: {len(exp)} rows ({exp['currency_pair'].nunique()} pairs x buy/sell), "
        f"{int(exp['trades'].sum())} trades.",
    )


def _frame(answer) -> pd.DataFrame:
    """The answer as a DataFrame (a groupby's index made columns); Wrong when it is none."""
    try:
        frame = stream_frame(answer)
    except Exception as exc:  # noqa: BLE001 (the student's code: say what it raised)
        raise Wrong(f"your code raised {type(exc).__name__}: {exc}") from None
    if frame is None or frame is Ellipsis:
        raise Wrong("stream_counts is not set yet: assign it a pandas DataFrame built from `records`.")
    if isinstance(frame, pd.Series):
        raise Wrong(
            "stream_counts is a Series: make it a DataFrame with the columns "
            f"{STREAM_COLUMNS} (name the aggregates, and .reset_index())."
        )
    if not isinstance(frame, pd.DataFrame):
        raise Wrong(f"stream_counts is a {type(frame).__name__}, not a pandas DataFrame.")
    if any(n in STREAM_COLUMNS for n in frame.index.names if n):  # groupby without reset_index
        frame = frame.reset_index()
    return frame


def _rows(frame: pd.DataFrame, exp: pd.DataFrame) -> pd.DataFrame:
    """Wrong unless there is one row per pair and direction, with the expected columns and types."""
    if (
        "direction" not in frame.columns
        and "currency_pair" in frame.columns
        and len(frame) == exp["currency_pair"].nunique()
    ):
        raise Wrong(
            f"one row per pair ({len(frame)} rows): count per pair AND direction "
            f"(expected {len(exp)} rows, a buy and a sell row for each pair)."
        )
    require_columns(frame, STREAM_COLUMNS)
    problems = pair_problems(frame["currency_pair"], set(exp["currency_pair"]))
    if problems:
        raise Wrong(problems)
    directions = set(frame["direction"].astype(str))
    if directions != {"buy", "sell"}:
        raise Wrong(
            f"direction has the values {sorted(directions)}: expected the records' own 'buy' and "
            "'sell' (the side of the taker)."
        )
    keys = frame[KEY].astype(str)
    if keys.duplicated().any():
        dup = keys[keys.duplicated()].iloc[0].tolist()
        raise Wrong(
            f"duplicate rows: {dup} appears more than once; one row per pair and direction "
            "(group by exactly those two)."
        )
    if len(frame) != len(exp):
        raise Wrong(f"{len(frame)} rows, expected {len(exp)} (every pair has buys and sells).")
    if not pd.api.types.is_integer_dtype(frame["trades"]):
        raise Wrong(f"trades should be a whole number (a count), got type {frame['trades'].dtype}.")
    return frame


def _counts(m: pd.DataFrame, exp: pd.DataFrame, frame: pd.DataFrame) -> None:
    """m: the expected rows merged with the student's (suffix _got). Wrong unless every count is right."""
    swapped = exp.assign(direction=exp["direction"].map({"buy": "sell", "sell": "buy"})).merge(
        frame, on=KEY, suffixes=("", "_got")
    )
    if (swapped["trades"] == swapped["trades_got"]).all() and not (m["trades"] == m["trades_got"]).all():
        raise Wrong(
            "buy and sell are swapped: the 'buy' row must count the records whose direction is 'buy'.",
            _row(m, "_got"),
            _row(m, ""),
        )
    pair_totals = exp.groupby("currency_pair")["trades"].transform("sum")
    if (m["trades_got"].values == pair_totals.loc[m.index].values).all():
        raise Wrong(
            "trades counts every trade of the pair, buy and sell together: count per pair AND direction.",
            _row(m, "_got"),
            _row(m, ""),
        )
    wrong = m[m["trades"] != m["trades_got"]]
    if len(wrong):
        raise Wrong(
            f"trades: {len(wrong)} of {len(m)} rows differ (a count of the records of the pair and direction).",
            _row(wrong, "_got"),
            _row(wrong, ""),
        )


def _volumes(m: pd.DataFrame) -> None:
    ok = [close(g, e, 1e-6) for g, e in zip(m["volume_got"], m["volume"], strict=True)]
    if all(ok):
        return
    wrong = m[[not o for o in ok]]
    r = wrong.iloc[0]
    problem = f"volume: {len(wrong)} of {len(m)} rows differ: it is the SUM of the records' volume."
    if close(r["volume_got"], r["trades"]):
        problem += " Yours is the number of trades."
    elif close(r["volume_got"], r["volume"] / r["trades"], 1e-6):
        problem += " Yours is the mean."
    raise Wrong(problem, _row(wrong, "_got"), _row(wrong, ""))


def _row(m: pd.DataFrame, suffix: str) -> dict:
    r = m.iloc[0]
    return {
        "currency_pair": r["currency_pair"],
        "direction": r["direction"],
        "trades": r[f"trades{suffix}"],
        "volume": r[f"volume{suffix}"],
    }


# exercise -> its check (answer, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {EXERCISE: check_stream_counts}

"""Check of notebook 10's MATCH_RECOGNIZE exercise (advanced track, optional):

- rising_closes: per pair, every run of three consecutive 1-minute closes, each above the one before
  (overlapping runs too: a rise over four candles is two runs), as currency_pair, first_start, last_end,
  first_close, last_close. The skeleton gives the closes (a CTE over a TUMBLE window); the answer is the
  MATCH_RECOGNIZE over them.

It runs the student's query on the check dataset in the warm session and compares it with the stored expected
output, workbook/course/expected/rising_closes.csv (made by workbook/course/references/patterns.py), naming the
usual mistakes: no PARTITION BY (runs across pairs); ORDER BY a column that is no time attribute (window_start:
Flink's error); PREV in DEFINE (Flink's error); the overlapping runs missing (AFTER MATCH SKIP PAST LAST ROW);
`>=` instead of `>`; two rising candles instead of three. And the stream: Flink's plan of the answer must be
insert-only and hold the Match operator (an answer that emulates the pattern with LAG or self-joins is told to
use MATCH_RECOGNIZE).
"""

from __future__ import annotations

import pandas as pd

from .feedback import (
    CheckResult,
    Wrong,
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

NAME = "rising_closes"
COLUMNS = ["currency_pair", "first_start", "last_end", "first_close", "last_close"]
KEY = COLUMNS[:3]
TIMES = ["first_start", "last_end"]
# the flag columns of the expected CSV: the answer's rows, and those of known mistakes
FLAGS = ["answer", "skip_past_last_row", "greater_or_equal", "two_candles"]
RUN = 3  # candles in a run
MINUTE = pd.Timedelta(minutes=1)


def load_expected(name: str = NAME) -> pd.DataFrame:
    """The stored expected rows with their flags (of the practice data, or the grading data when graded)."""
    frame = load_expected_csv(name, tuple(TIMES))
    for flag in FLAGS:
        frame[flag] = frame[flag].astype(bool)
    return frame


# --- comparing ------------------------------------------------------------------------------------


def _keys(frame: pd.DataFrame) -> set:
    return set(map(tuple, frame[KEY].astype(str).values))


def _only(frame: pd.DataFrame, keys: set) -> pd.DataFrame:
    """The rows of `frame` whose key is in `keys`, in key order."""
    inside = [tuple(k) in keys for k in frame[KEY].astype(str).values]
    return frame[inside].sort_values(KEY)


def _shape(got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Names, types and duplicates; the student's frame with naive UTC times."""
    require_rows(
        got,
        expected,
        COLUMNS,
        (
            "With ONE ROW PER MATCH a match's row holds the PARTITION BY column(s) and the MEASURES: name each "
            "measure with AS (first_start, last_end, first_close, last_close)."
        ),
        (
            f"your query returns no rows; the check data has {len(expected)} runs of three rising closes "
            "(is a DEFINE condition never true?)."
        ),
    )
    require_types(got, {col: "a timestamp (a candle's window_start or window_end as it is)" for col in TIMES})
    dup = got.duplicated(KEY, keep=False)
    if dup.any():
        raise Wrong(
            f"{int(dup.sum())} rows share their (currency_pair, first_start, last_end) with another row: "
            "a run is ONE row (ONE ROW PER MATCH).",
            example_row(got[dup]),
            summary="duplicate rows.",
        )
    return got


# --- the plan: a MATCH_RECOGNIZE, partitioned, insert-only ------------------------------------------


def _plan(sql: str):
    query = last_query(sql)
    if query is None:
        return None
    try:
        return session().plan(query, data_key("check"))
    except Exception as exc:  # noqa: BLE001 (it ran: planning it again fails only if the session broke)
        raise Wrong([f"the check could not get Flink's plan of your query: {exc}"], summary="not checked.") from None


def _match_lines(plan) -> list[str]:
    return [line.strip(" +-|") for line in plan.text.splitlines() if line.strip(" +-|").startswith("Match(")]


NOT_PARTITIONED = (
    "your MATCH_RECOGNIZE has no PARTITION BY: it puts the closes of ALL pairs in one sequence, ordered by "
    "window_time, so a 'run' can go from one pair's close to another's (and Flink matches them on one task). "
    "A run is three closes of ONE pair: PARTITION BY currency_pair (which also puts currency_pair in each "
    "match's row)."
)


def _partitioned(plan) -> None:
    lines = _match_lines(plan) if plan is not None else []
    if any("partitionBy=[" not in line for line in lines):
        raise Wrong(NOT_PARTITIONED, summary="not partitioned by pair.")


def _streaming(plan) -> None:
    if plan is None:
        return
    operators = plan_operators(plan)
    if "Match" not in plan.operators:
        how = ""
        if "OverAggregate" in plan.operators:
            how = " (LAG or another OVER window compares each close with the ones before it)"
        elif "Join" in plan.operators or "IntervalJoin" in plan.operators:
            how = " (joins of the closes with themselves)"
        raise Wrong(
            [
                f"your query finds the runs without MATCH_RECOGNIZE{how}: Flink's plan is {operators}, with no "
                "Match operator. The exercise is the pattern: FROM closes MATCH_RECOGNIZE (PARTITION BY ... "
                "ORDER BY window_time MEASURES ... ONE ROW PER MATCH AFTER MATCH SKIP ... PATTERN (...) "
                "DEFINE ...). A pattern says what a run is once, whatever its length, and Flink keeps only "
                "the rows of the runs it is in the middle of."
            ],
            summary="not MATCH_RECOGNIZE.",
            hint_level=2,
        )
    if plan.updating:
        raise Wrong(
            [
                f"your query's result updates its rows (Flink's plan: {operators}; kinds "
                f"{','.join(sorted(plan.kinds))}): a run that has matched is final, the result should only "
                "insert rows. Match over the closes of the skeleton's CTE (a TUMBLE window), as they are."
            ],
            summary="an updating result.",
        )


# --- the rows -----------------------------------------------------------------------------------------


def _rows(got: pd.DataFrame, every: pd.DataFrame) -> None:
    expected = every[every["answer"]]
    spans = set((got["last_end"] - got["first_start"]).tolist())
    ke, ka = _keys(expected), _keys(got)
    missing, unexpected = _only(expected, ke - ka), _only(got, ka - ke)
    example_got = example_row(unexpected[COLUMNS]) if len(unexpected) else None
    example_expected = example_row(missing[COLUMNS]) if len(missing) else None
    two = (RUN - 1) * MINUTE
    if ka == _keys(every[every["two_candles"]]) or (spans == {two} and len(ka) > len(ke)):
        raise Wrong(
            f"your runs are {RUN - 1} candles long (from first_start to last_end: {RUN - 1} minutes): a run is "
            f"THREE closes, each above the one before: three pattern variables, PATTERN (A B C), the second "
            "compared with the first and the third with the second.",
            example_got,
            example_row(expected[COLUMNS]),
            summary="two rising candles, not three.",
        )
    if ke != ka:
        for flag, summary, problem in (
            (
                "skip_past_last_row",
                "overlapping runs missing.",
                f"{len(missing)} runs are missing: those that start inside another run (a rise over four "
                "candles is two runs). Where does your AFTER MATCH SKIP go on after a match? SKIP PAST LAST ROW "
                "goes on after the run's last candle (or SKIP TO LAST on its last one); the next run may start "
                "at the candle after the run's first.",
            ),
            (
                "greater_or_equal",
                "a close equal to the one before counts as a rise (>= instead of >).",
                f"{len(unexpected)} of your runs have a close EQUAL to the one before it: rising is "
                "strictly above, B.price_close > A.price_close (not >=).",
            ),
        ):
            if ka == _keys(every[every[flag]]):
                raise Wrong(problem, example_got, example_expected, summary=summary)
        counts = [
            f"{len(missing)} missing (e.g. {example_row(missing[KEY])})" if len(missing) else "",
            f"{len(unexpected)} unexpected (e.g. {example_row(unexpected[KEY])})" if len(unexpected) else "",
        ]
        odd = sorted(int(span / MINUTE) for span in spans - {RUN * MINUTE})
        raise Wrong(
            f"{len(ka)} runs, expected {len(ke)}: {', '.join(filter(None, counts))}. A run is three consecutive "
            "closes of a pair, each strictly above the one before, overlapping runs included; first_start is the "
            "window_start of its first candle, last_end the window_end of its third."
            + (
                f" Some of yours span {' or '.join(map(str, odd))} minute(s) from first_start to last_end, where a "
                f"run spans {RUN}."
                if odd
                else ""
            ),
            example_got,
            example_expected,
            summary="rows differ.",
        )
    m = expected.merge(got, on=KEY, suffixes=("", "_got"))
    for col in ("first_close", "last_close"):
        ok = close(m[f"{col}_got"], m[col])
        if not ok.all():
            bad = m.loc[~ok.values].iloc[0]
            raise Wrong(
                f"{col}: {int((~ok).sum())} of {len(m)} runs differ, e.g. {bad['currency_pair']} from "
                f"{bad['first_start']}: got {bad[f'{col}_got']}, expected {bad[col]} (first_close is the "
                "first candle's price_close, last_close the third's).",
                {**{k: str(bad[k]) for k in KEY}, col: bad[f"{col}_got"]},
                {**{k: str(bad[k]) for k in KEY}, col: bad[col]},
                summary="rows differ.",
            )


# Flink's errors that a known mistake causes: (words of the message, summary, what to do)
_KNOWN_ERRORS = [
    (
        "You must specify either rowtime or proctime for order by",
        "ORDER BY is no time attribute.",
        "MATCH_RECOGNIZE orders each partition's rows by a time attribute first (Flink's message below): "
        "window_time, the rowtime the TUMBLE window gives each candle (the window's last millisecond). "
        "window_start and window_end are plain TIMESTAMPs: ORDER BY window_time.",
    ),
    (
        "Flink does not support physical offsets within partition",
        "PREV is not supported here.",
        "Flink rejects PREV(...) in DEFINE (a 'physical offset'): name the pattern variable of the close before "
        "instead, e.g. B AS B.price_close > A.price_close.",
    ),
]


@judged(NAME)
def check_rising_closes(sql: str, timeout_s: float | None = None) -> CheckResult:
    try:
        frame = run_answer(sql, timeout_s, known_errors=_KNOWN_ERRORS)
    except Wrong as wrong:
        text = " ".join(wrong.problems)
        if "currency_pair" in text and "not found" in text and "PARTITION BY" not in " ".join(sql.upper().split()):
            raise Wrong([NOT_PARTITIONED, *wrong.problems], summary="not partitioned by pair.") from None
        raise
    every = load_expected()
    expected = every[every["answer"]]
    plan = _plan(sql)
    _partitioned(plan)
    got = _shape(frame.copy(), expected)
    _streaming(plan)
    _rows(got, every)
    return passed(
        NAME,
        f"correct: {len(expected)} runs of three rising closes ({expected['currency_pair'].nunique()} pairs) "
        "match the reference.",
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {NAME: check_rising_closes}

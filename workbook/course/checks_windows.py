"""Checks of notebook 08's window exercises (optional part of the workbook):

- hop_vwap: a sliding HOP window, the 5-minute VWAP every minute per pair;
- cumulate_volume: CUMULATE, the volume so far in the hour, step 1 minute, per pair;
- top_pairs: window Top-N, the 3 pairs with the most volume in each 1-minute window.

Each runs the student's query on the check dataset in the warm session and compares it with the
stored expected output, workbook/course/expected/<exercise>.csv (made by
workbook/course/references/windows.py), naming the usual mistakes: the window type, size, slide or
step; a simple average for the VWAP; a ranking over all time instead of per window; top 5; the
smallest first; duplicate rows.
"""

from __future__ import annotations

import functools

import pandas as pd

from .datasets import active
from .feedback import CheckResult, Wrong, close, judged, passed, require_windowed, run_answer

HOP_SIZE, HOP_SLIDE = 5, 1  # minutes
CUMULATE_MAX, CUMULATE_STEP = 60, 1  # minutes
TOP_N = 3
KEY = ["window_start", "window_end", "currency_pair"]
COLUMNS = {
    "hop_vwap": KEY + ["vwap"],
    "cumulate_volume": KEY + ["volume"],
    "top_pairs": KEY + ["volume", "pair_rank"],
}
MINUTE = pd.Timedelta(minutes=1)
# the window table function of each exercise, as the message about an updating aggregation names it
WINDOWS = {
    "hop_vwap": "HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)",
    "cumulate_volume": "CUMULATE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)",
    "top_pairs": "TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE), ranked with ROW_NUMBER() OVER "
    "(PARTITION BY window_start, window_end ...) (a window Top-N)",
}


def load_expected(name: str) -> pd.DataFrame:
    """The stored expected output of exercise `name` (of the practice data, or the grading data when graded)."""
    frame = pd.read_csv(active().expected_dir / f"{name}.csv", parse_dates=["window_start", "window_end"])
    for col in ("window_start", "window_end"):
        frame[col] = frame[col].astype("datetime64[ms]")
    return frame


# --- comparing ------------------------------------------------------------------------------------


def _naive(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.astype("datetime64[ms]")


def _row(frame: pd.DataFrame, i: int = 0) -> dict | None:
    if not len(frame):
        return None
    return {k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in frame.iloc[i].to_dict().items()}


def _shape(name: str, got: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Names, types and duplicates; the student's frame with naive UTC window times."""
    columns = COLUMNS[name]
    have = list(got.columns)
    if have != columns:
        missing = [c for c in columns if c not in have]
        extra = [c for c in have if c not in columns]
        why = "; ".join(
            filter(
                None,
                [
                    f"missing {missing}" if missing else "",
                    f"unexpected {extra}" if extra else "",
                    "same names, other order" if not missing and not extra else "",
                ],
            )
        )
        raise Wrong(
            f"your query returns {have}, expected {columns} ({why}). Name each column with AS, in this order.",
            _row(got),
            _row(expected[columns]),
            summary="wrong columns.",
        )
    if not len(got):
        raise Wrong(
            "your query returns no rows (is the WHERE too strict?).", None, _row(expected[columns]), summary="no rows."
        )
    for col in ("window_start", "window_end"):
        try:
            got[col] = _naive(got[col])
        except (TypeError, ValueError):
            raise Wrong(
                f"{col} should be a timestamp (the window TVF's {col} as it is), got values like {got[col].iloc[0]!r}.",
                _row(got),
                summary="wrong types.",
            ) from None
    dup = got.duplicated(KEY, keep=False)
    if dup.any():
        raise Wrong(
            f"{int(dup.sum())} rows share their (window_start, window_end, currency_pair) "
            "with another row: each pair has ONE row per window. Group by window_start, window_end and "
            "currency_pair only (nothing else, e.g. not direction or ts).",
            _row(got[dup]),
            summary="duplicate rows.",
        )
    return got


def _pairs_and_keys(got: pd.DataFrame, expected: pd.DataFrame, what: str) -> None:
    pe, pa = set(expected["currency_pair"]), set(got["currency_pair"])
    if pe - pa:
        raise Wrong(
            f"missing pairs: {sorted(pe - pa)} (yours: {sorted(pa)[:5]}...); "
            "currency_pair is 'base / quote' as valid_trades has it.",
            summary="missing currency pairs.",
        )
    if pa - pe:
        raise Wrong(f"unexpected pairs: {sorted(pa - pe)[:5]}.", summary="unexpected currency pairs.")
    ke = set(map(tuple, expected[KEY].astype(str).values))
    ka = set(map(tuple, got[KEY].astype(str).values))
    if ke != ka:
        raise Wrong(
            f"{len(ka)} (window, pair) rows, expected {len(ke)}; e.g. missing "
            f"{sorted(ke - ka)[:2]}, unexpected {sorted(ka - ke)[:2]}. {what}",
            summary="wrong windows.",
        )


def _values(got: pd.DataFrame, expected: pd.DataFrame, col: str, variants=()) -> None:
    """Compare `col` per key; `variants` = [(column of expected, summary, explanation)] of known mistakes."""
    m = expected.merge(got, on=KEY, suffixes=("", "_got"))
    ok = close(m[f"{col}_got"], m[col])
    if ok.all():
        return
    bad = m.loc[~ok.values].iloc[0]
    example_got = {**{k: str(bad[k]) for k in KEY}, col: bad[f"{col}_got"]}
    example_expected = {**{k: str(bad[k]) for k in KEY}, col: bad[col]}
    for variant, summary, problem in variants:
        if close(m[f"{col}_got"], m[variant]).all():
            raise Wrong(problem, example_got, example_expected, summary=summary)
    raise Wrong(
        f"{col}: {int((~ok).sum())} of {len(m)} rows differ, e.g. {bad['currency_pair']} "
        f"in [{bad['window_start']}, {bad['window_end']}): got {bad[f'{col}_got']}, expected {bad[col]}.",
        example_got,
        example_expected,
        summary=f"{col} differs.",
    )


def _window_lengths(got: pd.DataFrame) -> list:
    return sorted(set((got["window_end"] - got["window_start"]).tolist()))


def _starts_every(got: pd.DataFrame) -> pd.Timedelta | None:
    starts = pd.Series(sorted(set(got["window_start"])))
    steps = starts.diff().dropna()
    return steps.min() if len(steps) else None


# --- the exercises ----------------------------------------------------------------------------------


def _hop(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    lengths, every = _window_lengths(got), _starts_every(got)
    size, slide = HOP_SIZE * MINUTE, HOP_SLIDE * MINUTE
    if lengths == [slide] and every == size:
        raise Wrong(
            "your windows are 1 minute long and start every 5 minutes: HOP takes "
            "the SLIDE first, then the SIZE: HOP(TABLE t, DESCRIPTOR(ts), slide, size).",
            summary="size and slide swapped.",
        )
    if lengths == [every] or (len(lengths) == 1 and every is not None and every >= lengths[0]):
        raise Wrong(
            f"your windows are {lengths[0]} long and start every {every}: "
            "tumbling windows (TUMBLE, or a HOP whose slide equals its size). A sliding window is "
            "5 minutes long and a new one starts every minute, so each trade is in 5 windows.",
            summary="windows do not overlap.",
        )
    if lengths != [size]:
        raise Wrong(
            f"your windows are {', '.join(map(str, lengths))} long, expected {size}.", summary="wrong window size."
        )
    if every != slide:
        raise Wrong(f"a new window starts every {every}, expected every {slide}.", summary="wrong slide.")
    _pairs_and_keys(got, expected, "Use window_start and window_end of the HOP table function as they are.")
    _values(
        got,
        expected,
        "vwap",
        [
            (
                "avg_price",
                "a simple average, not the VWAP.",
                "vwap is the plain average of the prices (AVG(price)): "
                "weight each price by its volume, SUM(price * volume) / SUM(volume).",
            )
        ],
    )


def _cumulate(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    lengths, starts = _window_lengths(got), sorted(set(got["window_start"]))
    step, size = CUMULATE_STEP * MINUTE, CUMULATE_MAX * MINUTE
    if lengths == [step] and len(starts) > 1:
        raise Wrong(
            "every window of yours is 1 minute long and starts "
            "where the last one ended (TUMBLE): a cumulating window keeps its start (the hour) and grows by "
            "a step each minute: [00:00, 00:01), [00:00, 00:02), ...",
            summary="tumbling windows, not cumulating ones.",
        )
    if lengths == [size] and len(got) == got["currency_pair"].nunique() * len(starts):
        raise Wrong(
            "your windows are whole hours (TUMBLE of an hour): "
            "a cumulating window emits the volume so far at every step (each minute), [00:00, 00:01), "
            "[00:00, 00:02), ... up to [00:00, 01:00).",
            summary="one window per hour, not one per step.",
        )
    ends = pd.Series(sorted(set(got["window_end"])))
    gaps = ends.diff().dropna()
    if len(gaps) and gaps.min() != step:
        raise Wrong(
            f"your windows grow by {gaps.min()} at a time, expected {step}: "
            "CUMULATE(TABLE t, DESCRIPTOR(ts), step, max size) takes the STEP first.",
            summary="wrong step.",
        )
    if max(lengths) != size:
        raise Wrong(
            f"your longest window is {max(lengths)}, expected {size}: the volume so far "
            "in the HOUR, so the max size is INTERVAL '1' HOUR (and the window starts again each hour).",
            summary="wrong max size.",
        )
    _pairs_and_keys(got, expected, "Use window_start and window_end of the CUMULATE table function as they are.")
    _values(got, expected, "volume")


def _top(got: pd.DataFrame, expected_all: pd.DataFrame) -> None:
    expected = expected_all[expected_all["pair_rank"] <= TOP_N]
    windows_e = expected[["window_start", "window_end"]].drop_duplicates()
    windows_a = got[["window_start", "window_end"]].drop_duplicates()
    if _window_lengths(got) != [MINUTE]:
        raise Wrong(
            f"your windows are {_window_lengths(got)} long: rank the pairs of each 1-minute TUMBLE window.",
            summary="wrong windows.",
        )
    per_window = got.groupby(["window_start", "window_end"]).size()
    per_pair = got.groupby("currency_pair").size()
    if got["currency_pair"].nunique() > TOP_N and per_pair.max() <= TOP_N and per_window.max() > TOP_N:
        raise Wrong(
            "each pair has at most 3 rows: you ranked "
            "the minutes of each pair (PARTITION BY currency_pair); rank the pairs of each window: "
            "PARTITION BY window_start, window_end.",
            summary="ranked within each pair, not within each window.",
        )
    if len(windows_a) < len(windows_e):
        raise Wrong(
            f"your result has {len(got)} rows in only "
            f"{len(windows_a)} of the {len(windows_e)} windows: the ranking must start again in every window, "
            "ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY ...).",
            summary="ranked over all time, not per window.",
        )
    if per_window.max() > TOP_N:
        raise Wrong(
            f"up to {per_window.max()} rows per window: keep the top {TOP_N} only (WHERE pair_rank <= {TOP_N}).",
            summary=f"more than {TOP_N} pairs per window.",
        )
    if got["pair_rank"].min() < 1 or got["pair_rank"].max() > TOP_N:
        raise Wrong(
            f"pair_rank goes from {got['pair_rank'].min()} to {got['pair_rank'].max()}: "
            f"number the pairs of each window 1, 2, 3 (ROW_NUMBER starts at 1).",
            summary="wrong ranks.",
        )
    bottom = expected_all[expected_all["pair_rank"] > expected_all["pairs_in_window"] - TOP_N]
    if set(map(tuple, got[KEY].astype(str).values)) == set(map(tuple, bottom[KEY].astype(str).values)):
        raise Wrong(
            "your pairs are the 3 with the LEAST volume of each window: order the "
            "ranking by volume DESCENDING (ORDER BY volume DESC).",
            summary="the smallest first.",
        )
    _pairs_and_keys(got, expected, "Keep, in each minute, the 3 pairs with the most volume.")
    _values(got, expected, "volume")
    m = expected.merge(got, on=KEY, suffixes=("", "_got"))
    wrong = m[m["pair_rank_got"] != m["pair_rank"]]
    if len(wrong):
        r = wrong.iloc[0]
        raise Wrong(
            f"pair_rank: {len(wrong)} rows have another rank, e.g. {r['currency_pair']} at "
            f"{r['window_start']}: got {r['pair_rank_got']}, expected {r['pair_rank']} (1 = most volume).",
            {k: str(r[k]) for k in KEY} | {"pair_rank": r["pair_rank_got"]},
            {k: str(r[k]) for k in KEY} | {"pair_rank": r["pair_rank"]},
            summary="wrong order.",
        )


# Flink's errors that a known mistake causes: (words of the message, summary, what to do)
_KNOWN_ERRORS = [
    (
        "size must be an integral multiple of slide",
        "size and slide swapped.",
        "Flink rejects a HOP whose size (the second interval) is smaller than its slide: HOP takes the SLIDE "
        "first, then the SIZE: HOP(TABLE t, DESCRIPTOR(ts), slide, size).",
    ),
    (
        "RANK() function is not supported on Window TopN",
        "RANK instead of ROW_NUMBER.",
        "Flink's window Top-N takes ROW_NUMBER() only: it numbers the pairs 1, 2, 3 (exactly 3 rows per window, "
        "ties broken arbitrarily), where RANK would give tied pairs the same rank.",
    ),
    (
        "DENSE_RANK() function is not supported on Window TopN",
        "DENSE_RANK instead of ROW_NUMBER.",
        "Flink's window Top-N takes ROW_NUMBER() only (exactly 3 rows per window).",
    ),
]

_RULES = {"hop_vwap": _hop, "cumulate_volume": _cumulate, "top_pairs": _top}


def _check(name: str, sql: str, timeout_s: float | None = None) -> CheckResult:
    frame = run_answer(sql, timeout_s, known_errors=_KNOWN_ERRORS)
    expected = load_expected(name)
    got = _shape(name, frame.copy(), expected)
    _RULES[name](got, expected)
    require_windowed(sql, WINDOWS[name])
    if name == "top_pairs":
        expected = expected[expected["pair_rank"] <= TOP_N]
    windows = len(expected[["window_start", "window_end"]].drop_duplicates())
    return passed(
        name,
        f"correct: {len(expected)} rows ({windows} windows, "
        f"{expected['currency_pair'].nunique()} pairs) match the reference.",
    )


# exercise -> its check (sql, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {name: judged(name)(functools.partial(_check, name)) for name in _RULES}

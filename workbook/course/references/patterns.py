"""Expected result of notebook 10's MATCH_RECOGNIZE exercise (rising_closes), computed with pandas from the
check dataset (workbook.course.datasets.check_trades), independent of Flink.

Not in the student release. `python -m workbook.course.references.patterns [--grading]` rewrites
workbook/course/expected/rising_closes.csv (or the grading data's) that the check reads
(tests/test_ladder_patterns.py checks that it is up to date and that Flink's result for the solution equals
it). The 1-minute closes are the candlestick reference's (the last trade by event time, same-millisecond ties
by arrival order: what MAX(order_key) picks). Besides the answer, the file holds the runs that known mistakes
find, one flag column each (a row is in the file when at least one flag is set; the key
(currency_pair, first_start, last_end) determines the closes of a row):

- answer: three closes in a row, each above the last, overlapping runs too (AFTER MATCH SKIP TO NEXT ROW);
- skip_past_last_row: the same without the overlapping runs (AFTER MATCH SKIP PAST LAST ROW);
- greater_or_equal: `>=` instead of `>` (a flat close counts as a rise);
- two_candles: two closes in a row, the second above the first (a pattern of two variables).
"""

from __future__ import annotations

import pandas as pd

from ..checks_pattern import COLUMNS, FLAGS
from ..datasets import expected_path, records
from . import main, valid
from .candles import reference_candlesticks


def closes() -> pd.DataFrame:
    """Every pair's 1-minute closes in time order: currency_pair, ts_start, ts_end, price_close."""
    candles = reference_candlesticks(valid(records("check")))
    return candles.sort_values(["currency_pair", "ts_start"])[["currency_pair", "ts_start", "ts_end", "price_close"]]


def runs(candles: pd.DataFrame, length: int = 3, or_equal: bool = False, skip_past: bool = False) -> pd.DataFrame:
    """The runs of `length` consecutive closes of a pair, each above (or equal to) the one before, as
    MATCH_RECOGNIZE finds them in time order: after a match it goes on at the next row, or past the match's last
    row (`skip_past`)."""
    found = []
    for pair, g in candles.groupby("currency_pair", sort=True):
        g = g.sort_values("ts_start").reset_index(drop=True)
        price = g["price_close"].tolist()
        i = 0
        while i + length <= len(g):
            steps = zip(price[i : i + length - 1], price[i + 1 : i + length], strict=True)
            if all(b >= a if or_equal else b > a for a, b in steps):
                found.append((pair, g["ts_start"][i], g["ts_end"][i + length - 1], price[i], price[i + length - 1]))
                i += length if skip_past else 1
            else:
                i += 1
    return pd.DataFrame(found, columns=COLUMNS)


def rising_closes() -> pd.DataFrame:
    """The answer's rows (flag `answer`) and the rows of the known mistakes, one flag column each."""
    candles = closes()
    variants = {
        "answer": runs(candles),
        "skip_past_last_row": runs(candles, skip_past=True),
        "greater_or_equal": runs(candles, or_equal=True),
        "two_candles": runs(candles, length=2),
    }
    assert list(variants) == FLAGS
    key = COLUMNS[:3]
    out = pd.concat(variants.values()).drop_duplicates(key).sort_values(key).reset_index(drop=True)
    for flag, rows in variants.items():
        out[flag] = pd.MultiIndex.from_frame(out[key]).isin(pd.MultiIndex.from_frame(rows[key]))
    return out[COLUMNS + FLAGS]


REFERENCES = {"rising_closes": rising_closes}


def write_expected() -> dict:
    written = {}
    for name, make in REFERENCES.items():
        frame = make()
        path = expected_path(f"{name}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S")
        written[name] = {flag: int(frame[flag].sum()) for flag in FLAGS}
    return written


if __name__ == "__main__":
    main(write_expected)

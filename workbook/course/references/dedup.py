"""Expected result of notebook 10's deduplication exercise (first_trades), computed with pandas from the replayed
dataset (workbook.course.datasets.with_replays), independent of Flink: each valid trade once, a replayed copy (the
same pair, direction, price, volume and time) dropped; twins that differ in one field are two trades.

Not in the student release. `python -m workbook.course.references.dedup [--grading]` rewrites
workbook/course/expected/first_trades.csv (or the grading data's).
"""

from __future__ import annotations

import pandas as pd

from ..datasets import expected_path, records
from . import main, valid

COLUMNS = ["currency_pair", "direction", "price", "volume", "ts"]


def first_trades() -> pd.DataFrame:
    df = pd.DataFrame(valid(records("replayed")))
    df["currency_pair"] = df["base"] + " / " + df["quote"]
    df["ts"] = pd.to_datetime(df["timestamp"], unit="ms")
    copies = df.groupby(COLUMNS, sort=False).size().rename("copies").reset_index()
    out = df.drop_duplicates(COLUMNS)[COLUMNS].merge(copies, on=COLUMNS)
    return out.sort_values(COLUMNS, kind="stable").reset_index(drop=True)


def write_expected() -> dict:
    frame = first_trades()
    path = expected_path("first_trades.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.15g", date_format="%Y-%m-%d %H:%M:%S.%f")
    return {"first_trades": len(frame), "replayed copies": int((frame["copies"] - 1).sum())}


if __name__ == "__main__":
    main(write_expected)

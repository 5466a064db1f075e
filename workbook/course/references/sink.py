"""Reference of notebook 12's upsert_sink: the valid trades of the basics dataset per pair and direction, the last
value the topic holds for each key. Not in the student release. `python -m workbook.course.references.sink
[--grading]` rewrites workbook/course/expected/upsert_sink.json (or the grading data's), which
tests/test_ladder_sink.py checks is up to date."""

from __future__ import annotations

from ..datasets import expected_path
from . import main, write_json
from .basics import basics_frame

NAME = "upsert_sink"


def upsert_sink() -> dict:
    df = basics_frame()
    valid = df[df["problem"].isna()]
    out = valid.groupby(["pair", "direction"]).size().rename("num_trades").reset_index()
    return {"rows": out.values.tolist()}


def write_expected() -> dict:
    return write_json(expected_path(f"{NAME}.json"), upsert_sink(), separators=(",", ":"))


if __name__ == "__main__":
    main(write_expected, lambda values: f"{len(values['rows'])} rows")

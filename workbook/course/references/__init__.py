"""Reference computations that find exercise answers: instructor material, left out of the
student release (the checks work from the values stored under workbook/course/expected/, and the grading
data's under workbook/course/grading/expected/).

Each module writes the expected outputs of the data the checks use now (datasets.active(): the practice data,
or the grading data inside `datasets.using(...)`); `python -m workbook.course.references.<module> [--grading]`
rewrites them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from ..datasets import using
from ..watermark_sim import DELAY_MS, simulate


def write_json(path: Path, values, **dump_options):
    """Store `values` at `path` as JSON (json.dumps with `dump_options`) and a final newline, making its
    folder if needed; returns `values`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, **dump_options) + "\n")
    return values


def problem_of(t: dict) -> str | None:
    """sql/20_checked_trades.sql's rules, as far as the datasets of the checks need them."""
    if any(t.get(k) is None for k in ("base", "quote", "direction", "price", "volume", "timestamp")):
        return "missing field"
    if t["price"] <= 0 or t["volume"] <= 0:
        return "price or volume not positive"
    if t["direction"] not in ("buy", "sell"):
        return "unknown direction"
    return None


def valid(trades: list[dict]) -> list[dict]:
    """The trades of valid_trades, in arrival order: no problem, and not late (the watermark lab's simulation
    of Flink's rule; a bad record with an event time moves the watermark too: the source's WATERMARK sees it)."""
    late = simulate(trades, DELAY_MS).records["late"].tolist()
    return [t for t, is_late in zip(trades, late, strict=True) if not is_late and problem_of(t) is None]


def main(write_expected: Callable[[], object], show: Callable[[object], str] = str) -> None:
    """The command line of a reference module: write the practice data's expected outputs, or with --grading
    the grading data's."""
    parser = argparse.ArgumentParser(description="rewrite the stored expected outputs of the checks")
    parser.add_argument("--grading", action="store_true", help="the held-out grading data's")
    if parser.parse_args().grading:
        from ..grading import GRADING  # deferred on purpose: instructor-only, as this module is

        with using(GRADING):
            print(show(write_expected()))
    else:
        print(show(write_expected()))

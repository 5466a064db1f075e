"""The answer of the watermark lab's exercise, computed: the smallest whole number of
seconds of watermark delay that makes at most 1 % of `lab_stream()` late.

Not in the student release. `python -m workbook.course.references.watermarks` rewrites
workbook/course/expected/watermark_delay.json, which the check reads
(tests/test_watermarks.py checks that it is up to date)."""

from __future__ import annotations

import json
import math

from ..checks_watermark import MAX_LATE_FRACTION, fingerprint
from ..datasets import expected_path, records
from ..watermark_sim import per_pair_late, simulate
from . import main, write_json


def smallest_delay_s(trades, max_late_fraction: float = MAX_LATE_FRACTION, **options) -> int:
    """Bisection over whole seconds: lateness only falls as the delay grows (every partition's
    watermark, so their minimum, moves back)."""
    limit = math.floor(max_late_fraction * len(trades))

    def ok(seconds: int) -> bool:
        return simulate(trades, seconds * 1000, **options).late_count <= limit

    hi = 1
    while not ok(hi):
        hi *= 2
    lo = -1  # ok(lo) is False (a negative delay does not exist)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def smallest_per_pair_delay_s(trades, max_late_fraction: float = MAX_LATE_FRACTION) -> int:
    """The same with a (wrong) per-pair watermark: the answer of the mistake the check names."""
    limit = math.floor(max_late_fraction * len(trades))
    seconds = 0
    while per_pair_late(trades, seconds * 1000) > limit:
        seconds += 1
    return seconds


def expected() -> dict:
    trades = records("lab")
    return {
        "exercise": "watermark_delay",
        "fingerprint": fingerprint(trades),
        "trades": len(trades),
        "max_late_fraction": MAX_LATE_FRACTION,
        "delay_s": smallest_delay_s(trades),
        "per_pair_delay_s": smallest_per_pair_delay_s(trades),
    }


def write_expected() -> dict:
    return write_json(expected_path("watermark_delay.json"), expected(), indent=2)


if __name__ == "__main__":
    main(write_expected, lambda values: json.dumps(values, indent=2))

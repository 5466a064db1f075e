"""The check of `watermark_delay` (notebook 04): a function `watermark_delay(stream)` that finds the smallest
watermark delay, in whole seconds, that leaves at most 1 % of a disordered stream's trades late. The check runs
it on the lab's stream (the practice data) and judges its result by the simulation of watermark_sim.py against
the stored answer workbook/course/expected/watermark_delay.json (made by workbook/course/references/
watermarks.py); graded, on a held-out stream, so a function that returns the practice answer does not pass.
It names the usual mistakes: not a number, milliseconds, a delay that is enough per pair but not per
partition, a delay that works but is not the smallest (without naming a smaller one).
"""

from __future__ import annotations

import hashlib
import json
import math

import pandas as pd

from .datasets import EXPECTED_DIR, expected_path, records
from .feedback import CheckResult, Wrong, cell_value, judged, passed
from .watermark_sim import lab_stream, pair_of, simulate

MAX_LATE_FRACTION = 0.01  # the exercise: at most 1 % of the trades late
EXPECTED_PATH = EXPECTED_DIR / "watermark_delay.json"  # the practice data's
EXERCISE = "watermark_delay"
TITLE = "watermark delay"  # how the check's verdict names the exercise


def load_expected() -> dict:
    """The stored answer of the exercise for the active data's stream (references/watermarks.py makes it)."""
    return json.loads(expected_path("watermark_delay.json").read_text())


def fingerprint(trades) -> str:
    """A short digest of a stream's arrival order (the expected answer belongs to one stream)."""
    text = ";".join(f"{t['timestamp']}:{t.get('partition', 0)}:{pair_of(t)}" for t in trades)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def defined_function(code: str):
    """What the cell's code defines as watermark_delay, run with what notebook 04's cells have imported (what it
    raises, raised)."""
    return cell_value(code, EXERCISE, {"simulate": simulate, "lab_stream": lab_stream, "pd": pd, "math": math})


def answer_function(answer):
    """The student's function: given as it is, or defined by the code of the cell (run with what notebook 04's
    cells have imported: simulate, lab_stream, pd, math). Wrong when there is none."""
    if isinstance(answer, str):
        try:
            answer = defined_function(answer)
        except Exception as exc:  # noqa: BLE001 (the student's code: say what it raised)
            raise _wrong(f"your code raised {type(exc).__name__}: {exc}") from None
    if answer is None or answer is Ellipsis:
        raise _wrong("watermark_delay is not defined yet: write the function watermark_delay(stream) of the cell.")
    if not callable(answer):
        raise _wrong(
            f"watermark_delay is {answer!r}, not a function: write watermark_delay(stream), which finds the "
            "smallest delay of ANY stream it is given (the grading runs it on a stream you have not seen)."
        )
    return answer


def delay_of(function, trades) -> object:
    """What the student's function returns for a copy of `trades` (Wrong when it raises)."""
    try:
        return function([dict(t) for t in trades])
    except Exception as exc:  # noqa: BLE001 (the student's code: say what it raised)
        raise _wrong(f"watermark_delay(stream) raised {type(exc).__name__}: {exc}") from None


def late_share(trades, delay_s: float) -> tuple:
    sim = simulate(trades, int(round(delay_s * 1000)))
    return sim.late_count, len(sim.records)


def _wrong(problem: str, got=None, want=None) -> Wrong:
    """A mistake, with an example: the answer got, and what was expected of it."""
    example = ({"delay": got}, {"delay": want}) if got is not None else (None, None)
    return Wrong(problem, *example, title=TITLE, hint_level=1)


@judged(EXERCISE)
def check_watermark_delay(answer, timeout_s: float | None = None) -> CheckResult:
    """Does the function `answer` (watermark_delay(stream), or the code that defines it) return the smallest
    delay in whole seconds that makes at most 1 % of the stream late, for the active data's stream?"""
    expected = load_expected()
    trades = records("lab")
    if fingerprint(trades) != expected["fingerprint"]:
        raise ValueError(
            "the lab stream changed since its watermark_delay.json was made: regenerate it with "
            "`python -m workbook.course.references.watermarks`"
        )
    answer = delay_of(answer_function(answer), trades)
    best, per_pair, limit = expected["delay_s"], expected["per_pair_delay_s"], expected["max_late_fraction"]
    n = expected["trades"]

    if answer is None or answer is Ellipsis or isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise _wrong(
            f"watermark_delay(stream) returns {answer!r}, not a number: return the delay in whole seconds, e.g. 3.",
            repr(answer),
            "a whole number of seconds",
        )
    if math.isnan(answer) or math.isinf(answer):
        raise _wrong(f"watermark_delay(stream) returns {answer}: return a finite number of seconds.")
    if answer < 0:
        raise _wrong(
            f"{answer} s is negative: the delay is how far the watermark trails the newest trade, 0 or more seconds.",
            answer,
            ">= 0",
        )
    if answer >= 1000 and answer / 1000 >= best and late_share(trades, answer / 1000)[0] <= limit * n:
        raise _wrong(
            f"{answer:g} looks like milliseconds: the delay is in SECONDS "
            f"(INTERVAL 'N' SECOND); {answer:g} s would wait over {answer / 60:.0f} minutes.",
            f"{answer:g} s",
            "seconds, not milliseconds",
        )
    if answer != int(answer):
        raise _wrong(
            f"{answer} is not a whole number of seconds: return N as in INTERVAL 'N' SECOND.",
            answer,
            "a whole number",
        )
    answer = int(answer)
    late, total = late_share(trades, answer)
    if late > limit * total:
        problem = (
            f"with {answer} s, {late} of {total} trades are late ({100 * late / total:.1f} %): "
            f"more than {100 * limit:g} %."
        )
        if answer == per_pair:
            problem += (
                " This delay is enough if every pair had its own watermark; but the watermark is per "
                "PARTITION: a trade is late when it is behind the newest trade of ANY pair in its "
                "partition by the delay or more."
            )
        raise _wrong(
            problem,
            f"{answer} s: {100 * late / total:.1f} % late",
            f"at most {100 * limit:g} % late",
        )
    if answer > best:
        # without naming a smaller delay that works: the answer could be walked down one second at a time
        raise _wrong(
            f"{answer} s works ({late} of {total} late, {100 * late / total:.1f} %) but it is not the "
            f"smallest delay that keeps the late trades at or under {100 * limit:g} %. A bigger delay costs "
            "latency: every window waits that much longer. Find the smallest one (the slider, or simulate).",
            f"{answer} s",
            "a smaller delay",
        )
    return passed(
        EXERCISE,
        f"correct. watermark_delay(stream) gives {answer} s: {late} of {total} trades late ({100 * late / total:.2f} %); "
        f"{answer - 1} s would make more than {100 * limit:g} % late.",
        TITLE,
    )


# exercise -> its check (answer, timeout_s=None) -> CheckResult, for the registry (workbook.course.checks)
CHECKS = {EXERCISE: check_watermark_delay}

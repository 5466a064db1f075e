"""The held-out grading data (workbook/course/grading/): its expected outputs are up to date, every solution
passes on it, and answers tuned to the practice data pass there but fail here: over checked_trades instead of
valid_trades, the public rows from a VALUES list, a function that returns the public answer. Its feedback
never names the graded watermark delay. `python -m workbook.course check NAME FILE --grading` runs it."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from workbook.course import checks, datasets, exercises
from workbook.course.__main__ import main
from workbook.course.datasets import PRACTICE, using
from workbook.course.grading import GRADING
from workbook.course.references import basics, candles, dashboard, watermarks, windows

SQL = [
    "filter_project",
    "changelog_counts",
    "tumble_counts",
    "candle_stats",
    "candlesticks",
    "volumes",
    "hop_vwap",
    "cumulate_volume",
    "top_pairs",
    "rising_closes",
]


def test_the_grading_data_has_what_the_practice_data_lacks():
    with using(GRADING):
        records = datasets.records("basics_records")
        kinds = sorted(what for _, what in records if what)
        assert kinds == ["late"] * 4 + ["missing base", "negative price", "unknown direction", "volume 0"]
        trades = datasets.records("check")
    minute = [t["timestamp"] % 60_000 for t in trades]
    assert minute.count(0) >= 10 and minute.count(59_999) >= 10  # window edges
    pairs = {}
    for t in trades:
        pairs.setdefault(f"{t['base']} / {t['quote']}", t["timestamp"])
    assert pairs["solana / tether"] - min(pairs.values()) >= 5 * 60_000  # a pair that appears late
    lab = GRADING.datasets["lab"]()
    assert {t["partition"] for t in lab} == {0, 1} and all("at" in t for t in lab)
    gaps = [b["at"] - a["at"] for a, b in zip(lab, lab[1:]) if a["partition"] == b["partition"] == 1]
    quiet = [t["at"] for t in lab if t["partition"] == 1]
    assert max(b - a for a, b in zip(quiet, quiet[1:])) > 25 and gaps  # partition 1 falls silent (idle)


def test_grading_expected_outputs_are_up_to_date():
    stored = GRADING.expected_dir
    with using(GRADING):
        trades = datasets.records("check")
        assert json.loads((stored / "candlesticks.json").read_text()) == json.loads(
            json.dumps(candles.expected_candlesticks(trades))
        )
        assert json.loads((stored / "volumes.json").read_text()) == json.loads(
            json.dumps(candles.expected_volumes(trades))
        )
        for name, value in basics.expected().items():
            assert json.loads((stored / f"{name}.json").read_text()) == json.loads(json.dumps(value)), name
        assert json.loads((stored / "watermark_delay.json").read_text()) == watermarks.expected()
        assert json.loads((stored / "panel_sql.json").read_text()) == json.loads(json.dumps(dashboard.expected()))
        for name, make in windows.REFERENCES.items():
            frame = pd.read_csv(stored / f"{name}.csv")
            assert len(frame) == len(make()), name
        from workbook.course.references import patterns

        for name, make in patterns.REFERENCES.items():
            frame = pd.read_csv(stored / f"{name}.csv")
            fresh = make()
            assert len(frame) == len(fresh) and (frame["answer"] == fresh["answer"]).all(), name
    assert (
        json.loads((stored / "watermark_delay.json").read_text())["delay_s"]
        != json.loads((PRACTICE.expected_dir / "watermark_delay.json").read_text())["delay_s"]
    )


@pytest.mark.flink
@pytest.mark.parametrize("name", SQL)
def test_every_solution_passes_on_the_grading_data(name):
    with using(GRADING):
        result = checks.run_check(name, exercises.solution(name), timeout_s=120)
    assert result, result.text()


def test_the_python_solutions_pass_on_the_grading_data():
    with using(GRADING):
        for name in ("stream_counts", "watermark_delay"):
            result = checks.run_check(name, exercises.solution(name))
            assert result, result.text()


@pytest.mark.flink
@pytest.mark.parametrize("name", ["candle_stats", "volumes"])
def test_an_answer_over_checked_trades_passes_practice_and_fails_grading(name):
    """The practice check data has no bad or late record: reading checked_trades (all of them) instead of
    valid_trades goes unnoticed there, not on the grading data."""
    answer = exercises.solution(name).replace("valid_trades", "checked_trades")
    assert checks.run_check(name, answer, timeout_s=120), "the practice data should not tell"
    with using(GRADING):
        result = checks.run_check(name, answer, timeout_s=120)
    assert not result and result.hint == name, result.text()


@pytest.mark.flink
def test_the_public_rows_from_a_values_list_fail_on_the_grading_data():
    rows = pd.DataFrame(basics.tumble_counts()["rows"], columns=["window_start", "window_end", "pair", "n"])
    values = ",\n".join(
        f"(TIMESTAMP '{r.window_start}', TIMESTAMP '{r.window_end}', '{r.pair}', CAST({r.n} AS BIGINT))"
        for r in rows.itertuples()
    )
    copied = f"SELECT * FROM (VALUES {values}) AS t(window_start, window_end, currency_pair, num_trades)"
    assert checks.run_check("tumble_counts", copied), "the copied rows are the practice answer"
    with using(GRADING):
        assert not checks.run_check("tumble_counts", copied)


def test_a_function_that_returns_the_public_answer_fails_and_is_not_told_the_graded_one():
    practice = json.loads((PRACTICE.expected_dir / "watermark_delay.json").read_text())["delay_s"]
    graded = json.loads((GRADING.expected_dir / "watermark_delay.json").read_text())["delay_s"]
    copied = f"def watermark_delay(stream):\n    return {practice}\n"
    assert checks.run_check("watermark_delay", copied)
    with using(GRADING):
        result = checks.run_check("watermark_delay", copied)
    assert not result and "not the smallest" in result.text()
    assert not re.search(rf"\b{graded} s\b", result.text()), result.text()


def test_a_frame_of_the_public_counts_fails_on_the_grading_data():
    rows = json.loads((PRACTICE.expected_dir / "stream_counts.json").read_text())["rows"]
    copied = f"stream_counts = pd.DataFrame({rows!r}, columns=['currency_pair', 'direction', 'trades', 'volume'])"
    assert checks.run_check("stream_counts", copied)
    with using(GRADING):
        assert not checks.run_check("stream_counts", copied)


@pytest.mark.flink
def test_the_command_line_grades_on_the_held_out_data(tmp_path, capsys):
    answer = tmp_path / "candle_stats.sql"
    answer.write_text(exercises.solution("candle_stats").replace("valid_trades", "checked_trades"))
    assert main(["check", "candle_stats", str(answer)]) == 0
    assert main(["check", "candle_stats", str(answer), "--grading"]) == 1
    assert main(["check", "candle_stats", "--solution", "--grading"]) == 0
    assert "candle_stats: correct" in capsys.readouterr().out

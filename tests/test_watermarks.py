"""The watermark lab's simulation, figure and check, on hand-built cases (no services).
tests/test_watermarks_flink.py runs the same rules through Flink."""

from __future__ import annotations

import json
import re

import pytest

from workbook.course import checks, checks_watermark, exercises, hints, watermark_lab
from workbook.course import watermark_sim as wm
from workbook.paths import PROJECT_ROOT

T = 1_735_776_000_000  # 2025-01-02 00:00:00 UTC, a window start


def trades(*specs):
    """(seconds after T, partition[, at]) -> trade dicts in arrival order."""
    out = []
    for spec in specs:
        t = {"timestamp": T + int(round(spec[0] * 1000)), "partition": spec[1], "pair": f"p{spec[1]}"}
        if len(spec) > 2:
            t["at"] = spec[2]
        out.append(t)
    return out


def late(sim):
    return list(sim.records["late"])


def behind(sim):
    return list(sim.records["behind"])


def marks(sim, col="watermark"):
    return [None if v != v or v is None else (v - T) / 1000 for v in sim.records[col]]


def test_settings_match_the_project_sql():
    source = (PROJECT_ROOT / "sql" / "10_trades.sql").read_text()
    solution = PROJECT_ROOT / "solutions" / "sql" / "10_trades.sql"
    if solution.exists():  # the source may become an exercise with a skeleton
        source = solution.read_text()
    delay = re.search(r"WATERMARK FOR ts AS ts - INTERVAL '(\d+)' SECOND", source)
    idle = re.search(r"'scan.watermark.idle-timeout' = '(\d+) s'", source)
    assert delay and int(delay.group(1)) * 1000 == wm.DELAY_MS
    assert idle and float(idle.group(1)) == wm.IDLE_TIMEOUT_S
    assert "'scan.watermark.emit.strategy' = 'on-event'" in source
    rule = "CURRENT_WATERMARK(ts) >= FLOOR(ts TO MINUTE) + INTERVAL '1' MINUTE - INTERVAL '0.001' SECOND"
    assert rule in " ".join((PROJECT_ROOT / "sql" / "20_checked_trades.sql").read_text().split())


def test_one_partition_behind_the_watermark_is_counted_until_the_window_fires():
    sim = wm.simulate(trades((10, 0), (12, 0), (6, 0), (7, 0), (7.001, 0), (66, 0), (30, 0)), 5_000)
    assert marks(sim) == [None, 5, 7, 7, 7, 7, 61]  # the watermark in force when each record arrives
    assert marks(sim, "watermark_after") == [5, 7, 7, 7, 7, 61, 61]
    # 6 s and 7.000 s (exactly at the watermark) are behind it, in a window still open: counted
    assert behind(sim) == [False, False, True, True, False, False, True]
    # 30 s arrives after [00:00, 00:01) fired (the watermark 61 >= 59.999): late, dropped
    assert late(sim) == [False, False, False, False, False, False, True]
    w = sim.windows.set_index("window_start")
    assert (w.loc[T, "on_time"], w.loc[T, "late"]) == (5, 1)
    # [00:00, 00:01) closes when the watermark reaches 00:00:59.999: after the trade at 66 s (61 >= 59.999)
    assert (w.loc[T, "closed_after"], w.loc[T, "closed_by"]) == (5, "watermark")
    assert w.loc[T + 60_000, "closed_by"] == "end of input"
    streaming = wm.simulate(trades((10, 0), (66, 0)), bounded=False).windows["closed_by"]
    assert streaming.iloc[0] == "watermark" and streaming.isna().iloc[1]  # still open


def test_window_closes_exactly_when_the_watermark_reaches_its_last_millisecond():
    closes = wm.simulate(trades((1, 0), (64.999, 0)), 5_000, bounded=False).windows.iloc[0]
    assert closes["closed_after"] == 1
    still_open = wm.simulate(trades((1, 0), (64.998, 0)), 5_000, bounded=False).windows.iloc[0]
    assert still_open["closed_after"] is None or still_open["closed_after"] != still_open["closed_after"]


def test_the_watermark_is_per_partition_not_per_pair():
    one = [dict(t, pair="fast") for t in trades((10, 0), (70, 0))] + [{"timestamp": T + 50_000, "pair": "quiet"}]
    assert late(wm.simulate(one, 5_000)) == [False, False, True]  # the quiet pair's first trade: late
    assert wm.per_pair_late(one, 5_000) == 0


def test_two_partitions_the_slow_one_holds_the_watermark_back():
    sim = wm.simulate(trades((130, 0), (70, 1), (118, 0), (50, 1), (72, 1)), 5_000)
    assert marks(sim) == [None, None, 65, 65, 65]  # min(125, 65)
    # 118 s is 12 s behind its partition's newest (late per partition: 125 >= 119.999), on time with the
    # minimum; 50 s is late: [00:00, 00:01) fired when the minimum reached 65
    assert late(sim) == [False, False, False, True, False]
    alone = wm.simulate([t for t in trades((130, 0), (118, 0))], 5_000)
    assert late(alone) == [False, True]


def test_a_partition_without_records_holds_the_watermark_until_idle():
    stream = trades((10, 0), (70, 0), (12, 0))
    assert late(wm.simulate(stream, 5_000, partitions=2)) == [False, False, False]
    assert marks(wm.simulate(stream, 5_000, partitions=2)) == [None, None, None]
    assert late(wm.simulate(stream, 5_000)) == [False, False, True]
    # with processing times: partition 1 is idle 5 s after reading started
    timed = trades((10, 0, 1.0), (70, 0, 4.0), (12, 0, 5.0))
    assert late(wm.simulate(timed, 5_000, partitions=2)) == [False, False, True]
    assert late(wm.simulate(timed, 5_000, partitions=2, idle_timeout_s=6)) == [False, False, False]


def test_an_idle_partition_returns_behind_the_watermark_and_it_does_not_go_back():
    stream = trades((10, 0, 0.0), (9, 1, 0.1), (20, 0, 1.0), (70, 0, 7.0), (30, 1, 7.5), (31, 1, 7.6))
    sim = wm.simulate(stream, 5_000)
    # partition 1's first record still sees "none"; then min(5, 4). At 7.0 s both partitions have been
    # silent for 5 s or more: all idle, the watermark stays 4; after the trade at 70 s partition 0 is
    # active and alone (partition 1 still idle): 65
    assert marks(sim) == [None, None, 4, 4, 65, 65]
    assert late(sim) == [False, False, False, False, True, True]  # [00:00, 00:01) fired at 65: late
    assert marks(sim, "watermark_after")[-1] == 65  # min(65, 26) would be 26: it never goes back


def test_idle_moves_the_watermark_before_the_next_record_closes_windows():
    stream = trades((50, 0, 0.0), (10, 1, 0.1), (66, 0, 3.0), (67, 0, 5.5))
    sim = wm.simulate(stream, 5_000, bounded=False)
    # partition 1 holds the watermark at 5 until it is idle (5.4 s silent at 5.5 s): then 61 >= 59.999
    assert marks(sim) == [None, None, 5, 61]
    first = sim.windows.iloc[0]
    assert (first["closed_after"], first["closed_by"]) == (2, "idle partition")
    # everybody idle: the watermark stays where it was
    all_idle = wm.simulate(trades((50, 0, 0.0), (10, 1, 0.1), (70, 0, 6.0)), 5_000)
    assert marks(all_idle) == [None, None, 5]


def test_the_lab_streams_show_what_the_notebook_says():
    stream = wm.two_partition_stream()
    two = wm.simulate(stream)
    assert two.records.groupby("partition")["late"].sum().to_dict() == {0: 0, 1: 2}
    alone = {p: wm.simulate([t for t in stream if t["partition"] == p]).late_count for p in (0, 1)}
    assert alone == {0: 3, 1: 2}  # each partition with its own watermark: partition 0's stragglers late too
    idle = wm.simulate(wm.idle_partition_stream())
    assert idle.late_count == 1 and idle.records[idle.records["late"]]["partition"].tolist() == [1]


def test_notebook_09_held_back_trades():
    """Notebook 09: of 281 trades held back 20 s, 279 arrive behind the watermark (the 2 others at the very
    end), and the 60 of the last 15 s of their minute are late: their window had fired (15 s = 20 s held back
    minus the 5 s delay); the others are counted in their windows."""
    from workbook.course import datasets

    on_time = [dict(t, timestamp=t["timestamp"] + 86_400_000) for t in datasets.sample_trades(minutes=10)]
    held_back = on_time[::40]
    stream = [t for i, t in enumerate(on_time) if i % 40]
    for t in held_back:
        at = next((i for i, u in enumerate(stream) if u["timestamp"] > t["timestamp"] + 20_000), len(stream))
        stream.insert(at, t)
    sim = wm.simulate(stream)
    held = [i for i, t in enumerate(stream) if any(t is h for h in held_back)]
    records = sim.records.iloc[held]
    assert len(held) == 281 and int(records["behind"].sum()) == 279
    assert [i for i in held if not sim.records["behind"].iloc[i]] == [len(stream) - 2, len(stream) - 1]
    assert sim.late_count == int(records["late"].sum()) == 60
    late_seconds = [(stream[i]["timestamp"] % 60_000) / 1000 for i in held if sim.records["late"].iloc[i]]
    assert min(late_seconds) >= 45


def test_simulate_rejects_bad_input():
    with pytest.raises(ValueError, match="delay_ms must be >= 0"):
        wm.simulate(trades((1, 0)), -1)
    with pytest.raises(ValueError, match="epoch milliseconds"):
        wm.simulate([{"timestamp": 1.5}])


def test_timeline_figure_has_the_watermark_late_trades_and_closing_windows():
    fig = watermark_lab.timeline(wm.lab_stream(minutes=2), delay_s=5)
    names = [t.name for t in fig.data]
    assert "watermark" in names and "window closes" in names and "on-time trade" in names
    assert any(n.startswith("late trade, its window had fired: dropped (") for n in names)
    assert any(n.startswith("behind the watermark, window open: counted (") for n in names)
    two = watermark_lab.timeline(wm.two_partition_stream(), delay_s=5)
    names = [t.name for t in two.data]
    assert {"partition 0 watermark", "partition 1 watermark", "watermark (min over partitions)"} <= set(names)


# --- the exercise's check -------------------------------------------------------------------------


def test_expected_answer_is_up_to_date():
    from workbook.course.references import watermarks as ref

    assert checks_watermark.load_expected() == ref.expected(), (
        "regenerate it: python -m workbook.course.references.watermarks"
    )


def returns(value):
    """A student's function that returns `value` whatever the stream."""
    return lambda stream: value


def test_solution_passes_and_skeleton_fails():
    solution = exercises.solution(checks_watermark.EXERCISE)  # the code of the cell's function
    assert checks_watermark.check_watermark_delay(solution).passed
    namespace = {"simulate": wm.simulate}
    exec(solution, namespace)
    assert namespace["watermark_delay"](wm.lab_stream()) == checks_watermark.load_expected()["delay_s"]
    skeleton = checks_watermark.check_watermark_delay("def watermark_delay(stream):\n    ...  # your code\n")
    assert not skeleton.passed and "returns None, not a number" in skeleton.problems[0]
    assert "not defined yet" in checks_watermark.check_watermark_delay(None).problems[0]
    assert "not a function" in checks_watermark.check_watermark_delay(6).problems[0]


@pytest.mark.parametrize(
    "wrong, says",
    [
        ("6", "not a number"),
        (None, "not a number"),
        (-3, "negative"),
        (float("nan"), "finite"),
        (6.5, "whole number of seconds"),
        (6000, "milliseconds"),
        (5, "more than 1 %"),
        (0, "per PARTITION"),
        (7, "not the smallest"),
        (30, "not the smallest"),
    ],
)
def test_check_names_the_mistake(wrong, says):
    result = checks_watermark.check_watermark_delay(returns(wrong))
    assert not result.passed and says in " ".join(result.problems), result.problems
    assert result.hint == "watermark_delay"
    box = result._repr_html_()
    assert "not yet" in box and 'hint("watermark_delay", 1)' in box


def test_check_shows_an_example_and_does_not_raise():
    result = checks_watermark.check_watermark_delay(returns(5))
    assert (result.got, result.expected) == ({"delay": "5 s: 1.3 % late"}, {"delay": "at most 1 % late"})
    assert "1.3 % late" in result._repr_html_() and "not yet" in str(result)
    assert 'hint("watermark_delay", 1) (levels 1 to 3)' in result.text()


def test_check_result_is_the_course_check_result():
    result = checks.run_check("watermark_delay", returns(6))
    assert isinstance(result, checks.CheckResult) and result.exercise == "watermark_delay"
    assert result.text() == (
        "\u2705 watermark delay: correct. watermark_delay(stream) gives 6 s: 4 of 1105 trades late (0.36 %); "
        "5 s would make more than 1 % late."
    )


def test_hints_go_from_a_nudge_to_nearly_the_answer():
    assert len(hints.levels("watermark_delay")) == 3
    assert hints.hint("watermark_delay", 1).startswith("Hint 1 of 3")
    assert "(k+1)-th largest" in hints.hint("watermark_delay", 3)
    with pytest.raises(ValueError):
        hints.hint("watermark_delay", 4)


def test_the_notebook_skeleton_does_not_give_the_answer_away():
    nb = json.loads((PROJECT_ROOT / "notebooks" / "04_watermark_lab.ipynb").read_text())
    answer = checks_watermark.load_expected()["delay_s"]
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    (cell,) = [s for s in sources if "def watermark_delay(stream)" in s]
    assert "...  # ✏️" in cell and not re.search(rf"return\s+{answer}\b", cell) and "simulate(stream" not in cell


def test_the_notebook_check_raises_on_a_failing_answer_only_in_the_solution_run(monkeypatch):
    """Notebook 04 checks through checks.checked, like every exercise cell: CI's solution run fails loudly."""
    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    assert not checks.checked("watermark_delay", returns(5))  # a box, no exception
    monkeypatch.setenv("WORKBOOK_SOLUTIONS", "1")
    with pytest.raises(checks.CheckFailed, match="watermark_delay"):
        checks.checked("watermark_delay", returns(5))
    assert checks.checked("watermark_delay", exercises.solution("watermark_delay"))


@pytest.mark.parametrize("answer", [7, 8, 30])
def test_a_delay_too_big_does_not_name_a_smaller_one(answer):
    """The feedback cannot be walked down one second at a time to the answer."""
    text = checks_watermark.check_watermark_delay(returns(answer)).text()
    assert "not the smallest" in text
    assert not any(re.search(rf"\b{n} s\b", text) for n in range(0, answer)), text

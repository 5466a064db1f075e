"""The watermark lab's simulation (workbook.course.watermarks) against Flink itself.

- One partition: the real processor (sql/, bounded, into a private PostgreSQL schema) on
  the lab's stream: its late_trades and its candles' trade counts equal the simulation's.
- Two partitions, one slow: Flink's CURRENT_WATERMARK and is_late record by record (a
  query over checked_trades, whose rows come back in the order Flink read them) equal the
  simulation's fed with that order: the watermark is the minimum over partitions, not per
  partition nor per pair. The processor's tables on the same topic agree too.
- A partition without records holds the watermark back in a bounded run only until Flink's Kafka
  source has finished its empty split (its first fetch); then the other partition drives it.

Every test writes its own topic and schema.
"""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from flinkutil import read_table, run_bounded, scratch_schema

from workbook import kafka, pipeline
from workbook.course import watermark_sim as watermarks

pytestmark = pytest.mark.integration
PER_RECORD = (
    "SELECT kafka_partition, kafka_offset, `timestamp`, "
    "CAST(CURRENT_WATERMARK(ts) AS TIMESTAMP(3)) AS wm, is_late FROM checked_trades"
)


def _plain(trade: dict) -> dict:
    """The JSON record: without the simulation's own fields."""
    return {k: v for k, v in trade.items() if k not in ("partition", "at")}


def _write(config, trades, partitions: int) -> str:
    topic = f"test-watermarks-{uuid.uuid4().hex[:10]}"
    kafka.create_topic(config.kafka_bootstrap_servers, topic, partitions)
    for p in range(partitions):
        mine = [_plain(t) for t in trades if t.get("partition", 0) == p]
        if mine:
            kafka.write_records(config.kafka_bootstrap_servers, topic, mine, partition=p)
    return topic


def _counts(config, schema: str, table: str) -> pd.DataFrame:
    df = read_table(config, schema, table)
    return pd.DataFrame(
        [(int(s), pair, int(n)) for s, pair, n in zip(df["ts_start"], df["currency_pair"], df["num_trades"])],
        columns=["window_start", "pair", "num_trades"],
    )


def _processor_tables(config, topic: str) -> dict:
    with scratch_schema(config) as schema:
        result = run_bounded(config, topic, schema, only=("candlesticks", "late_trades"))
        assert result.status == "FINISHED"
        return {
            "late_trades": _counts(config, schema, "late_trades"),
            "candlesticks": _counts(config, schema, "candlesticks"),
        }


def _as_ms(value):
    return None if value is None or pd.isna(value) else int(pd.Timestamp(value).value // 1_000_000)


def _in_flink_order(config, trades, topic: str):
    """Flink's rows per record (in the order it read them) and the trades in that order."""
    got = pipeline.query(PER_RECORD, config=config, topic=topic)
    by_partition = {}
    for t in trades:
        by_partition.setdefault(t.get("partition", 0), []).append(t)
    order = [by_partition[p][o] for p, o in zip(got["kafka_partition"], got["kafka_offset"], strict=True)]
    assert [t["timestamp"] for t in order] == list(got["timestamp"]), "offsets do not match the written trades"
    return got, order


def _assert_same_records(got: pd.DataFrame, sim: watermarks.Simulation) -> None:
    flink_wm = [_as_ms(v) for v in got["wm"]]
    sim_wm = [None if v is None or pd.isna(v) else int(v) for v in sim.records["watermark"]]
    differ = [i for i, (a, b) in enumerate(zip(flink_wm, sim_wm, strict=True)) if a != b]
    assert not differ, (
        f"watermark differs at arrivals {differ[:10]}: Flink {[flink_wm[i] for i in differ[:5]]}, "
        f"simulation {[sim_wm[i] for i in differ[:5]]}"
    )
    assert list(got["is_late"]) == list(sim.records["late"])


def test_one_partition_processor_tables_equal_the_simulation(stack):
    trades = watermarks.lab_stream()
    sim = watermarks.simulate(trades, watermarks.DELAY_MS)
    topic = _write(stack, trades, 1)
    try:
        tables = _processor_tables(stack, topic)
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)
    pd.testing.assert_frame_equal(tables["late_trades"], sim.late_by_window_and_pair(), check_dtype=False)
    pd.testing.assert_frame_equal(tables["candlesticks"], sim.on_time_by_window_and_pair(), check_dtype=False)
    # the slow pair is in order within itself: a per-pair watermark would call none of these late
    assert sim.late_count == tables["late_trades"]["num_trades"].sum() > 0
    assert watermarks.per_pair_late(trades, watermarks.DELAY_MS) < sim.late_count
    print(f"one partition: {sim.summary()}; per pair it would be {watermarks.per_pair_late(trades, 5000)} late")


def test_two_partitions_the_watermark_is_the_minimum(stack):
    trades = watermarks.two_partition_stream()
    topic = _write(stack, trades, 2)
    try:
        got, order = _in_flink_order(stack, trades, topic)
        tables = _processor_tables(stack, topic)
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)
    sim = watermarks.simulate(order, watermarks.DELAY_MS)
    _assert_same_records(got, sim)
    per_partition = sum(watermarks.simulate([t for t in order if t["partition"] == p]).late_count for p in (0, 1))
    assert sim.late_count != per_partition, "this reading order does not tell min-over-partitions from per-partition"
    # The processor's own run: Flink's reader takes what one fetch returns partition by partition, so a
    # second job over the same (complete) topic reads it in the same order in practice; accept also the
    # other whole-partition order, never a per-partition or per-pair count.
    candidates = [sim] + [
        watermarks.simulate([t for p in ps for t in order if t["partition"] == p]) for ps in ((0, 1), (1, 0))
    ]
    matches = [
        c
        for c in candidates
        if c.late_by_window_and_pair().equals(tables["late_trades"].astype({"num_trades": "int64"}))
        and c.on_time_by_window_and_pair().equals(tables["candlesticks"].astype({"num_trades": "int64"}))
    ]
    assert matches, (
        f"the processor's tables match no reading order:\n{tables}\nsimulation:\n{sim.late_by_window_and_pair()}"
    )
    print(
        f"two partitions, read as {''.join(str(p) for p in got['kafka_partition'])}: {sim.summary()}; "
        f"per partition it would be {per_partition}"
    )


def test_a_partition_without_records_holds_the_watermark_only_until_its_empty_split_finishes(stack):
    """Flink 2.0's source makes an output for every assigned split at once, so an empty partition holds the
    watermark at "none"; the Kafka source finishes a bounded split with nothing to read with its first fetch,
    and the split's output goes: from there partition 0 alone drives the watermark (notebook 04 says so)."""
    one = [dict(t, partition=0) for t in watermarks.lab_stream(minutes=6)]
    topic = _write(stack, one, 2)
    try:
        got, order = _in_flink_order(stack, one, topic)
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)
    has_wm = got["wm"].notna().tolist()
    first = has_wm.index(True) if True in has_wm else None
    assert first is not None and first > 0, f"watermark rows: {has_wm.count(True)} of {len(has_wm)}, first at {first}"
    assert all(has_wm[first:]), "the watermark went back to none after the empty split finished"
    assert not got["is_late"][:first].any()  # no watermark: nothing late in the first fetch
    alone = watermarks.simulate(order, watermarks.DELAY_MS)  # partition 0 alone
    flink_wm = [_as_ms(v) for v in got["wm"][first:]]
    assert flink_wm == [int(v) for v in alone.records["watermark"][first:]]
    assert list(got["is_late"][first:]) == list(alone.records["late"][first:])
    assert got["is_late"].sum() > 0  # the later trades are judged

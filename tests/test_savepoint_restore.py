"""Stop with a savepoint, restart from it with parallelism 2 (notebook 12), on the real session cluster, Kafka
and PostgreSQL: the processor's streaming job reads a fixed set of trades; after some windows are written it is
stopped with a savepoint (pipeline/savepoints.py); more trades arrive while it is stopped; it is started again
from the savepoint with parallelism 2. When it has caught up, the candlesticks and volumes in PostgreSQL are those
of one bounded run over the same trades: no window lost, doubled or changed; the windows written before the stop
are untouched. The cluster says where the new job started from (GET /jobs/<id>/checkpoints: latest.restored)
and that its operators run twice. Also the command line and its errors. About 85 s for the file (three job
submissions and a bounded run).
"""

from __future__ import annotations

import random
import shutil
import time
import uuid

import pandas as pd
import pytest
from flinkutil import DELAY, MINUTE, read_table, run_bounded, scratch_schema, trade, write_in_batches

from workbook import kafka, pipeline, processor
from workbook.pipeline import cluster_jobs, savepoints

pytestmark = pytest.mark.integration

T0 = 1_735_905_600_000  # 2025-01-03 12:00:00 UTC
PAIRS = [("bitcoin", "tether"), ("ethereum", "euro"), ("xrp", "tether")]
MINUTES = 8  # windows 12:00 .. 12:07
STOP_AT = 4  # the trades of minutes 0-3 are there before the stop, those of 4-7 arrive while it is stopped


def trades() -> list:
    """The trades of MINUTES minutes, in event-time order, and one after them that closes the last minute."""
    rng = random.Random(23)
    found = [
        trade(rng, base, quote, T0 + minute * MINUTE + rng.randrange(MINUTE))
        for minute in range(MINUTES)
        for base, quote in PAIRS
        for _ in range(rng.randint(8, 15))
    ]
    found.sort(key=lambda t: t["timestamp"])
    found.append(trade(rng, "bitcoin", "tether", T0 + MINUTES * MINUTE + DELAY + 1))
    return found


def wait_for_windows(config, schema: str, count: int, timeout: float = 90) -> pd.DataFrame:
    deadline = time.monotonic() + timeout
    while True:
        got = read_table(config, schema, "candlesticks")
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def closed(df: pd.DataFrame) -> pd.DataFrame:
    """The windows of the MINUTES minutes (not the closing trade's), without the columns a database adds."""
    keep = df[df["ts_start"] < T0 + MINUTES * MINUTE]
    return keep.drop(columns=[c for c in ("inserted_at", "updated_at") if c in keep]).reset_index(drop=True)


@pytest.fixture
def nothing_running(stack, flink_cluster):
    """The cluster's address, no processor job on it; the savepoints the test took removed at its end."""
    address = flink_cluster.address
    assert savepoints.processor_job(stack, address) is None, (
        f"a processor streaming job already runs on {address}: stop it first"
    )
    folder = stack.workbook_state_dir / "savepoints"
    before = set(folder.iterdir()) if folder.is_dir() else set()
    yield address
    for path in set(folder.iterdir()) - before if folder.is_dir() else ():
        shutil.rmtree(path, ignore_errors=True)
    running = savepoints.processor_job(stack, address)
    if running is not None:
        cluster_jobs.cancel(address, running["jid"])
        cluster_jobs.wait_until_gone(address, [running["jid"]])


def test_stop_with_savepoint_and_restart_at_parallelism_2_loses_and_doubles_no_window(stack, nothing_running):
    address = nothing_running
    records = trades()
    first = [t for t in records if t["timestamp"] < T0 + STOP_AT * MINUTE]
    topic = f"test-savepoint-{uuid.uuid4().hex[:10]}"
    kafka.write_records(stack.kafka_bootstrap_servers, topic, [])
    try:
        with scratch_schema(stack) as schema, scratch_schema(stack) as reference:
            where = dict(topic=topic, jdbc_url=pipeline.jdbc_url_with_schema(stack, schema), solutions=True)
            quiet = dict(say=lambda *_: None)
            write_in_batches(stack, topic, first)
            old = savepoints.start_processor(stack, address, **quiet, **where)
            # minutes 0-2 close once the watermark (newest trade - 5 s) passes their ends; minute 3 stays open
            before = wait_for_windows(stack, schema, 3 * len(PAIRS))
            assert len(before) == 3 * len(PAIRS), before

            path = savepoints.stop_processor(stack, address, **quiet)
            assert cluster_jobs.job(address, old)["state"] == "FINISHED"  # stopped, not cancelled
            local = savepoints.local_path(path)
            assert (
                local.parent == (stack.workbook_state_dir / "savepoints").resolve() and (local / "_metadata").is_file()
            )
            assert savepoints.savepoint_job_prefix(path) == old[:6]
            assert savepoints.savepoints(stack, address)[0] == local.as_uri()

            write_in_batches(stack, topic, records[len(first) :])  # while nothing runs
            time.sleep(1)
            assert len(read_table(stack, schema, "candlesticks")) == len(before)

            new = savepoints.restart_processor(path, 2, stack, address, **quiet, **where)
            info = savepoints.restore_info(address, new.job_id)
            assert info["state"] == "RUNNING" and info["parallelism"] == [2], info
            assert info["is_savepoint"] is True and savepoints.local_path(info["restored_from"]) == local, info
            assert info["name"] == savepoints.processor_name(stack)

            after = wait_for_windows(stack, schema, MINUTES * len(PAIRS) + 0)
            got = {t: closed(read_table(stack, schema, t)) for t in ("candlesticks", "volumes")}
            assert len(got["candlesticks"]) == MINUTES * len(PAIRS), after

            run_bounded(stack, topic, reference)  # one uninterrupted run over the same trades
            for table in ("candlesticks", "volumes"):
                want = closed(read_table(stack, reference, table))
                # sums of doubles: two parallel tasks add in another order (the last digits of price_avg)
                pd.testing.assert_frame_equal(got[table], want, check_exact=False, rtol=1e-12, obj=table)
            # the windows written before the stop were not written again with other values
            pd.testing.assert_frame_equal(
                closed(before), got["candlesticks"].iloc[: len(before)].reset_index(drop=True), check_exact=True
            )
            assert sum(t["timestamp"] < T0 + STOP_AT * MINUTE for t in records) == len(first)
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def test_the_command_line_stops_with_a_savepoint_and_starts_from_the_latest(stack, nothing_running, capsys):
    address = nothing_running
    topic = f"test-savepoint-cli-{uuid.uuid4().hex[:10]}"
    kafka.write_records(stack.kafka_bootstrap_servers, topic, trades()[:50])
    base = ["--jobmanager", address, "--topic", topic, "--solutions"]
    try:
        assert processor.main([*base, "--stop-with-savepoint"]) == 1
        assert "no processor job runs on" in capsys.readouterr().err
        assert processor.main([*base, "--from-savepoint", "/no/such/savepoint"]) == 1
        assert "no savepoint at /no/such/savepoint" in capsys.readouterr().err

        first = savepoints.start_processor(stack, address, say=lambda *_: None, topic=topic, solutions=True)
        assert processor.main([*base, "--from-savepoint", "latest"]) == 1
        assert f"the processor's job {first} still runs" in capsys.readouterr().err
        assert processor.main([*base, "--stop-with-savepoint"]) == 0
        path = capsys.readouterr().out.strip().splitlines()[-1]
        assert savepoints.savepoint_job_prefix(path) == first[:6], path

        assert processor.main([*base, "--from-savepoint", "latest", "--parallelism", "2"]) == 0
        job = savepoints.processor_job(stack, address)
        info = savepoints.restore_info(address, job["jid"])
        assert info["parallelism"] == [2] and savepoints.local_path(info["restored_from"]) == savepoints.local_path(
            path
        )
        capsys.readouterr()

        # a job that is not the one of the savepoint (only the candlesticks' INSERT): Flink's refusal, one line
        assert processor.main([*base, "--stop-with-savepoint"]) == 0
        path = capsys.readouterr().out.strip().splitlines()[-1]
        with pytest.raises(savepoints.SavepointError) as err:
            savepoints.restart_processor(
                path, 2, stack, address, say=lambda *_: None, topic=topic, solutions=True, only=("candlesticks",)
            )
        text = str(err.value)
        assert "\n" not in text and "Flink cannot map checkpoint/savepoint state for operator" in text, text
        assert "restore with the same statements" in text
    finally:
        kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def test_savepoint_arguments_are_checked(capsys):
    for argv, words in (
        (["--stop-with-savepoint", "--from-savepoint", "x"], "one at a time"),
        (["--from-savepoint", "x", "--bounded"], "savepoints are for the streaming job"),
        (["--from-savepoint", "x", "--parallelism", "0"], "--parallelism must be at least 1"),
    ):
        with pytest.raises(SystemExit) as exc:
            processor.main(argv)
        assert exc.value.code == 2 and words in capsys.readouterr().err


def test_the_savepoint_folder_is_named_in_the_cluster_configuration(tmp_path):
    from workbook.stack.flink_cluster import cluster_config

    text = cluster_config(8081, "python", tmp_path, tmp_path, savepoint_dir=tmp_path / "savepoints")
    assert f"execution.checkpointing.savepoint-dir: {(tmp_path / 'savepoints').as_uri()}" in text.splitlines()
    assert savepoints.savepoint_job_prefix("file:/x/savepoints/savepoint-82ec87-82e49f392b05") == "82ec87"
    assert savepoints.local_path("file:/x/y") == savepoints.local_path("file:///x/y") == savepoints.local_path("/x/y")
    assert savepoints.local_path("s3://bucket/x") is None

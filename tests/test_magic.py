"""The %%flinksql magic and the warm session behind it, in a real in-process IPython
shell with a real Flink MiniCluster; the equality tests compare it with the streaming
job over Kafka (pipeline.query over a scratch topic), late trades included."""

from __future__ import annotations

import datetime
import time

import pandas as pd
import pytest

from workbook import pipeline
from workbook.course import checks, datasets, exercises, feedback
from workbook.course.checks_candles import normalize
from workbook.course.magic import ErrorBlock
from workbook.pipeline import sql_files
from workbook.pipeline.session import SqlError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "workbook")
    return ip


def cell(shell, line: str, body: str):
    return shell.run_cell_magic("flinksql", line, body)


def late_trades_dataset() -> list[dict]:
    """The check dataset with every 50th trade arriving 20 s late (beyond the 5 s watermark delay)."""
    trades = datasets.check_trades()
    late = trades[::50][:-2]
    rest = [t for i, t in enumerate(trades) if i % 50]
    out = []
    for t in rest:
        out.append(t)
        while late and late[0]["timestamp"] + 20_000 <= t["timestamp"]:
            out.append(late.pop(0))
    return out + late


QUERIES = {
    "candlesticks": lambda: exercises.solution("candlesticks"),
    "volumes": lambda: exercises.solution("volumes"),
    "late_trades": lambda: sql_files.select_part(sql_files.load_sql("42_late_trades")),
    "checked": lambda: (
        "SELECT currency_pair, problem, is_late, COUNT(*) AS n FROM checked_trades "
        "GROUP BY currency_pair, problem, is_late"
    ),
}


@pytest.mark.parametrize("data", ["check", "sample", "late"])
def test_magic_rows_equal_the_streaming_job_over_kafka(stack, data):
    source = {"check": datasets.check_trades, "sample": datasets.sample_trades, "late": late_trades_dataset}[data]
    session = feedback.session()
    session.datasets.setdefault("late", late_trades_dataset)
    trades = source()
    if data == "late":
        # the dataset really has late trades:
        assert session.run_cell("SELECT COUNT(*) AS n FROM checked_trades WHERE is_late", data="late").frame["n"][0] > 0
    for name, sql in QUERIES.items():
        text = sql()
        ours = session.run_cell(text, data=data).frame
        theirs = pipeline.query(text, trades)
        theirs = theirs.sort_values(list(theirs.columns)).reset_index(drop=True)
        assert len(ours) > 0 or (name == "late_trades" and data != "late"), name
        pd.testing.assert_frame_equal(
            normalize(ours) if "ts_start" in ours else ours,
            normalize(theirs) if "ts_start" in theirs else theirs,
            check_dtype=False,
            obj=f"{name} over {data}",
        )


def test_ddl_of_one_cell_is_visible_in_the_next(shell):
    assert (
        cell(
            shell,
            "",
            "CREATE TEMPORARY VIEW btc_trades AS\nSELECT * FROM valid_trades WHERE currency_pair = 'bitcoin / tether'",
        )
        is None
    )
    out = cell(shell, "--out btc", "SELECT COUNT(*) AS n FROM btc_trades")
    assert isinstance(out, pd.DataFrame) and out["n"][0] > 0
    assert shell.user_ns["btc"]["n"][0] == out["n"][0]
    # and over the other dataset too
    assert cell(shell, "--data sample", "SELECT COUNT(*) AS n FROM btc_trades")["n"][0] > out["n"][0]


def test_result_is_sorted_and_limited(shell):
    out = cell(shell, "--limit 3", "SELECT currency_pair, COUNT(*) AS n FROM valid_trades GROUP BY currency_pair")
    assert len(out) == 3 and list(out["currency_pair"]) == sorted(out["currency_pair"])


def test_changelog_shows_row_kinds(shell):
    out = cell(
        shell, "--changelog --limit 20", "SELECT currency_pair, COUNT(*) AS n FROM valid_trades GROUP BY currency_pair"
    )
    assert list(out.columns) == ["op", "currency_pair", "n"]
    assert {"+I", "-U", "+U"} <= set(out["op"]) and len(out) == 20


def test_syntax_error_shows_line_and_column_of_the_cell(shell):
    out = cell(shell, "", "SELECT currency_pair,\n  COUNT(*) AS n\nFROM valid_trades\nGROUP BY currency_pairx")
    assert isinstance(out, ErrorBlock)
    text = repr(out)
    assert "Column 'currency_pairx' not found" in text
    assert "  4 | GROUP BY currency_pairx\n    |          ^" in text
    assert "at org.apache" not in text and "Traceback" not in text


def test_parse_error_in_a_later_statement_points_into_the_cell(shell):
    out = cell(shell, "", "SELECT 1;\n\nSELECT currency_pair\nFROM valid_trades\nWHERE price >> 3")
    text = repr(out)
    assert out.title.startswith("Flink SQL error: SQL parse failed")
    assert "  5 | WHERE price >> 3\n    |" in text


def test_failing_check_renders_a_box_and_does_not_raise(shell, monkeypatch):
    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    skeleton = sql_files.load_sql("41_volumes")
    result = cell(shell, "--exercise volumes", skeleton)
    assert isinstance(result, feedback.CheckResult) and not result
    box = result._repr_html_()
    assert "there is no query" in box and 'hint("volumes")' in box
    wrong = exercises.solution("candlesticks").replace("MIN(order_key)", "MAX(order_key)")
    result = cell(shell, "--exercise candlesticks", wrong)
    assert not result and result.got is not None and result.expected is not None
    assert "example row, got:" in result.text()


def test_passing_check_is_one_line(shell, monkeypatch):
    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    started = time.perf_counter()
    result = cell(shell, "--exercise candlesticks", exercises.solution("candlesticks"))
    assert result, result.text()
    assert "\n" not in result.text() and result.text().startswith("\u2705 candlesticks: correct: 73 rows")
    assert time.perf_counter() - started < 60


def test_file_exercise_line_magic(shell, monkeypatch):
    monkeypatch.setenv("WORKBOOK_SOLUTIONS", "1")
    assert shell.run_line_magic("flinksql", "--exercise volumes --file")


# --- issue 15: the checks' bad inputs -------------------------------------------------------------------


def test_check_of_a_query_that_never_finishes_stops_at_the_time_limit(monkeypatch):
    # a session of its own: the checks run before it in the same process define scratch tables in theirs
    monkeypatch.setattr(feedback, "_SESSION", None)
    # non-equi conditions: Flink cannot push the aggregate below the joins (as it does for a bare COUNT(*) of a
    # cross join, which then finishes in a second), so this pairs ~10^11 rows
    cross = (
        "SELECT a.currency_pair, SUM(b.volume * c.price) AS n FROM valid_trades a, valid_trades b, valid_trades c "
        "WHERE a.price < b.price AND b.volume < c.volume GROUP BY a.currency_pair"
    )
    started = time.perf_counter()
    result = checks.run_check("volumes", cross, timeout_s=5)
    took = time.perf_counter() - started
    # without the limit this query runs for minutes; the bound is loose: cancelling a job on a loaded machine is slow
    assert not result and took < 90, took
    assert "stopped after 5 s" in result.problems[0] and "cross join" in result.problems[0]
    # the cluster is free again: the next check runs normally
    assert checks.run_check("volumes", exercises.solution("volumes"))


def test_one_word_answer_gets_check_feedback():
    result = checks.run_check("candlesticks", "candles")
    assert not result and "single word 'candles'" in result.problems[0]
    assert checks.run_check("volumes", "41_volumes").problems[0].startswith("write the query of the exercise")


def test_parse_error_in_a_check_gives_line_and_column():
    result = checks.run_check("candlesticks", "SELECT\n  window_start AS ts_start,\n  FROM FROM valid_trades")
    assert not result
    assert "SQL parse failed" in result.problems[0] and "(line 3, column 3)" in result.problems[0]
    assert "  3 |   FROM FROM valid_trades\n    |   ^" in result.problems[0]


def test_the_session_listens_on_loopback_only(shell):
    """Issue 15: every listener of the %%flinksql kernel session (the MiniCluster's REST,
    RPC and blob servers, PyFlink's gateway) is bound to 127.0.0.1."""
    import os

    import psutil

    cell(shell, "", "SELECT 1")
    procs = [psutil.Process(os.getpid()), *psutil.Process(os.getpid()).children(recursive=True)]
    listening = [c.laddr for p in procs for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening, "found no listening sockets at all"
    import ipaddress

    def loopback(ip: str) -> bool:
        a = ipaddress.ip_address(ip)
        return a.is_loopback or (a.version == 6 and a.ipv4_mapped is not None and a.ipv4_mapped.is_loopback)

    assert all(loopback(addr.ip) for addr in listening), listening


def test_event_time_columns_in_a_changelog_and_in_a_query_over_kafka(shell):
    """collect() cannot pickle TIMESTAMP_LTZ values (ts is one): the collecting paths cast them to UTC."""
    out = cell(shell, "--changelog --limit 3", "SELECT currency_pair, ts FROM valid_trades")
    assert list(out.columns) == ["op", "currency_pair", "ts"] and len(out) == 3 and set(out["op"]) == {"+I"}
    assert isinstance(out["ts"][0], datetime.datetime)
    trades = datasets.check_trades()[:50]
    last = pipeline.query("SELECT currency_pair, MAX(ts) AS last_ts FROM valid_trades GROUP BY currency_pair", trades)
    newest = max(t["timestamp"] for t in trades)
    assert pd.Timestamp(last["last_ts"].max()) == pd.Timestamp(newest, unit="ms")


# --- the speed-ups: the same frames as PyFlink's own path ------------------------------------------


@pytest.mark.parametrize(
    "sql, data",
    [
        ("SELECT * FROM valid_trades", "check"),  # TIMESTAMP_LTZ (ts), DOUBLE, strings, BIGINT, NULL priceUsd
        ("SELECT * FROM valid_trades", "sample"),  # ~34,000 rows: several Arrow batches
        (
            "SELECT currency_pair, COUNT(*) AS n, CAST(SUM(volume) AS DECIMAL(20, 4)) AS v, MAX(ts) AS last_ts, "
            "CAST(NULL AS STRING) AS nothing FROM valid_trades GROUP BY currency_pair",  # an updating result
            "check",
        ),
        ("SELECT * FROM valid_trades WHERE 1 = 0", "check"),  # no rows: the column names still
    ],
)
def test_arrow_collection_gives_the_frame_of_table_to_pandas(sql, data, monkeypatch):
    from workbook.pipeline import results

    t_env = feedback.session().env(data)
    ours = results.to_pandas(t_env.sql_query(sql))
    theirs = t_env.sql_query(sql).to_pandas()
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.dtypes) == list(theirs.dtypes)  # tz-aware ts included
    pd.testing.assert_frame_equal(
        ours.sort_values(list(ours.columns)).reset_index(drop=True),
        theirs.sort_values(list(theirs.columns)).reset_index(drop=True),
    )
    monkeypatch.setenv("WORKBOOK_ARROW_COLLECT", "0")  # off: PyFlink's own path, same frame
    pd.testing.assert_frame_equal(
        results.to_pandas(t_env.sql_query(sql)).sort_values(list(ours.columns)).reset_index(drop=True),
        theirs.sort_values(list(theirs.columns)).reset_index(drop=True),
    )


def test_a_query_too_big_to_compile_unsplit_is_compiled_again_with_splitting(monkeypatch):
    """The session turns Flink's code splitting off; a generated method over the JVM's 64 KB
    does not compile then, and the query runs again with splitting (and splitting is off again after)."""
    from workbook.pipeline import results
    from workbook.pipeline import session as session_module

    runs, original = [], results.to_pandas

    def counted(table):
        runs.append(table)
        return original(table)

    monkeypatch.setattr(results, "to_pandas", counted)

    # 160 such columns make a generated method over 64 KB (100 do not; 300 only took longer to compile)
    count = 160
    columns = ",\n".join(
        f"CASE WHEN price > {i} THEN CONCAT(currency_pair, '{i}', CAST(volume * {i} AS STRING)) "
        f"WHEN volume > {i} THEN 'v{i}' ELSE UPPER(direction) END AS c{i}"
        for i in range(count)
    )
    session = feedback.session()
    out = session.run_cell(f"SELECT {columns} FROM valid_trades", limit=2, timeout_s=300).frame
    assert out.shape == (2, count)
    assert len(runs) == 2  # the unsplit run failed to compile, the split one gave the rows
    config = session.env("check").get_config()
    assert config.get(session_module.SPLIT_OPTION, "") == session_module.CODE_SPLITTING_OFF[session_module.SPLIT_OPTION]


def test_warm_up_starts_the_cluster_defines_the_datasets_and_runs_its_query():
    import json
    import urllib.request

    from workbook.course.magic import WARM_UP_SQL
    from workbook.pipeline.session import Session

    session = Session({"check": datasets.check_trades, "sample": datasets.sample_trades})
    try:
        session.warm_up(WARM_UP_SQL, data=("check", "sample")).join(300)
        assert session.defined() == ["check", "sample"]
        overview = json.load(urllib.request.urlopen(f"http://{session.cluster_address()}/jobs/overview", timeout=10))
        assert [job["state"] for job in overview["jobs"]] == ["FINISHED"]  # the warm-up query ran, to its end
        # a warm-up that fails says nothing; the cell that meets the problem reports it
        session.warm_up("SELECT nope FROM valid_trades").join(60)
        with pytest.raises(SqlError, match="nope"):
            session.run_cell("SELECT nope FROM valid_trades")
    finally:
        session.close()


def test_a_cell_during_the_warm_up_waits_for_its_current_step_only():
    import json
    import urllib.request

    from workbook.course.magic import WARM_UP_SQL
    from workbook.pipeline.session import Session

    session = Session({"check": datasets.check_trades, "sample": datasets.sample_trades})
    try:
        warming = session.warm_up(WARM_UP_SQL, data=("check", "sample"))
        out = session.run_cell("SELECT COUNT(*) AS n FROM valid_trades").frame  # while the JVM starts
        warming.join(60)
        assert not warming.is_alive() and out["n"][0] > 0
        # the warm-up stopped after its first step: no warm-up query, no sample tables
        assert session.defined() == ["check"]
        overview = json.load(urllib.request.urlopen(f"http://{session.cluster_address()}/jobs/overview", timeout=10))
        assert len(overview["jobs"]) == 1  # the cell's
    finally:
        session.close()


def test_load_ext_starts_the_warm_up_unless_turned_off(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from workbook.course import magic

    started = []
    monkeypatch.delenv("WORKBOOK_WARM_UP", raising=False)
    monkeypatch.delenv("WORKBOOK_SPEEDUPS", raising=False)
    monkeypatch.setattr(feedback, "session", lambda: type("S", (), {"warm_up": lambda *a, **k: started.append(a)})())
    ip = InteractiveShell.instance()
    magic.load_ipython_extension(ip)
    assert len(started) == 1 and started[0][1] == magic.WARM_UP_SQL
    monkeypatch.setenv("WORKBOOK_WARM_UP", "0")
    magic.load_ipython_extension(ip)
    assert len(started) == 1


def _with_config(**changes):
    """The kernel's session with other settings for one cell (its --data topic tables are defined per cell)."""
    import contextlib
    import dataclasses

    @contextlib.contextmanager
    def swapped():
        session = feedback.session()
        saved = session.config
        session.config = dataclasses.replace(saved, **changes)
        try:
            yield session.config
        finally:
            session.config = saved

    return swapped()


def test_data_topic_says_when_the_topic_is_empty(shell, stack, capsys):
    from workbook import kafka

    topic = "magic-empty-topic"
    kafka.delete_topic(stack.kafka_bootstrap_servers, topic)
    kafka.create_topic(stack.kafka_bootstrap_servers, topic)
    with _with_config(kafka_topic=topic):
        frame = cell(shell, "--data topic", "SELECT * FROM trades")
    assert isinstance(frame, pd.DataFrame) and frame.empty
    out = capsys.readouterr().out
    assert f"the topic '{topic}' on {stack.kafka_bootstrap_servers} is empty: no trades to query yet" in out
    assert "python -m workbook up --stream" in out
    kafka.write_records(stack.kafka_bootstrap_servers, topic, datasets.check_trades()[:3])
    with _with_config(kafka_topic=topic):
        frame = cell(shell, "--data topic", "SELECT * FROM trades")
    assert len(frame) == 3 and "is empty" not in capsys.readouterr().out
    kafka.delete_topic(stack.kafka_bootstrap_servers, topic)


def test_data_topic_with_the_broker_unreachable_says_so_within_seconds(shell, stack):
    import socket

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    cell(shell, "", "SELECT 1 AS x")  # the cluster is up: only the broker's check is timed
    with _with_config(kafka_bootstrap_servers=address):
        t0 = time.monotonic()
        block = cell(shell, "--data topic", "SELECT * FROM trades")
        seconds = time.monotonic() - t0
    assert isinstance(block, ErrorBlock) and seconds < 5, seconds
    assert f"the Kafka broker at {address} is unreachable" in block.body
    assert "python -m workbook up" in block.body

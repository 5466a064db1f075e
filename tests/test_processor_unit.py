"""The processor's SQL files and helpers, without services (no JVM, no broker)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workbook import pipeline
from workbook.config import PROJECT_ROOT, load_config
from workbook.course.checks_candles import CANDLE_COLUMNS, VOLUME_COLUMNS  # what the exercise checks compare
from workbook.kafka import specific_offsets_option
from workbook.paths import solution_of
from workbook.pipeline import sql_files, statements
from workbook.pipeline.flink_env import jvm_args, parse_jobmanager, prepare_jvm


def columns_of(ddl: str) -> list:
    """Column names of a CREATE TABLE (Flink or PostgreSQL), in order."""
    body = sql_files.strip_comments(ddl)
    body = body[body.index("(") + 1 :]
    cols = []
    for line in body.splitlines():
        m = re.match(r"\s*`?([a-z_]+)`?\s+(TIMESTAMP|VARCHAR|STRING|DOUBLE|INT|INTEGER|BIGINT)\b", line, re.I)
        if m:
            cols.append(m.group(1))
    return cols


def pg_tables() -> dict:
    text = "\n".join(p.read_text() for p in sorted((PROJECT_ROOT / "sql" / "postgres").glob("*.sql")))
    return {
        m.group(1): columns_of(m.group(0))
        for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((?:[^;])*?\);", text)
    }


def test_every_sql_file_is_one_statement_in_run_order():
    statements = pipeline.load_statements()
    names = [s.path.name for s in statements]
    assert names == sorted(names)
    kinds = [s.kind.replace("skeleton", "insert") for s in statements]  # an exercise file not done yet
    assert kinds == sorted(kinds)  # every CREATE before the first INSERT
    assert [s.name for s in statements if s.kind == "create"][:3] == ["trades", "checked_trades", "valid_trades"]
    for s in statements:
        assert ";" not in sql_files.strip_sql(sql_files.strip_comments(s.text)), s.label


def test_sinks_have_exactly_the_postgres_columns():
    pg = pg_tables()
    assert pg["candlesticks"] == CANDLE_COLUMNS
    assert pg["volumes"] == VOLUME_COLUMNS
    sinks = {s.name: s for s in pipeline.load_statements() if s.is_sink}
    assert set(sinks) == {"candlesticks", "volumes", "late_trades", "bad_records"}
    for name, st in sinks.items():
        assert columns_of(st.text) == pg[name], name
        assert sql_files.with_options(st.text)["table-name"] == name


def select_list_names(select: str) -> list:
    """Output names of a SELECT list: the alias, or the column itself."""
    head = select[len("SELECT ") : select.upper().index(" FROM ")]
    items, depth, cur, quote = [], 0, "", False
    for c in head:
        if c == "'":
            quote = not quote
        if not quote and c in "(":
            depth += 1
        if not quote and c in ")":
            depth -= 1
        if c == "," and depth == 0 and not quote:
            items.append(cur)
            cur = ""
        else:
            cur += c
    items.append(cur)
    return [re.findall(r"(\w+)\s*$", item.strip())[0] for item in items]


def test_queries_name_their_columns_like_the_sink():
    sinks = {s.name: s for s in pipeline.load_statements() if s.is_sink}
    for solutions in (False, True):
        for st in pipeline.load_statements(solutions=solutions):
            if st.kind == "insert":
                select = sql_files.code_of(sql_files.select_part(st.text))
                assert select_list_names(select) == columns_of(sinks[st.name].text), st.label


def test_candlesticks_order_open_and_close_by_event_time():
    text = sql_files.code_of(pipeline.load_sql("40_candlesticks", solutions=True))
    assert "FIRST_VALUE" not in text and "LAST_VALUE" not in text
    assert "MIN(order_key)" in text and "MAX(order_key)" in text
    assert "base || ' / ' || quote" in sql_files.code_of(pipeline.load_sql("checked_trades"))
    source = sql_files.code_of(pipeline.load_sql("10_trades"))
    assert "TO_TIMESTAMP_LTZ(`timestamp`, 3)" in source and "WATERMARK FOR ts" in source
    assert "'scan.watermark.idle-timeout'" in source and "'json.ignore-parse-errors' = 'true'" in source


def test_exercise_files_are_skeletons_reported_and_skipped():
    for name, table in (("41_volumes", "volumes"), ("40_candlesticks", "candlesticks")):
        student = pipeline.load_sql(name)
        solution = pipeline.load_sql(name, solutions=True)
        assert sql_files.is_skeleton(student) and not sql_files.is_skeleton(solution)
        assert solution_of(f"sql/{name}.sql").exists()
        assert f"INSERT INTO {table}" in solution and "INSERT INTO" not in sql_files.code_of(student)
    loaded = pipeline.load_statements()
    assert {s.name for s in loaded if s.kind == "skeleton"} == {"candlesticks", "volumes"}
    warnings = statements.skeleton_warnings(loaded)
    assert len(warnings) == 2 and "sql/40_candlesticks.sql (exercise 'candlesticks')" in warnings[0]
    assert "41_volumes.sql" in warnings[1] and "gets no rows" in warnings[1]
    assert statements.skeleton_warnings(pipeline.load_statements(solutions=True)) == []


def test_render_fills_and_escapes_placeholders():
    assert sql_files.render("'${A}' x ${B}", {"A": "it's", "B": 1}) == "'it''s' x 1"
    with pytest.raises(sql_files.SqlFileError, match=r"\$\{NOPE\}"):
        sql_files.render("${NOPE}", {"A": 1})
    values = pipeline.sql_values(load_config())
    for st in pipeline.load_statements(solutions=True):
        assert not re.search(r"\$\{[A-Z0-9_]+\}", sql_files.render(st.text, values)), st.label


def test_dry_run_sink_prints_instead():
    sink = next(s for s in pipeline.load_statements() if s.name == "candlesticks" and s.is_sink)
    ddl = sql_files.as_print_sink(sink.text, "candlesticks")
    assert sql_files.with_options(ddl) == {"connector": "print", "print-identifier": "candlesticks"}
    assert columns_of(ddl) == CANDLE_COLUMNS and "PRIMARY KEY" in ddl


def test_sql_text_helpers():
    assert sql_files.strip_comments("a -- x\nb '--no' c") == "a \nb '--no' c"
    assert sql_files.select_part("-- hi\nINSERT INTO t\nSELECT 1;") == "SELECT 1"
    assert sql_files.select_part("SELECT 2") == "SELECT 2"
    assert sql_files.insert_target("INSERT INTO volumes SELECT 1") == "volumes"
    assert sql_files.find("candlesticks").name == "40_candlesticks.sql"
    with pytest.raises(sql_files.SqlFileError, match="have:"):
        sql_files.find("nope")


def test_bounded_offsets_option_and_jobmanager_address():
    assert specific_offsets_option({1: 0, 0: 667}) == "partition:0,offset:667;partition:1,offset:0"
    assert parse_jobmanager("127.0.0.1:8081") == ("127.0.0.1", 8081)
    assert parse_jobmanager("http://jobmanager:8081/") == ("jobmanager", 8081)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_jobmanager("localhost")


@pytest.mark.flink  # runs java -version with our options
def test_jvm_runs_in_utc(monkeypatch, tmp_path):
    """The JDBC sink converts TIMESTAMP(3) in the JVM's zone: it must be UTC."""
    monkeypatch.setenv("JVM_ARGS", "-Xmx1g -XX:+UseG1GC")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    args = jvm_args(tmp_path).split()
    assert "-Duser.timezone=UTC" in args and "-Xmx1g" in args
    assert "-XX:+UseSerialGC" not in args  # the user's collector wins
    assert "-Xms64m" in args and "-Xmx1g" in args  # our other sizes stay
    assert any(a.startswith("-XX:ArchiveClassesAtExit=" + str(tmp_path)) for a in args)
    prepare_jvm()
    import os

    assert os.environ["JAVA_HOME"] and os.environ["JVM_ARGS"] == "-Xmx1g -XX:+UseG1GC"  # not changed
    monkeypatch.setenv("JVM_ARGS", "-Xms1g")
    assert [a for a in jvm_args(tmp_path).split() if a.startswith("-Xms")] == ["-Xms1g"]  # the user's heap wins


def test_command_line_help():
    out = subprocess.run(
        [sys.executable, "-m", "workbook.processor", "--help"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert out.returncode == 0
    for flag in ("--bounded", "--dry-run", "--solutions", "--jobmanager", "--parallelism", "--checkpoint-interval"):
        assert flag in out.stdout


FLINK_SINK_MISMATCH = """An error occurred while calling o139.explainSql.
: org.apache.flink.table.api.ValidationException: Column types of query result and sink for \
'default_catalog.default_database.candlesticks' do not match.
Cause: Incompatible types for sink column 'num_trades' at position 9.

Query schema: [window_start: TIMESTAMP(3) NOT NULL, window_end: TIMESTAMP(3) NOT NULL, currency_pair: STRING, \
EXPR$3: DECIMAL(10, 2), EXPR$4: DOUBLE, EXPR$5: DOUBLE, EXPR$6: DOUBLE, EXPR$7: DOUBLE, EXPR$8: DOUBLE, \
EXPR$9: BIGINT NOT NULL]
Sink schema:  [ts_start: TIMESTAMP(3), ts_end: TIMESTAMP(3), currency_pair: STRING, price_avg: DOUBLE, \
price_open: DOUBLE, price_min: DOUBLE, price_max: DOUBLE, price_close: DOUBLE, volume: DOUBLE, num_trades: INT]
\tat org.apache.flink.table.planner..."""


def test_a_sink_mismatch_names_the_column_and_the_cast():
    from workbook.pipeline.errors import flink_message, mismatched_sink, sink_mismatch

    assert mismatched_sink(FLINK_SINK_MISMATCH) == "candlesticks"
    said = "num_trades (column 10) is BIGINT, the table candlesticks wants INT: CAST(... AS INT) AS num_trades"
    assert sink_mismatch(FLINK_SINK_MISMATCH) == said
    assert said in flink_message(Exception(FLINK_SINK_MISMATCH))  # the processor's message says it too
    fewer = FLINK_SINK_MISMATCH.replace("Incompatible types for sink column 'num_trades' at position 9", "Different")
    assert sink_mismatch(fewer).startswith("your query has 10 columns, the table candlesticks has 10: ts_start")
    assert sink_mismatch("Column 'x' not found") is None and mismatched_sink("Column 'x' not found") is None


@pytest.mark.parametrize(
    ("statement", "target"),
    [
        ("DROP TEMPORARY VIEW valid_trades", "valid_trades"),
        ("drop view if exists `Valid_Trades`;", "valid_trades"),
        ("-- a comment\nDROP TABLE default_catalog.default_database.trades", "trades"),
        ("CREATE OR REPLACE TEMPORARY VIEW checked_trades AS SELECT 1", "checked_trades"),
        ("CREATE TEMPORARY TABLE IF NOT EXISTS candlesticks (a INT)", "candlesticks"),
        ("ALTER TABLE trades SET ('scan.startup.mode' = 'latest-offset')", "trades"),
        ("CREATE FUNCTION f AS 'x.Y'", None),
        ("SELECT * FROM valid_trades", None),
        ("USE other", None),
    ],
)
def test_ddl_target_names_the_table_or_view_a_statement_creates_drops_or_changes(statement, target):
    assert sql_files.ddl_target(statement) == target

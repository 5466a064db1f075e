"""The Flink SQL client of the wheel over the unchanged sql/ files: run non-interactively
(-f) against the sample dataset in a topic of this test, its output checked."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workbook import kafka
from workbook.course import datasets
from workbook.pipeline import sql_client, sql_files

pytestmark = pytest.mark.integration
TOPIC = "workbook-test-sql-client"


@pytest.fixture(scope="module")
def sample_topic(stack):
    trades = datasets.sample_trades(minutes=2)
    kafka.fill_topic(stack.kafka_bootstrap_servers, TOPIC, trades, 1)
    return sum(1 for t in trades if (t["base"], t["quote"]) == ("bitcoin", "tether"))


def test_init_script_is_the_sql_files_filled_in(config, sample_topic):
    script = sql_client.init_script(config, TOPIC, bounded=True)
    assert not re.search(r"\$\{[A-Z_]+\}", script) and f"'topic' = '{TOPIC}'" in script
    assert "CREATE TEMPORARY VIEW valid_trades" in script and "'connector' = 'jdbc'" in script
    assert "INSERT INTO" not in script
    assert "'scan.bounded.specific-offsets' = 'partition:0,offset:" in script  # the true end, not latest-offset


def test_init_script_runs_unchanged_in_flink_sql(config, sample_topic):
    """The generated script, statement by statement as the client runs it, in a PyFlink TableEnvironment
    (the same planner the SQL client uses): the views answer the client test's query right."""
    from workbook.pipeline.flink_env import create_table_env

    t_env = create_table_env(pipeline_name="sql client script test")
    for _, statement in sql_files.split_statements(sql_client.init_script(config, TOPIC, bounded=True)):
        text = sql_files.strip_sql(sql_files.strip_comments(statement))
        if text.upper().startswith("SET "):
            key, value = re.match(r"SET\s+'([^']+)'\s*=\s*'([^']*)'", text).groups()
            t_env.get_config().set(key, value)
        else:
            t_env.execute_sql(text)
    rows = list(
        t_env.execute_sql(
            "SELECT currency_pair, COUNT(*) AS n FROM valid_trades "
            "WHERE currency_pair = 'bitcoin / tether' GROUP BY currency_pair"
        ).collect()
    )
    assert [tuple(r) for r in rows][-1] == ("bitcoin / tether", sample_topic)


def test_missing_gateway_jar_is_a_clear_error(tmp_path):
    env = dict(__import__("os").environ, FLINK_SQL_GATEWAY_JAR=str(tmp_path / "absent.jar"))
    out = subprocess.run(
        [sys.executable, "-m", "workbook", "sql", "-f", str(tmp_path / "q.sql")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 1 and "FLINK_SQL_GATEWAY_JAR=" in out.stderr and "no such file" in out.stderr
    assert "Traceback" not in out.stderr


def test_sql_client_selects_from_valid_trades(stack, tmp_path, sample_topic):
    try:
        sql_client.gateway_jar(stack.workbook_state_dir)
    except sql_client.SqlClientError as exc:
        pytest.skip(f"the SQL client cannot start here: {exc}")
    script = tmp_path / "q.sql"
    script.write_text(
        "SELECT currency_pair, COUNT(*) AS n FROM valid_trades "
        "WHERE currency_pair = 'bitcoin / tether' GROUP BY currency_pair;\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "workbook", "sql", "--topic", TOPIC, "--bounded", "-f", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "bitcoin / tether" in out.stdout and f"{sample_topic} |" in out.stdout, out.stdout[-3000:]

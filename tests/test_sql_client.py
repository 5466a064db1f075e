"""The Flink SQL client of the wheel over the unchanged sql/ files: run non-interactively
(-f) against the sample dataset in a topic of this test, its output checked."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workbook import kafka
from workbook.course import datasets
from workbook.pipeline import sql_client

pytestmark = pytest.mark.integration
TOPIC = "workbook-test-sql-client"


def test_init_script_is_the_sql_files_filled_in(config):
    script = sql_client.init_script(config, TOPIC, bounded=True)
    assert not re.search(r"\$\{[A-Z_]+\}", script) and f"'topic' = '{TOPIC}'" in script
    assert "CREATE TEMPORARY VIEW valid_trades" in script and "'connector' = 'jdbc'" in script
    assert "INSERT INTO" not in script


def test_sql_client_selects_from_valid_trades(stack, tmp_path):
    try:
        sql_client.gateway_jar(stack.workbook_state_dir)
    except sql_client.SqlClientError as exc:
        pytest.skip(f"the SQL client cannot start here: {exc}")
    trades = datasets.sample_trades(minutes=2)
    kafka.fill_topic(stack.kafka_bootstrap_servers, TOPIC, trades, 1)
    script = tmp_path / "q.sql"
    script.write_text("SELECT currency_pair, COUNT(*) AS n FROM valid_trades "
                      "WHERE currency_pair = 'bitcoin / tether' GROUP BY currency_pair;\n")
    out = subprocess.run([sys.executable, "-m", "workbook", "sql", "--topic", TOPIC, "--bounded", "-f", str(script)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    expected = sum(1 for t in trades if (t["base"], t["quote"]) == ("bitcoin", "tether"))
    assert "bitcoin / tether" in out.stdout and f"{expected} |" in out.stdout, out.stdout[-3000:]

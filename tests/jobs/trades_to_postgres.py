"""A small PyFlink job for the stack tests: JSON trades from a Kafka topic,
bounded at given offsets, counted per currency pair and upserted into a
PostgreSQL table through the JDBC connector. Runs the same in-process
(MiniCluster) and with `flink run -py` on a session cluster."""

import argparse

from pyflink.table import EnvironmentSettings, TableEnvironment

parser = argparse.ArgumentParser()
for name in ("bootstrap", "topic", "offsets", "jdbc-url", "user", "password", "table"):
    parser.add_argument(f"--{name}", required=True)
a = parser.parse_args()

t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
t_env.get_config().set("table.local-time-zone", "UTC")
t_env.execute_sql(f"""
CREATE TABLE trades (
  base STRING, quote STRING, direction STRING, price DOUBLE, volume DOUBLE, `timestamp` BIGINT
) WITH (
  'connector' = 'kafka', 'topic' = '{a.topic}', 'properties.bootstrap.servers' = '{a.bootstrap}',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = '{a.offsets}',
  'format' = 'json'
)""")
t_env.execute_sql(f"""
CREATE TABLE sink (
  currency_pair STRING, num_trades BIGINT, volume DOUBLE, PRIMARY KEY (currency_pair) NOT ENFORCED
) WITH (
  'connector' = 'jdbc', 'url' = '{a.jdbc_url}', 'table-name' = '{a.table}',
  'username' = '{a.user}', 'password' = '{a.password}'
)""")
t_env.execute_sql("""
INSERT INTO sink
SELECT base || ' / ' || quote, COUNT(*), SUM(volume) FROM trades GROUP BY base, quote
""").wait()

-- SINK: the PostgreSQL table late_trades: per window and pair, the trades that arrived
-- after their window had fired (so they are missing from candlesticks/volumes).
CREATE TABLE late_trades (
  ts_start      TIMESTAMP(3),
  ts_end        TIMESTAMP(3),
  currency_pair STRING,
  num_trades    INT,
  volume        DOUBLE,
  PRIMARY KEY (ts_start, ts_end, currency_pair) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = '${JDBC_URL}',
  'table-name' = 'late_trades',
  'username' = '${POSTGRES_USER}',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.buffer-flush.interval' = '200ms',
  'sink.buffer-flush.max-rows' = '10000'
)

-- SINK: the PostgreSQL table volumes (Exercise 2), upserts on the primary key.
CREATE TABLE volumes (
  ts_start      TIMESTAMP(3),
  ts_end        TIMESTAMP(3),
  currency_pair STRING,
  volume_buy    DOUBLE,
  volume_sell   DOUBLE,
  PRIMARY KEY (ts_start, ts_end, currency_pair) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = '${JDBC_URL}',
  'table-name' = 'volumes',
  'username' = '${POSTGRES_USER}',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.buffer-flush.interval' = '200ms',
  'sink.buffer-flush.max-rows' = '10000'
)

-- SINK: the PostgreSQL table candlesticks (sql/postgres/01_tables.sql), through JDBC.
-- With a PRIMARY KEY the connector writes upserts (INSERT ... ON CONFLICT DO UPDATE):
-- writing the same window twice leaves one row, so re-running the job is harmless.
-- Timestamps are TIMESTAMP(3) in UTC (the processor sets table.local-time-zone = UTC);
-- PostgreSQL stores them as TIMESTAMP WITH TIME ZONE.
CREATE TABLE candlesticks (
  ts_start      TIMESTAMP(3),
  ts_end        TIMESTAMP(3),
  currency_pair STRING,
  price_avg     DOUBLE,
  price_open    DOUBLE,
  price_min     DOUBLE,
  price_max     DOUBLE,
  price_close   DOUBLE,
  volume        DOUBLE,
  num_trades    INT,
  PRIMARY KEY (ts_start, ts_end, currency_pair) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = '${JDBC_URL}',
  'table-name' = 'candlesticks',
  'username' = '${POSTGRES_USER}',
  'password' = '${POSTGRES_PASSWORD}',
  -- write buffered rows every 200 ms (windows show up in PostgreSQL quickly), or when
  -- 10000 changes are buffered (several changes of one key are reduced to the last one)
  'sink.buffer-flush.interval' = '200ms',
  'sink.buffer-flush.max-rows' = '10000'
)

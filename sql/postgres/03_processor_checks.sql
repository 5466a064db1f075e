-- What the Flink processor could not put into candlesticks and volumes (JDBC upserts on
-- the primary key, like the result tables). Plain tables: a few rows, no hypertables.

-- Trades that arrived after the watermark had passed them: missing from their window.
CREATE TABLE IF NOT EXISTS late_trades (
  ts_start      TIMESTAMP(3) WITH TIME ZONE NOT NULL,
  ts_end        TIMESTAMP(3) WITH TIME ZONE NOT NULL,
  currency_pair VARCHAR NOT NULL,
  num_trades    INTEGER,                          -- late trades of this window and pair
  volume        DOUBLE PRECISION,                 -- their total volume
  PRIMARY KEY (ts_start, ts_end, currency_pair)
);

-- Records of the topic that are not valid trades, per Kafka partition and problem:
-- 'not a JSON object', 'missing field or wrong type', 'timestamp out of range',
-- 'timestamp ahead of the clock', 'empty base or quote', 'price or volume not a finite number',
-- 'price or volume not positive', 'price, volume or their product above 1e300', 'unknown direction'
-- (sql/20_checked_trades.sql, sql/44_unreadable_records.sql).
CREATE TABLE IF NOT EXISTS bad_records (
  kafka_partition INTEGER NOT NULL,
  problem         VARCHAR NOT NULL,
  num_records     BIGINT,
  last_offset     BIGINT,                         -- offset of the latest such record
  PRIMARY KEY (kafka_partition, problem)
);

-- Result tables written by the Flink processor (JDBC upserts on the primary key).
-- Run by `python -m workbook up` on the embedded PostgreSQL and mounted into
-- /docker-entrypoint-initdb.d by docker-compose.yml: the same DDL for both stacks.

CREATE TABLE IF NOT EXISTS candlesticks (
  ts_start      TIMESTAMP(3) WITH TIME ZONE NOT NULL,
  ts_end        TIMESTAMP(3) WITH TIME ZONE NOT NULL,
  currency_pair VARCHAR NOT NULL,                -- 'base / quote', e.g. 'bitcoin / tether'
  price_avg     DOUBLE PRECISION,                -- volume-weighted average price
  price_open    DOUBLE PRECISION,                -- earliest trade by event time
  price_min     DOUBLE PRECISION,
  price_max     DOUBLE PRECISION,
  price_close   DOUBLE PRECISION,                -- latest trade by event time
  volume        DOUBLE PRECISION,                -- total base units traded
  num_trades    INTEGER,
  PRIMARY KEY (ts_start, ts_end, currency_pair)
);

-- Exercise 2 of the original lab, exactly as there.
CREATE TABLE IF NOT EXISTS volumes (
  ts_start      TIMESTAMP(3) WITH TIME ZONE,
  ts_end        TIMESTAMP(3) WITH TIME ZONE,
  currency_pair VARCHAR,
  volume_buy    DOUBLE PRECISION,
  volume_sell   DOUBLE PRECISION,
  PRIMARY KEY (ts_start, ts_end, currency_pair)
);

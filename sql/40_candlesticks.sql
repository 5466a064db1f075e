-- CANDLESTICKS: per 1-minute window and currency pair, the price movement.
-- TUMBLE(...) assigns each trade to the window [window_start, window_end) containing ts
-- (a trade at 12:01:00.000 belongs to [12:01, 12:02)). A window's row is written once
-- the watermark passes window_end.
-- Open and close are the prices of the earliest and the latest trade by event time (ties
-- on the same millisecond: Kafka partition, then offset); order_key is explained in
-- 21_valid_trades.sql.
INSERT INTO candlesticks
SELECT
  window_start                              AS ts_start,
  window_end                                AS ts_end,
  currency_pair,
  SUM(price * volume) / SUM(volume)         AS price_avg,    -- volume-weighted average
  CAST(SPLIT_INDEX(MIN(order_key), '|', 3) AS DOUBLE) AS price_open,   -- earliest trade
  MIN(price)                                AS price_min,
  MAX(price)                                AS price_max,
  CAST(SPLIT_INDEX(MAX(order_key), '|', 3) AS DOUBLE) AS price_close,  -- latest trade
  SUM(volume)                               AS volume,
  CAST(COUNT(*) AS INT)                     AS num_trades
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, currency_pair

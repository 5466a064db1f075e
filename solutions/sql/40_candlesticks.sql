-- EXERCISE candlesticks (solution, the processor's statement): per 1-minute window and pair.
-- Any query that takes open/close by event time passes the check; this is the fast one.
-- valid_trades.order_key is 'timestamp|partition|offset|price' with fixed-width numbers, so
-- the smallest key (as text) is the earliest trade by event time, ties broken by Kafka
-- partition and offset, and the largest the latest. MIN/MAX of one column are plain
-- aggregates that a window keeps as a single value (no buffered rows, no sort, no join):
-- the 4th part of the key is that trade's price.
INSERT INTO candlesticks
SELECT
  window_start                                        AS ts_start,
  window_end                                          AS ts_end,
  currency_pair,
  SUM(price * volume) / SUM(volume)                   AS price_avg,
  CAST(SPLIT_INDEX(MIN(order_key), '|', 3) AS DOUBLE) AS price_open,
  MIN(price)                                          AS price_min,
  MAX(price)                                          AS price_max,
  CAST(SPLIT_INDEX(MAX(order_key), '|', 3) AS DOUBLE) AS price_close,
  SUM(volume)                                         AS volume,
  CAST(COUNT(*) AS INT)                               AS num_trades
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, currency_pair

-- Notebook 4 (solution): candlesticks with open/close by EVENT time.
-- MIN/MAX of valid_trades.order_key (timestamp | partition | offset | price) pick the
-- earliest/latest trade of the window; SPLIT_INDEX(..., '|', 3) takes its price.
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

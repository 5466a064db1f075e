-- EXERCISE candle_stats (solution): per 1-minute tumbling window and pair, without open/close.
SELECT
  window_start                      AS ts_start,
  window_end                        AS ts_end,
  currency_pair,
  MIN(price)                        AS price_min,
  MAX(price)                        AS price_max,
  SUM(price * volume) / SUM(volume) AS price_avg,
  SUM(volume)                       AS volume,
  COUNT(*)                          AS num_trades
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, currency_pair

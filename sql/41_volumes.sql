-- EXERCISE 2 (TODO): VOLUMES bought and sold, per 1-minute window and currency pair.
--   volume_buy   total `volume` of the trades with direction = 'buy'
--   volume_sell  total `volume` of the trades with direction = 'sell'
-- Until you complete it, this query writes NULL volumes (the processor warns about it).
-- Hint: 40_candlesticks.sql has the window; a conditional sum is
--   SUM(CASE WHEN <condition> THEN <value> ELSE <other value> END)
INSERT INTO volumes
SELECT
  window_start               AS ts_start,
  window_end                 AS ts_end,
  currency_pair,
  CAST(NULL AS DOUBLE)       AS volume_buy,    -- TODO
  CAST(NULL AS DOUBLE)       AS volume_sell    -- TODO
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, currency_pair

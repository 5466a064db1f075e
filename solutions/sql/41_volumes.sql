-- EXERCISE 2 (solution): VOLUMES bought and sold, per 1-minute window and currency pair.
--   volume_buy   total `volume` of the trades with direction = 'buy'
--   volume_sell  total `volume` of the trades with direction = 'sell'
-- A window without buys (or sells) gets 0.
INSERT INTO volumes
SELECT
  window_start                                           AS ts_start,
  window_end                                             AS ts_end,
  currency_pair,
  SUM(CASE WHEN direction = 'buy'  THEN volume ELSE 0 END) AS volume_buy,
  SUM(CASE WHEN direction = 'sell' THEN volume ELSE 0 END) AS volume_sell
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, currency_pair

SELECT
  b.currency_pair,
  b.ts AS buy_ts,
  CAST(s.ts AS TIMESTAMP_LTZ(3)) AS sell_ts,
  b.price AS buy_price,
  s.price AS sell_price
FROM valid_trades AS b
JOIN valid_trades AS s
  ON b.currency_pair = s.currency_pair
 AND s.ts BETWEEN b.ts - INTERVAL '2' SECOND AND b.ts + INTERVAL '2' SECOND
WHERE b.direction = 'buy' AND s.direction = 'sell'

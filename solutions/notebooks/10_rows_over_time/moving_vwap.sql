SELECT currency_pair, ts, price,
       SUM(price * volume) OVER w / SUM(volume) OVER w AS vwap
FROM valid_trades
WINDOW w AS (
  PARTITION BY currency_pair
  ORDER BY ts
  RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW
)

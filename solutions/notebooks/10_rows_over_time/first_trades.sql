SELECT currency_pair, direction, price, volume, ts
FROM (
  SELECT *,
         ROW_NUMBER() OVER (PARTITION BY currency_pair, direction, price, volume, ts ORDER BY ts) AS copy
  FROM valid_trades
)
WHERE copy = 1

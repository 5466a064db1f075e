SELECT t.currency_pair, t.ts, t.price,
       t.price * r.rate_usd AS price_usd
FROM valid_trades AS t
JOIN rates_versioned FOR SYSTEM_TIME AS OF t.ts AS r
  ON SPLIT_INDEX(t.currency_pair, ' / ', 1) = r.asset

SELECT t.currency_pair, t.ts, t.price, a.symbol, a.category
FROM (SELECT *, PROCTIME() AS proc_time FROM valid_trades) AS t
LEFT JOIN assets FOR SYSTEM_TIME AS OF t.proc_time AS a
  ON SPLIT_INDEX(t.currency_pair, ' / ', 0) = a.asset

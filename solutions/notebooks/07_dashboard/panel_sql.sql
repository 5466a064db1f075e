SELECT
  $__timeGroupAlias(ts_start, '1m'),
  MAX(price_max) - MIN(price_min) AS price_range
FROM candlesticks
WHERE $__timeFilter(ts_start)
  AND currency_pair = '${currency_pair}'
GROUP BY 1
ORDER BY 1

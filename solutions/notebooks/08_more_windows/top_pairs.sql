SELECT window_start, window_end, currency_pair, volume, pair_rank
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY volume DESC) AS pair_rank
  FROM (
    SELECT window_start, window_end, currency_pair, SUM(volume) AS volume
    FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
    GROUP BY window_start, window_end, currency_pair
  )
)
WHERE pair_rank <= 3

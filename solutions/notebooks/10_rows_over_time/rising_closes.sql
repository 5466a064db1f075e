WITH closes AS (
  SELECT currency_pair, window_start, window_end, window_time,
         CAST(SPLIT_INDEX(MAX(order_key), '|', 3) AS DOUBLE) AS price_close
  FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY currency_pair, window_start, window_end, window_time
)
SELECT *
FROM closes
  MATCH_RECOGNIZE (
    PARTITION BY currency_pair
    ORDER BY window_time
    MEASURES
      A.window_start AS first_start,
      C.window_end AS last_end,
      A.price_close AS first_close,
      C.price_close AS last_close
    ONE ROW PER MATCH
    AFTER MATCH SKIP TO NEXT ROW
    PATTERN (A B C)
    DEFINE
      B AS B.price_close > A.price_close,
      C AS C.price_close > B.price_close
  )

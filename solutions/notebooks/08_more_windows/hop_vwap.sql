SELECT window_start, window_end, currency_pair,
       SUM(price * volume) / SUM(volume) AS vwap
FROM TABLE(HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTES))
GROUP BY window_start, window_end, currency_pair

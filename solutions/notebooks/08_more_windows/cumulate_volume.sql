SELECT window_start, window_end, currency_pair, SUM(volume) AS volume
FROM TABLE(CUMULATE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR))
GROUP BY window_start, window_end, currency_pair

-- LATE TRADES: trades that arrived after their 1-minute window had fired, counted per window
-- and pair. A window aggregation drops them (that window is written already), so this is a
-- plain GROUP BY on the window the trade belongs to; its rows are updated (upserts) whenever
-- another late trade of the same window arrives.
INSERT INTO late_trades
SELECT
  ts_start,
  ts_start + INTERVAL '1' MINUTE AS ts_end,
  currency_pair,
  CAST(COUNT(*) AS INT)          AS num_trades,
  SUM(volume)                    AS volume
FROM (
  SELECT CAST(FLOOR(ts TO MINUTE) AS TIMESTAMP(3)) AS ts_start, currency_pair, volume
  FROM checked_trades
  WHERE problem IS NULL AND is_late
)
GROUP BY ts_start, currency_pair

-- VIEW checked_trades: every record Flink could read as JSON, with what is wrong with it.
--   problem  NULL for a good trade, else why it is rejected (counted in bad_records)
--   is_late  TRUE when the trade is at or behind the watermark when it arrives: its window
--            may already be written, so it is counted in late_trades instead
-- CURRENT_WATERMARK(ts) is the watermark at the moment this record is processed
-- (NULL before the first watermark).
CREATE TEMPORARY VIEW checked_trades AS
SELECT
  base || ' / ' || quote AS currency_pair,   -- e.g. 'bitcoin / tether' (spaces included)
  direction,
  price,
  volume,
  `timestamp`,
  ts,
  kafka_partition,
  kafka_offset,
  CASE
    WHEN base IS NULL OR quote IS NULL OR direction IS NULL
      OR price IS NULL OR volume IS NULL OR `timestamp` IS NULL
      THEN 'missing field or wrong type'
    WHEN `timestamp` < 1000000000000 OR `timestamp` > 9999999999999
      THEN 'timestamp out of range'   -- not milliseconds of 2001..2286 (seconds, maybe?)
    WHEN price <= 0 OR volume <= 0
      THEN 'price or volume not positive'
    WHEN direction NOT IN ('buy', 'sell')
      THEN 'unknown direction'
  END AS problem,
  COALESCE(ts <= CURRENT_WATERMARK(ts), FALSE) AS is_late
FROM trades

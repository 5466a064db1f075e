-- VIEW checked_trades: every record Flink could read as JSON, with what is wrong with it.
--   problem  NULL for a good trade, else why it is rejected (counted in bad_records)
--   is_late  TRUE when the trade's 1-minute window had already fired when it arrived: the
--            watermark had reached the window's last millisecond (its end - 1 ms). Flink's
--            window aggregation drops such a trade (it counts one that is behind the
--            watermark in a window still open); the processor counts it in late_trades.
-- CURRENT_WATERMARK(ts) is the watermark at the moment this record is processed
-- (NULL before the first watermark). Windows are aligned to minutes of event time.
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
    WHEN ts IS NULL
      THEN 'timestamp ahead of the clock'   -- see ts in 10_trades.sql
    WHEN TRIM(base) = '' OR TRIM(quote) = ''
      THEN 'empty base or quote'
    -- x * 0 is 0 for every finite number, NaN for Infinity and NaN (1e400 in the JSON is read
    -- as Infinity, "NaN" as NaN; NaN would pass every comparison below)
    WHEN price * 0 <> 0 OR volume * 0 <> 0
      THEN 'price or volume not a finite number'
    WHEN price <= 0 OR volume <= 0
      THEN 'price or volume not positive'
    -- up to 1e300 per trade, the sums of a window (SUM(volume), SUM(price * volume)) cannot
    -- overflow to Infinity
    WHEN price > 1E300 OR volume > 1E300 OR price * volume > 1E300
      THEN 'price, volume or their product above 1e300'
    WHEN direction NOT IN ('buy', 'sell')
      THEN 'unknown direction'
  END AS problem,
  COALESCE(CURRENT_WATERMARK(ts) >= FLOOR(ts TO MINUTE) + INTERVAL '1' MINUTE - INTERVAL '0.001' SECOND,
           FALSE) AS is_late
FROM trades

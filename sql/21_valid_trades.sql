-- VIEW valid_trades: the good trades that are not late (their 1-minute window had not fired when
-- they arrived): the input of the window queries, which count every one of them.
--
-- order_key puts the trades of a window in event-time order and carries the price, e.g.
--   '1735689600123|100000|1000000000000004217|97312.5'
--    timestamp ms | partition | offset in the partition | price
-- Every number before the price has a fixed number of digits (timestamps in ms have 13;
-- adding 100000 and 10^18 does for partition and offset what zero-padding would, only
-- faster than LPAD), so comparing two keys as text compares them by timestamp, then
-- partition, then offset: the order in which the exchange reported trades of the same
-- millisecond, so ties are broken deterministically.
-- How the candlestick statement uses it is exercise `candlesticks` (notebook 05).
CREATE TEMPORARY VIEW valid_trades AS
SELECT
  currency_pair,
  direction,
  price,
  volume,
  ts,
  CONCAT(CAST(`timestamp` AS STRING), '|',
         CAST(kafka_partition + 100000 AS STRING), '|',
         CAST(kafka_offset + 1000000000000000000 AS STRING), '|',
         CAST(price AS STRING)) AS order_key
FROM checked_trades
WHERE problem IS NULL AND NOT is_late

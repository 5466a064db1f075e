-- BAD RECORDS (2/2): records that are not a JSON object (not JSON at all, or an array,
-- a number...). Flink skips them without a row
-- ('json.ignore-parse-errors'), but it cannot hide that their offsets are missing: offsets
-- in a partition are consecutive, so between the first and the last offset read, every
-- offset without a row is a record Flink could not read.
-- (Exact for topics without transactions or compaction, like ours. An unreadable record
-- is counted once a readable one after it has been read.)
INSERT INTO bad_records
SELECT
  kafka_partition,
  'not a JSON object'                                        AS problem,
  MAX(kafka_offset) - MIN(kafka_offset) + 1 - COUNT(*)       AS num_records,
  MAX(kafka_offset)                                          AS last_offset  -- counted up to here
FROM trades
GROUP BY kafka_partition

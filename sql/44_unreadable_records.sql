-- BAD RECORDS (2/2): records that are not a JSON object (not JSON at all, or an array,
-- a number...). Flink skips them without a row ('json.ignore-parse-errors'), but it cannot
-- hide that their offsets are missing: offsets in a partition are consecutive, so a gap
-- between one record read and the next one of the same partition is that many records
-- Flink could not read. LAG gives the offset of the previous record read (in the order
-- they are read: PROCTIME()); a row is written only when a gap is found, not per trade.
-- (Exact for topics without transactions or compaction, like ours. An unreadable record is
-- counted once a readable one after it has been read; those before the first and after the
-- last readable record of a partition are counted at the end of a bounded run, by the
-- processor, which knows where the partition starts and ends: workbook/pipeline/edges.py.)
INSERT INTO bad_records
SELECT
  kafka_partition,
  'not a JSON object'         AS problem,
  SUM(skipped)                AS num_records,
  MAX(kafka_offset) - 1       AS last_offset   -- the latest one, to look it up in the topic
FROM (
  SELECT
    kafka_partition,
    kafka_offset,
    kafka_offset - LAG(kafka_offset) OVER (PARTITION BY kafka_partition ORDER BY read_at) - 1 AS skipped
  FROM (SELECT kafka_partition, kafka_offset, PROCTIME() AS read_at FROM trades)
)
WHERE skipped > 0
GROUP BY kafka_partition

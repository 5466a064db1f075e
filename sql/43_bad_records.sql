-- BAD RECORDS (1/2): records that are JSON but not a valid trade, counted per problem.
INSERT INTO bad_records
SELECT
  kafka_partition,
  problem,
  COUNT(*)          AS num_records,
  MAX(kafka_offset) AS last_offset     -- the latest one, to look it up in the topic
FROM checked_trades
WHERE problem IS NOT NULL
GROUP BY kafka_partition, problem

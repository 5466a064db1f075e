-- SINK: the PostgreSQL table bad_records: how many records of each Kafka partition were
-- rejected, and why. They never stop the job; look here when numbers seem to be missing.
CREATE TABLE bad_records (
  kafka_partition INT,
  problem         STRING,
  num_records     BIGINT,
  last_offset     BIGINT,
  PRIMARY KEY (kafka_partition, problem) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = '${JDBC_URL}',
  'table-name' = 'bad_records',
  'username' = '${POSTGRES_USER}',
  'password' = '${POSTGRES_PASSWORD}',
  'sink.buffer-flush.interval' = '200ms',
  'sink.buffer-flush.max-rows' = '10000'
)

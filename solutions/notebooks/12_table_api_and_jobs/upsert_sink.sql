CREATE TABLE pair_direction_counts (
  currency_pair STRING,
  direction     STRING,
  num_trades    BIGINT,
  PRIMARY KEY (currency_pair, direction) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'pair-direction-counts',
  'properties.bootstrap.servers' = '127.0.0.1:29092',
  'key.format' = 'json',
  'value.format' = 'json'
)

-- SOURCE: the Kafka topic of USD rates, which the producer writes beside the trades: one JSON record
-- when an asset's rate changes, and at least every 5 s per asset, e.g.
--   {"asset":"bitcoin","rate_usd":93012.5,"timestamp":1735689600000}
-- rate_usd: what one unit of the asset is worth in US dollars at that time (USD itself: 1).
-- Nothing of the processor's job reads it (a source no INSERT reads is never started): it is the right
-- side of notebook 11's temporal join (rates_versioned, 26_rates_versioned.sql). Numbered after the
-- trades' views, so trades, checked_trades and valid_trades stay the first statements.
CREATE TABLE rates (
  asset       STRING,           -- e.g. 'bitcoin', 'tether', 'euro' (the ids of the trades' base and quote)
  rate_usd    DOUBLE,           -- US dollars per unit of the asset
  `timestamp` BIGINT,           -- since when the rate holds: milliseconds since 1970-01-01 UTC
  ts AS TO_TIMESTAMP_LTZ(`timestamp`, 3),
  -- EVENT TIME, as the trades': the rates come in order, the watermark trails the newest by 5 s
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '${KAFKA_RATES_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP_SERVERS}',
  'scan.startup.mode' = 'earliest-offset',
  'scan.watermark.emit.strategy' = 'on-event',
  'scan.watermark.idle-timeout' = '5 s',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
)

-- SOURCE: the Kafka topic of trades, one JSON record per trade, e.g.
--   {"exchange":"bitso","base":"xrp","quote":"tether","direction":"buy","price":0.6174,
--    "volume":180,"timestamp":1651686997237,"priceUsd":0.6178606418423568}
-- ${...} are filled in from the configuration (.env) when the processor runs.
CREATE TABLE trades (
  -- Only the fields the queries use are declared: Flink does not decode the others
  -- ("exchange", "priceUsd"), which saves time when replaying a large topic.
  base        STRING,           -- the currency bought or sold, e.g. 'bitcoin'
  quote       STRING,           -- the currency paid with, e.g. 'tether'
  direction   STRING,           -- 'buy' or 'sell'
  price       DOUBLE,           -- quote units per base unit
  volume      DOUBLE,           -- base units traded
  `timestamp` BIGINT,           -- when the trade happened: milliseconds since 1970-01-01 UTC
  -- Where the record is stored in Kafka (metadata, not part of the JSON). The producer
  -- sends all trades of a pair to one partition, so the offset is the order in which the
  -- exchange reported them: it breaks ties between trades of the same millisecond.
  kafka_partition INT    METADATA FROM 'partition' VIRTUAL,
  kafka_offset    BIGINT METADATA FROM 'offset' VIRTUAL,
  -- EVENT TIME: when the trade happened, not when Flink reads it. A trade more than
  -- ${MAX_AHEAD_SECONDS} s ahead of this machine's clock when it is read (a wrong clock, a typo: a year
  -- ahead) gets none (NULL): as event time it would move the watermark that far ahead and make
  -- every later trade late. A NULL event time does not move the watermark; 20_checked_trades.sql
  -- counts the trade in bad_records ('timestamp ahead of the clock'). Past trades are all fine.
  ts AS CASE WHEN `timestamp` <= (UNIX_TIMESTAMP() + ${MAX_AHEAD_SECONDS}) * 1000
             THEN TO_TIMESTAMP_LTZ(`timestamp`, 3) END,
  -- WATERMARK: "no trade older than this will come any more". It trails the newest
  -- timestamp read by 5 seconds, so trades may arrive up to 5 s out of order. A 1-minute
  -- window fires (its row is written) when the watermark reaches its last millisecond;
  -- a trade that arrives after its window fired is LATE: a window aggregation drops it,
  -- and the processor counts it in late_trades (20_checked_trades.sql). A trade behind the
  -- watermark whose window is still open is counted as usual.
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '${KAFKA_TOPIC}',
  'properties.bootstrap.servers' = '${KAFKA_BOOTSTRAP_SERVERS}',
  -- read the whole topic (10 minutes of retention): results are upserts, re-reading is
  -- harmless (except that after a restart the oldest window may lack trades that the
  -- retention already deleted)
  'scan.startup.mode' = 'earliest-offset',
  -- move the watermark after every record (default: every 200 ms), so which trades are
  -- late depends only on the order of the records in the topic, not on timing
  'scan.watermark.emit.strategy' = 'on-event',
  -- a partition without records for 5 s does not hold the watermark back
  'scan.watermark.idle-timeout' = '5 s',
  'format' = 'json',
  -- a record that is not JSON is skipped, a field of the wrong type becomes NULL:
  -- bad records never stop the job (see 20_checked_trades.sql for how they are counted)
  'json.ignore-parse-errors' = 'true',
  -- fetch in large chunks (replays of a full topic), and ask again after at most
  -- 100 ms when there is nothing new (streaming)
  'properties.max.partition.fetch.bytes' = '8388608',
  'properties.fetch.max.bytes' = '67108864',
  'properties.fetch.max.wait.ms' = '100'
)

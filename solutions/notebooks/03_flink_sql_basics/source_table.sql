CREATE TABLE trades (
  base STRING, quote STRING, direction STRING, price DOUBLE, volume DOUBLE, `timestamp` BIGINT,
  ts AS TO_TIMESTAMP_LTZ(`timestamp`, 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'workbook-sample', 'properties.bootstrap.servers' = '127.0.0.1:29092',
        'scan.startup.mode' = 'earliest-offset', 'format' = 'json')

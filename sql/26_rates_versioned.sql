-- VIEW rates_versioned: the rates as a VERSIONED table: for each asset (its key) the rate that holds at any
-- moment of event time: the last record of the asset with a time up to then. A deduplication keeping the
-- last row per key, ordered by the event time, is what Flink takes as one: its key (asset) becomes the
-- view's primary key, ts its version time. The right side of an event-time temporal join:
--   ... JOIN rates_versioned FOR SYSTEM_TIME AS OF t.ts AS r ON ... = r.asset
CREATE TEMPORARY VIEW rates_versioned AS
SELECT asset, rate_usd, ts
FROM (
  SELECT asset, rate_usd, ts,
         ROW_NUMBER() OVER (PARTITION BY asset ORDER BY ts DESC) AS row_num
  FROM rates
)
WHERE row_num = 1

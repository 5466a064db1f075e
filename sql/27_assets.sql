-- LOOKUP TABLE: the PostgreSQL table assets (sql/postgres/04_assets.sql), one row per asset, read through
-- JDBC. A query does not scan it: a lookup join (notebook 11, exercise trade_assets) asks PostgreSQL for
-- the row of one key when a trade needs it,
--   ... LEFT JOIN assets FOR SYSTEM_TIME AS OF t.proc_time AS a ON ... = a.asset
-- (proc_time: a PROCTIME() column of the trades), so it sees the table as it is when the trade is processed.
-- Nothing of the processor's job reads it.
CREATE TABLE assets (
  asset    STRING,  -- the trades' id of the asset, e.g. 'bitcoin' (base and quote use them)
  symbol   STRING,  -- e.g. 'BTC'
  name     STRING,  -- e.g. 'Bitcoin'
  category STRING,  -- 'cryptocurrency', 'stablecoin' or 'fiat'
  PRIMARY KEY (asset) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = '${JDBC_URL}',
  'table-name' = 'assets',
  'username' = '${POSTGRES_USER}',
  'password' = '${POSTGRES_PASSWORD}',
  -- keep up to 100 looked-up rows (keys found or not) in each task for 10 minutes: a trade of a cached key does
  -- not ask PostgreSQL, and does not see a change of its row until the cached one expires
  'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '100',
  'lookup.partial-cache.expire-after-write' = '10 min',
  'lookup.partial-cache.cache-missing-key' = 'true'
)

-- Reference data: one row per asset, keyed by the id the trades use for base and quote ('bitcoin').
-- Not written by the processor: notebook 11's lookup join (exercise trade_assets) reads it through
-- JDBC (sql/27_assets.sql). Not every traded asset is listed: xrp and dogecoin are missing on purpose
-- (a new listing the reference data does not have yet), so an inner join loses their trades.
-- Run at every `python -m workbook up`: the rows below are put back as they are here (a row changed in
-- PostgreSQL is reset, a row added is kept).

CREATE TABLE IF NOT EXISTS assets (
  asset    VARCHAR PRIMARY KEY,  -- the trades' id of the asset, e.g. 'bitcoin', 'tether', 'euro'
  symbol   VARCHAR NOT NULL,     -- its ticker, e.g. 'BTC'
  name     VARCHAR NOT NULL,     -- e.g. 'Bitcoin'
  category VARCHAR NOT NULL      -- 'cryptocurrency', 'stablecoin' or 'fiat'
);

INSERT INTO assets (asset, symbol, name, category) VALUES
  ('bitcoin', 'BTC', 'Bitcoin', 'cryptocurrency'),
  ('ethereum', 'ETH', 'Ethereum', 'cryptocurrency'),
  ('solana', 'SOL', 'Solana', 'cryptocurrency'),
  ('tether', 'USDT', 'Tether', 'stablecoin'),
  ('usd-coin', 'USDC', 'USD Coin', 'stablecoin'),
  ('euro', 'EUR', 'Euro', 'fiat'),
  ('united-states-dollar', 'USD', 'US Dollar', 'fiat')
ON CONFLICT (asset) DO UPDATE
  SET symbol = EXCLUDED.symbol, name = EXCLUDED.name, category = EXCLUDED.category;

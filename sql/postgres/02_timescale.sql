-- Turn the result tables into TimescaleDB hypertables when the extension is
-- installed (the Docker stack's timescale/timescaledb image). The embedded
-- PostgreSQL has no TimescaleDB: this script then does nothing.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA public;  -- not in a student's schema
    PERFORM create_hypertable('candlesticks', 'ts_start', if_not_exists => TRUE, migrate_data => TRUE);
    PERFORM create_hypertable('volumes', 'ts_start', if_not_exists => TRUE, migrate_data => TRUE);
  END IF;
END
$$;

"""Shared helpers of the real-time crypto trade workbook: configuration, the
embedded stack (Java, broker, PostgreSQL, Flink cluster), the Flink
environment, exercise checks and charts."""

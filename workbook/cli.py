"""`python -m workbook` (the `workbook` command): `up | down | status | logs` control the embedded stack
(workbook.stack.cli); `sql` opens the Flink SQL client over sql/ (workbook.pipeline.sql_client)."""

from __future__ import annotations

import argparse
import sys

from .config import stops_on_bad_settings
from .stack import cli as stack_cli


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workbook", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    stack_cli.add_commands(sub)
    sql = sub.add_parser("sql", help="the Flink SQL client with the tables and views of sql/")
    sql.add_argument("-f", "--file", help="run this SQL script and exit (non-interactive)")
    sql.add_argument("--topic", help="the Kafka topic of trades (default: KAFKA_TOPIC of .env)")
    sql.add_argument("--bounded", action="store_true", help="queries stop at the topic's current end")
    sql.set_defaults(run=run_sql)
    return top


def run_sql(args) -> int:
    # deferred on purpose: the pipeline package imports pandas and PyFlink; up/down/status start without them
    from .pipeline import sql_client

    return sql_client.run(args.file, args.topic, args.bounded)


@stops_on_bad_settings
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

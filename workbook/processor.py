"""The Flink processor: trades from Kafka -> Flink SQL (sql/*.sql) -> PostgreSQL.

    python -m workbook.processor [--bounded] [--dry-run] [--solutions]
                                 [--jobmanager HOST:PORT] [--parallelism N]
                                 [--checkpoint-interval SECONDS]
    python -m workbook.processor --stop-with-savepoint [--jobmanager HOST:PORT]
    python -m workbook.processor --from-savepoint PATH|latest [--parallelism N] [--jobmanager HOST:PORT]

- default: a streaming job in an in-process Flink MiniCluster, running the
  statements in sql/ (the student's versions of the exercises); Ctrl-C stops it;
- --solutions: the instructor solutions (solutions/sql/) replace the exercise files;
- --bounded: read the topic from its earliest offsets up to its end offsets as
  they are at start (measured by reading, see workbook/kafka.py) and
  exit when done: replays, tests, CI;
- --dry-run: print the result rows instead of writing PostgreSQL;
- --jobmanager: submit to a Flink session cluster (REST HOST:PORT) instead;
  a streaming job is left running there (stop it in the Flink web UI);
- --stop-with-savepoint: stop the processor's streaming job on the session cluster with a
  savepoint (in the cluster's savepoint folder, .state/savepoints) and print its path;
- --from-savepoint PATH: submit the streaming job again from that savepoint ("latest": the
  newest of the folder), e.g. with another --parallelism: it carries on where it stopped.

Results are JDBC upserts on the tables' primary keys: running the same bounded
job twice leaves the same rows. Endpoints come from .env (workbook/config.py).

A streaming job checkpoints every 10 s (--checkpoint-interval) and restarts from its
last checkpoint after a failure, as often as needed: when PostgreSQL is down, the
processor says so within seconds, waits, and writes the windows of the outage once
it is back. A broker or session cluster that does not answer at start is one message, and so is a
PostgreSQL that does not accept the login of .env (it names POSTGRES_PASSWORD, POSTGRES_USER or POSTGRES_DB).

From Python (notebooks, tests), the same through workbook.pipeline:
    pipeline.run(pipeline.RunOptions(bounded=True))   the whole job, like the command line
    pipeline.query("40_candlesticks", trades)         one query over fixed trades -> DataFrame
"""

from __future__ import annotations

import argparse
import sys

from .config import load_config, stops_on_bad_settings
from .pipeline import ProcessorError, RunOptions, SqlFileError, pipeline_name, run
from .pipeline.cluster_jobs import ClusterJobsError, submission_lock, submit_once
from .pipeline.runner import checkpoint_interval
from .pipeline.savepoints import restart_processor, stop_processor
from .pipeline.watch import (
    check_cluster_reaches_services,
    check_free_slots,
    check_jobmanager,
    check_postgres,
    prepare_schema,
)


@stops_on_bad_settings
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbook.processor",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bounded", action="store_true", help="read the topic from the earliest offsets to its end at start, then exit"
    )
    parser.add_argument("--dry-run", action="store_true", help="print result rows instead of writing PostgreSQL")
    parser.add_argument("--solutions", action="store_true", help="use solutions/ for the exercise files")
    parser.add_argument(
        "--jobmanager",
        metavar="HOST:PORT",
        default=None,
        help="submit to this Flink session cluster (REST API); default FLINK_JOBMANAGER "
        "of .env, empty = in-process MiniCluster",
    )
    parser.add_argument("--local", action="store_true", help="use the MiniCluster even if FLINK_JOBMANAGER is set")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="session cluster: cancel the processor's running streaming job and submit again "
        "(without it, a running one is left alone and nothing is submitted)",
    )
    parser.add_argument("--parallelism", type=int, default=1, metavar="N")
    parser.add_argument(
        "--checkpoint-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="streaming: checkpoint every SECONDS (default 10; 0: no checkpoints, and then a "
        "failure such as PostgreSQL down ends the job instead of restarting it)",
    )
    parser.add_argument("--topic", default=None, help="Kafka topic (default KAFKA_TOPIC of .env)")
    parser.add_argument("--explain", action="store_true", help="print Flink's plan of the job first")
    parser.add_argument(
        "--stop-with-savepoint",
        action="store_true",
        help="session cluster: stop the processor's streaming job with a savepoint and print its path",
    )
    parser.add_argument(
        "--from-savepoint",
        metavar="PATH",
        default=None,
        help="session cluster: submit the streaming job from this savepoint ('latest': the newest one)",
    )
    args = parser.parse_args(argv)
    config = load_config()
    jobmanager = None if args.local else (args.jobmanager if args.jobmanager is not None else config.flink_jobmanager)
    if args.stop_with_savepoint or args.from_savepoint is not None:
        return _savepoint_command(parser, args, config, jobmanager)
    if args.parallelism < 1:
        parser.error("--parallelism must be at least 1")
    try:
        checkpoint_interval(args.checkpoint_interval, args.bounded)
    except ValueError as exc:
        parser.error(f"--checkpoint-interval: {exc}")
    if args.replace and (not jobmanager or args.bounded):
        parser.error("--replace is for a streaming job on a session cluster (--jobmanager HOST:PORT, no --bounded)")
    options = RunOptions(
        bounded=args.bounded,
        dry_run=args.dry_run,
        solutions=args.solutions,
        jobmanager=jobmanager or None,
        parallelism=args.parallelism,
        checkpoint_interval=args.checkpoint_interval,
        topic=args.topic,
        explain=args.explain,
    )
    try:
        if jobmanager and not args.bounded:  # one streaming job per cluster (pipeline/cluster_jobs.py)
            _submit_once(options, config, args.replace)
        else:
            run(options, config)
    except (ProcessorError, SqlFileError, ValueError) as exc:
        print(f"processor: {exc}", file=sys.stderr)
        return 1
    return 0


def _savepoint_command(parser, args, config, jobmanager) -> int:
    """--stop-with-savepoint or --from-savepoint: the session cluster's streaming job (pipeline/savepoints.py)."""
    if args.stop_with_savepoint and args.from_savepoint is not None:
        parser.error("--stop-with-savepoint and --from-savepoint: one at a time (stop first, then start from it)")
    if args.bounded or args.replace or args.dry_run or args.local:
        parser.error(
            "savepoints are for the streaming job on a session cluster: no --bounded, --replace, --dry-run, --local"
        )
    if args.parallelism < 1:
        parser.error("--parallelism must be at least 1")
    address = jobmanager or config.jobmanager_address
    try:
        if args.stop_with_savepoint:
            print(stop_processor(config, address, say=lambda *_: None))
        else:
            restart_processor(
                args.from_savepoint, args.parallelism, config, address, solutions=args.solutions, topic=args.topic
            )
    except (ProcessorError, SqlFileError, ValueError) as exc:
        print(f"processor: {exc}", file=sys.stderr)
        return 1
    return 0


def _submit_once(options: RunOptions, config, replace: bool) -> None:
    """Submit the streaming job unless the cluster runs it already (or replace it): check and submission under
    the cluster's submission lock, so two submitters started together leave one job."""
    check_jobmanager(options.jobmanager)
    # before the lock and before --replace cancels the running job: a job that cannot run is refused first
    check_cluster_reaches_services(options.jobmanager, config, dry_run=options.dry_run)
    if not replace:  # with --replace, the cancelled job's slots count: run() checks after the cancel
        check_free_slots(options.jobmanager, options.parallelism)
    if not options.dry_run:
        check_postgres(config)
        if config.schema:  # shared-cluster mode: the student's tables, before --replace cancels anything
            prepare_schema(config)
    try:
        with submission_lock(config.workbook_state_dir, options.jobmanager):
            if submit_once(options.jobmanager, config.job_name(pipeline_name(False)), replace=replace):
                run(options, config)
    except ClusterJobsError as exc:
        raise ProcessorError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())

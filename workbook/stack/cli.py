"""The subcommands `up | down | status | logs` of `python -m workbook` (workbook/cli.py): control the
embedded stack."""

from __future__ import annotations

import sys

from ..config import load_config
from ..java import JavaError
from . import control as stack
from . import disk, docker, procs
from .ports import PortInUse
from .services import ServiceError


def add_commands(sub) -> None:
    """The stack's subcommands (up, down, status, logs) on an argparse subparsers object."""
    p_up = sub.add_parser(
        "up", help="start the broker and PostgreSQL (idempotent); STACK=docker: check the Docker stack"
    )
    p_up.add_argument("--flink", action="store_true", help="also start a Flink standalone session cluster")
    p_up.add_argument("--stream", action="store_true", help="also start the producer's trade stream into Kafka")
    p_down = sub.add_parser("down", help="stop everything `up` started (PostgreSQL data is kept)")
    p_down.add_argument("--wipe-db", action="store_true", help="also delete the embedded PostgreSQL data")
    sub.add_parser("status", help="each service: state, pid, memory, address, health")
    p_logs = sub.add_parser("logs", help="print log paths and their last lines")
    p_logs.add_argument("service", nargs="?", help="broker, postgres, flink or stream")
    p_logs.add_argument("-n", "--lines", type=int, default=20)
    for name in ("up", "down", "status", "logs"):
        sub.choices[name].set_defaults(run=run)


def run(args) -> int:
    """Run the stack's subcommand `args.command`: its exit status."""
    config = None
    try:
        config = load_config()
        if args.command == "up":
            rows = stack.up(config, flink=args.flink, stream=args.stream)
            if config.stack == "embedded":  # docker, shared: up() said each service already
                print(stack.format_status(rows))
            # docker, shared: a report, never a failure (`make lab` opens JupyterLab; notebook 1 says the rest)
            return 0 if config.stack != "embedded" or all(r.healthy for r in rows) else 1
        if args.command == "down":
            stack.down(config, wipe_db=args.wipe_db)
            return 0
        if args.command == "status":
            rows = stack.status(config)
            warning = docker.embedded_warning(config) if config.stack == "docker" else None
            if warning:
                print(warning)
            print(stack.format_status(rows))
            if config.student_id:  # shared-cluster mode: this student's jobs, not the class's
                print(stack.format_student_jobs(config))
            # what the notebooks need: the embedded broker and PostgreSQL, or the Docker stack's Kafka and PostgreSQL
            core = [r for r in rows if r.name in ("broker", "postgres", *docker.CORE)]
            return 0 if all(r.healthy for r in core) else 3
        if args.command == "logs":
            for svc in stack.services(config):
                if args.service and svc.name != args.service:
                    continue
                paths = sorted(svc.log_path.glob("*.log")) if svc.log_path.is_dir() else [svc.log_path]
                for path in paths:
                    print(f"==> {path} <==")
                    print(procs.tail(path, args.lines))
            return 0
    except (ServiceError, PortInUse, JavaError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the stack's own files (logs, pid files, configuration): a full disk, mostly
        if exc.filename is None and exc.errno not in disk.FULL_ERRNOS:
            raise  # not a file (a socket, ...): not the stack's files, and not to be said as if it were
        print(f"error: {disk.write_error(exc, config and config.workbook_state_dir)}", file=sys.stderr)
        return 2
    return 1

"""The Flink processor: trades from Kafka -> Flink SQL (sql/*.sql) -> PostgreSQL.

    python -m workbook.processor [--bounded] [--dry-run] [--solutions]
                                 [--jobmanager HOST:PORT] [--parallelism N]
                                 [--checkpoint-interval SECONDS]

- default: a streaming job in an in-process Flink MiniCluster, running the
  statements in sql/ (the student's versions of the exercises); Ctrl-C stops it;
- --solutions: the files of solutions/ replace the sql/ files of the same name;
- --bounded: read the topic from its earliest offsets up to its end offsets as
  they are at start (measured by reading, see workbook/kafka_offsets.py) and
  exit when done: replays, tests, CI;
- --dry-run: print the result rows instead of writing PostgreSQL;
- --jobmanager: submit to a Flink session cluster (REST HOST:PORT) instead;
  a streaming job is left running there (stop it in the Flink web UI); if one
  of the same name already runs there, nothing is submitted (exit 0);
- --replace: with --jobmanager, cancel that running job and submit again
  (after editing sql/).

Results are JDBC upserts on the tables' primary keys: running the same bounded
job twice leaves the same rows. Endpoints come from .env (workbook/config.py).

From Python (notebooks, tests):
    run(config, bounded=True)            the whole job, like the command line
    query("40_candlesticks", trades)     one query over a fixed list of trades -> DataFrame
    load_sql("41_volumes")               the text of a statement file
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import sql_files
from .config import Config, load_config
from .sql_files import SqlFileError, load_sql  # noqa: F401  (part of this module's API)

SOURCE_TABLE = "trades"
PIPELINE_NAME = "crypto trades: candlesticks and volumes"


class ProcessorError(RuntimeError):
    pass


def pipeline_name(bounded: bool) -> str:
    """The Flink job's name (the command line finds its running streaming job by it)."""
    return f"{PIPELINE_NAME} ({'bounded' if bounded else 'streaming'})"


# --- the statements -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    path: Path
    text: str
    kind: str   # 'create', 'insert' or 'other'
    name: str   # the table or view created, or the INSERT's target table

    @property
    def is_sink(self) -> bool:
        return self.kind == "create" and sql_files.with_options(self.text).get("connector") == "jdbc"

    @property
    def is_skeleton(self) -> bool:
        return sql_files.is_skeleton(self.text)

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def load_statements(solutions: bool = False) -> list:
    if solutions and not sql_files.SOLUTIONS_DIR.exists():
        raise ProcessorError("--solutions: this is a student release, it has no solutions/ folder")
    out = []
    for path in sql_files.sql_paths(solutions):
        text = path.read_text()
        k = sql_files.kind(text)
        if k == "create":
            name = sql_files.table_name(text)
        elif k == "insert":
            name = sql_files.insert_target(text)
        else:
            raise ProcessorError(f"{path}: expected one CREATE TABLE/VIEW or INSERT INTO statement, "
                                 f"found {sql_files.code_of(text)[:60]!r}")
        out.append(Statement(path, text, k, name))
    return out


def skeleton_warnings(statements) -> list:
    return [f"{s.label} is still an exercise skeleton (it has TODOs): {s.name} gets placeholder values. "
            "Complete it, or run with --solutions." for s in statements if s.kind == "insert" and s.is_skeleton]


def sql_values(config: Config, topic: str | None = None, jdbc_url: str | None = None) -> dict:
    """The values of the ${PLACEHOLDERS} of the SQL files."""
    return {
        "KAFKA_TOPIC": topic or config.kafka_topic,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap_servers,
        "JDBC_URL": jdbc_url or config.jdbc_url,
        "POSTGRES_HOST": config.postgres_host,
        "POSTGRES_PORT": config.postgres_port,
        "POSTGRES_DB": config.postgres_db,
        "POSTGRES_USER": config.postgres_user,
        "POSTGRES_PASSWORD": config.postgres_password,
    }


def jdbc_url_with_schema(config: Config, schema: str) -> str:
    """The JDBC URL with a PostgreSQL schema first on the search path (tests isolate their tables so)."""
    return f"{config.jdbc_url}?currentSchema={schema}"


def define(t_env, statements, values: dict, dry_run: bool = False, end_offsets: dict | None = None) -> list:
    """Run the CREATE statements; return the INSERT statements, rendered, in order.
    With `end_offsets` the source table is bounded right after it is created (a view
    captures the table's options when it is created, so later would be too late)."""
    inserts = []
    for st in statements:
        text = st.text
        if st.kind == "create":
            if dry_run and st.is_sink:
                text = sql_files.as_print_sink(text, st.name)
            try:
                t_env.execute_sql(sql_files.strip_sql(sql_files.render(text, values)))
            except Exception as exc:
                raise ProcessorError(f"{st.label}: {_flink_message(exc)}") from None
            if end_offsets is not None and st.name == SOURCE_TABLE:
                bound_source(t_env, end_offsets)
        else:
            inserts.append((st, sql_files.strip_sql(sql_files.render(text, values))))
    return inserts


def bound_source(t_env, end_offsets: dict, table: str = SOURCE_TABLE) -> None:
    """Make the Kafka source stop at these offsets (a bounded job finishes there)."""
    from .kafka_offsets import specific_offsets_option

    t_env.execute_sql(
        f"ALTER TABLE {table} SET ('scan.bounded.mode' = 'specific-offsets', "
        f"'scan.bounded.specific-offsets' = '{specific_offsets_option(end_offsets)}')")


def _flink_message(exc: BaseException) -> str:
    """The useful part of a Py4J/Flink exception: the first Java exception's message and,
    if it says something else, the root cause's."""
    import re

    text = str(exc)
    found = re.findall(r"^\s*(?:Caused by: |: )?((?:[a-z0-9_]+\.)+[A-Za-z0-9_$]*(?:Exception|Error)): (.+)$",
                       text, re.MULTILINE)
    if not found:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("at ")]
        return "\n  ".join(lines[:6]) if lines else text[:500]
    first, root = found[0][1].strip(), found[-1][1].strip()
    return first if root in first else f"{first}\n  caused by: {root}"


# --- running the job ------------------------------------------------------------------------------

@dataclass
class RunResult:
    job_id: str
    bounded: bool
    dry_run: bool
    jobmanager: str | None
    topic: str
    end_offsets: dict | None = None
    status: str = "RUNNING"
    seconds_to_submit: float = 0.0    # process start of run() -> job submitted (JVM, planning, cluster)
    seconds_total: float = 0.0        # run() start -> job finished (bounded) or left running
    net_runtime_s: float | None = None  # the job's own runtime, from the cluster
    warnings: list = field(default_factory=list)
    job_client: object = field(default=None, repr=False, compare=False)

    @property
    def num_records(self) -> int | None:
        return sum(self.end_offsets.values()) if self.end_offsets is not None else None

    def cancel(self) -> None:
        """Stop a job that was left running (wait=False)."""
        if self.job_client is not None and self.status == "RUNNING":
            try:
                self.job_client.cancel().result()
            finally:
                self.status = "CANCELED"


def run(config: Config | None = None, *, bounded: bool = False, dry_run: bool = False, solutions: bool = False,
        jobmanager: str | None = None, parallelism: int = 1, checkpoint_interval: float | None = None,
        topic: str | None = None, jdbc_url: str | None = None, end_offsets: dict | None = None,
        wait: bool | None = None, explain: bool = False, options: dict | None = None, only=None,
        say=print) -> RunResult:
    """Run the processor. Bounded jobs (and wait=True) return when the job has finished;
    a streaming MiniCluster job runs until Ctrl-C; a streaming job on a session cluster is
    left running (wait=False is the default there). With wait=False the job keeps running
    (in this process for a MiniCluster) and `RunResult.cancel()` stops it. `options`:
    extra Flink configuration. `only`: names of the result tables to fill (e.g.
    ["candlesticks"]); the other INSERT statements are left out."""
    t0 = time.monotonic()
    config = config or load_config()
    topic = topic or config.kafka_topic
    statements = load_statements(solutions)
    if only:
        unknown = set(only) - {s.name for s in statements if s.kind == "insert"}
        if unknown:
            raise ProcessorError(f"only={sorted(unknown)}: no INSERT INTO such a table in sql/")
        statements = [s for s in statements if s.kind != "insert" or s.name in only]
    warnings = skeleton_warnings(statements)
    for w in warnings:
        say(f"WARNING: {w}")
    values = sql_values(config, topic, jdbc_url)
    measuring = _measure_end_offsets(config, topic) if bounded and end_offsets is None else None
    from .flink_env import create_table_env

    t_env = create_table_env(parallelism=parallelism, jobmanager=jobmanager, checkpoint_interval=checkpoint_interval,
                             pipeline_name=pipeline_name(bounded),
                             options=options)
    if measuring is not None:
        end_offsets = measuring()
    table_result = None
    plan_path = None if explain else _plan_path(config, statements, values, dry_run, bounded)
    if plan_path is not None and plan_path.exists():
        table_result = _execute_plan(t_env, plan_path, end_offsets if bounded else None)
    if table_result is None:
        inserts = define(t_env, statements, values, dry_run=dry_run, end_offsets=end_offsets if bounded else None)
        if not inserts:
            raise ProcessorError("no INSERT INTO statement in sql/: nothing to run")
        stmt_set = t_env.create_statement_set()
        for st, text in inserts:
            try:
                stmt_set.add_insert_sql(text)
            except Exception as exc:
                raise ProcessorError(f"{st.label}: {_flink_message(exc)}") from None
        if explain:
            say(stmt_set.explain())
        try:
            table_result = _compile_and_execute(stmt_set, plan_path)
        except Exception as exc:
            raise ProcessorError(f"the job could not start: {_flink_message(exc)}") from None
    client = table_result.get_job_client()
    result = RunResult(job_id=str(client.get_job_id()), bounded=bounded, dry_run=dry_run, jobmanager=jobmanager,
                       topic=topic, end_offsets=end_offsets, seconds_to_submit=time.monotonic() - t0,
                       warnings=warnings, job_client=client)
    where = f"session cluster http://{jobmanager}" if jobmanager else "MiniCluster (in this process)"
    target = "standard output (dry run)" if dry_run else (jdbc_url or config.jdbc_url)
    bound = f" up to offsets {end_offsets} ({result.num_records} records)" if bounded else ""
    say(f"Flink job {result.job_id} on {where}: {topic}@{config.kafka_bootstrap_servers}{bound} -> {target}")
    if wait is None:
        wait = bounded or not jobmanager
    if not wait:
        result.seconds_total = time.monotonic() - t0
        if jobmanager:
            say(f"left running; stop it in the Flink web UI (http://{jobmanager}/#/job/running/{result.job_id})")
        return result
    future = client.get_job_execution_result()
    try:
        while not future.done():  # polling keeps Ctrl-C responsive
            time.sleep(0.2)
    except KeyboardInterrupt:
        say("stopping the job (Ctrl-C)...")
        try:
            client.cancel().result()
        except Exception:
            pass
        result.status = "CANCELED"
        result.seconds_total = time.monotonic() - t0
        return result
    result.seconds_total = time.monotonic() - t0
    try:
        execution = future.result()
    except Exception as exc:
        result.status = "FAILED"
        message = _flink_message(exc)
        if "Connection refused" in message or "TimeoutException" in message:
            message += (f"\n  (Kafka {config.kafka_bootstrap_servers}, PostgreSQL {config.postgres_host}:"
                        f"{config.postgres_port}: are they up? `python -m workbook status`)")
        raise ProcessorError(f"Flink job {result.job_id} failed: {message}") from None
    result.status = "FINISHED"
    result.net_runtime_s = execution.get_net_runtime() / 1000
    say(f"Flink job {result.job_id} finished in {result.seconds_total:.1f} s")
    return result


# --- compiled plans: planning the SQL takes ~1.5 s of every start; a JSON plan compiled once
# (Flink's CompiledPlan, keyed by the statements' text) is loaded instead the next time ------------

PLAN_FORMAT = 1
PLANS_KEPT = 20  # the newest ones; tests make a new one per PostgreSQL schema


def _plan_path(config: Config, statements, values: dict, dry_run: bool, bounded: bool):
    """Where the compiled plan of exactly these statements is cached (None: caching off)."""
    import hashlib

    if os.environ.get("WORKBOOK_PLAN_CACHE", "1").strip().lower() in ("0", "false", "no"):
        return None
    try:
        from pyflink.version import __version__ as flink_version
    except ImportError:
        flink_version = "?"
    texts = []
    for st in statements:
        text = sql_files.as_print_sink(st.text, st.name) if dry_run and st.is_sink else st.text
        texts.append(sql_files.render(text, values))
    key = hashlib.sha256(json.dumps([PLAN_FORMAT, flink_version, bounded, texts]).encode()).hexdigest()[:20]
    return Path(config.workbook_state_dir) / "plans" / f"{key}.json"


def _execute_plan(t_env, plan_path: Path, end_offsets: dict | None):
    """Run a cached plan (with today's end offsets); None if it cannot be used (it is dropped)."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table.table_result import TableResult

    from .kafka_offsets import specific_offsets_option

    try:
        plan = json.loads(plan_path.read_text())
        if end_offsets is not None:
            found = False
            for node in plan.get("nodes", []):
                options = (node.get("scanTableSource", {}).get("table", {}).get("resolvedTable", {})
                           .get("options", {}))
                if "scan.bounded.specific-offsets" in options:
                    options["scan.bounded.specific-offsets"] = specific_offsets_option(end_offsets)
                    found = True
            if not found:
                raise ValueError("no bounded source in the cached plan")
        ref = get_gateway().jvm.org.apache.flink.table.api.PlanReference.fromJsonString(json.dumps(plan))
        return TableResult(t_env._j_tenv.loadPlan(ref).execute())
    except Exception:
        try:
            plan_path.unlink()
        except OSError:
            pass
        return None


def _compile_and_execute(stmt_set, plan_path):
    """Execute the statement set; compile it to a JSON plan first and cache it when possible."""
    from pyflink.table.table_result import TableResult

    if plan_path is None:
        return stmt_set.execute()
    try:
        compiled = stmt_set._j_statement_set.compilePlan()
        text = compiled.asJsonString()
    except Exception:  # a statement the JSON plans do not support: plan it the usual way
        return stmt_set.execute()
    try:
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = plan_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.touch(mode=0o600)  # the plan holds the connectors' options, the JDBC password too
        tmp.write_text(text)
        tmp.replace(plan_path)
        for old in sorted(plan_path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-PLANS_KEPT]:
            old.unlink()
    except OSError:
        pass
    return TableResult(compiled.execute())


def _measure_end_offsets(config: Config, topic: str):
    """Measure the topic's end offsets in a thread (while the JVM starts); returns a getter."""
    import threading

    from .kafka_offsets import true_end_offsets

    box = {}

    def work():
        try:
            box["ends"] = true_end_offsets(config.kafka_bootstrap_servers, topic)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name="end-offsets", daemon=True)
    thread.start()

    def get():
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["ends"]

    return get


def run_bounded(config: Config | None = None, **kwargs) -> RunResult:
    return run(config, bounded=True, **kwargs)


# --- one query over fixed trades (notebooks, exercise checks) ----------------------------------------

def write_records(config: Config, topic: str, records, partitions: int = 1, partition: int | None = None) -> int:
    """Create `topic` and write `records` in order: dicts as JSON keyed by 'base/quote' (like the
    producer), str/bytes as they are (bad records for tests). `partition` sends all to one partition."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap_servers)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap_servers, linger_ms=20,
                             batch_size=512 * 1024, max_request_size=16 * 1024 * 1024)
    futures = []
    for rec in records:
        key = None
        if isinstance(rec, dict):
            if partition is None and rec.get("base") is not None and rec.get("quote") is not None:
                key = f"{rec['base']}/{rec['quote']}".encode()
            value = json.dumps(rec).encode()
        elif isinstance(rec, str):
            value = rec.encode()
        else:
            value = rec
        futures.append(producer.send(topic, key=key, value=value, partition=partition))
    producer.flush()
    producer.close()
    for f in futures:
        f.get(timeout=30)
    return len(futures)


def delete_topic(config: Config, topic: str) -> None:
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap_servers)
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()
    except Exception:
        pass  # a leftover scratch topic is harmless


def _resolve_query(sql: str, solutions: bool) -> str:
    text = sql.strip()
    if text and len(text.split()) == 1:  # a file name such as '40_candlesticks' or 'candlesticks'
        return load_sql(text, solutions)
    return sql


def query(sql: str, trades=None, *, config: Config | None = None, topic: str | None = None,
          solutions: bool = False, partitions: int = 1, parallelism: int = 1):
    """Run one query bounded and return its final result as a pandas DataFrame.

    `sql`: a SELECT, an `INSERT INTO <table> SELECT ...` (the SELECT part is run), or a
    statement file's name ('40_candlesticks', 'volumes'). It reads the views of sql/
    (trades, checked_trades, valid_trades) over either `trades` (a list of trade dicts,
    written to a fresh topic in list order = arrival order) or an existing `topic`
    (default: the configured one), up to its current end."""
    import pandas as pd

    config = config or load_config()
    text = _resolve_query(sql, solutions)
    scratch = None
    if trades is not None:
        scratch = topic = f"workbook-query-{uuid.uuid4().hex[:12]}"
        write_records(config, topic, trades, partitions)
    topic = topic or config.kafka_topic
    try:
        from .flink_env import create_table_env

        measuring = _measure_end_offsets(config, topic)
        t_env = create_table_env(parallelism=parallelism, pipeline_name="workbook query")
        ends = measuring()
        statements = [s for s in load_statements(solutions) if s.kind == "create" and not s.is_sink]
        define(t_env, statements, sql_values(config, topic), end_offsets=ends)
        select = sql_files.render(sql_files.select_part(text), sql_values(config, topic))
        try:
            table = t_env.sql_query(select)
        except Exception as exc:
            raise ProcessorError(f"the query does not compile: {_flink_message(exc)}") from None
        table = _without_ltz(table)
        names = table.get_schema().get_field_names()
        rows = _materialize(table)
        return pd.DataFrame(rows, columns=names)
    finally:
        if scratch:
            delete_topic(config, scratch)


def _without_ltz(table):
    """TIMESTAMP_LTZ columns cast to TIMESTAMP(3) (UTC): PyFlink cannot collect LTZ values."""
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col

    schema = table.get_schema()
    names = schema.get_field_names()
    types = schema.get_field_data_types()
    if not any("LOCAL_ZONE" in str(t).upper() or "LTZ" in str(t).upper() for t in types):
        return table
    exprs = []
    for n, t in zip(names, types):
        e = col(n)
        if "LOCAL_ZONE" in str(t).upper() or "LTZ" in str(t).upper():
            e = e.cast(DataTypes.TIMESTAMP(3))
        exprs.append(e.alias(n))
    return table.select(*exprs)


def _materialize(table) -> list:
    """The final rows of a (possibly updating) result: +I/+U add a row, -U/-D remove one."""
    from pyflink.common import RowKind

    live = Counter()
    with table.execute().collect() as results:
        for row in results:
            values = tuple(row)
            if row.get_row_kind() in (RowKind.INSERT, RowKind.UPDATE_AFTER):
                live[values] += 1
            else:
                live[values] -= 1
                if live[values] <= 0:
                    del live[values]
    return [list(v) for v, n in live.items() for _ in range(n)]


# --- command line --------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbook.processor", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bounded", action="store_true",
                        help="read the topic from the earliest offsets to its end at start, then exit")
    parser.add_argument("--dry-run", action="store_true", help="print result rows instead of writing PostgreSQL")
    parser.add_argument("--solutions", action="store_true", help="use solutions/ for the exercise files")
    parser.add_argument("--jobmanager", metavar="HOST:PORT", default=None,
                        help="submit to this Flink session cluster (REST API); default FLINK_JOBMANAGER "
                             "of .env, empty = in-process MiniCluster")
    parser.add_argument("--local", action="store_true", help="use the MiniCluster even if FLINK_JOBMANAGER is set")
    parser.add_argument("--replace", action="store_true",
                        help="session cluster: cancel the processor's running streaming job and submit again "
                             "(without it, a running one is left alone and nothing is submitted)")
    parser.add_argument("--parallelism", type=int, default=1, metavar="N")
    parser.add_argument("--checkpoint-interval", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--topic", default=None, help="Kafka topic (default KAFKA_TOPIC of .env)")
    parser.add_argument("--explain", action="store_true", help="print Flink's plan of the job first")
    args = parser.parse_args(argv)
    config = load_config()
    jobmanager = None if args.local else (args.jobmanager if args.jobmanager is not None else config.flink_jobmanager)
    if args.parallelism < 1:
        parser.error("--parallelism must be at least 1")
    if args.replace and (not jobmanager or args.bounded):
        parser.error("--replace is for a streaming job on a session cluster (--jobmanager HOST:PORT, no --bounded)")
    try:
        if jobmanager and not args.bounded:  # one streaming job per cluster (workbook/cluster_jobs.py)
            from .cluster_jobs import ClusterJobsError, submit_once

            try:
                if not submit_once(jobmanager, pipeline_name(False), replace=args.replace):
                    return 0
            except ClusterJobsError as exc:
                raise ProcessorError(str(exc)) from None
        run(config, bounded=args.bounded, dry_run=args.dry_run, solutions=args.solutions,
            jobmanager=jobmanager or None, parallelism=args.parallelism,
            checkpoint_interval=args.checkpoint_interval, topic=args.topic, explain=args.explain)
    except (ProcessorError, SqlFileError, ValueError) as exc:
        print(f"processor: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

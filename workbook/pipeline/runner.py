"""Running the processor's job: the statements of sql/ as one Flink job, from
Kafka to PostgreSQL (or standard output), bounded or streaming, on the
in-process MiniCluster or a session cluster."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ..config import Config, load_config
from ..kafka import true_end_offsets
from . import edges, plan_cache
from .errors import ProcessorError, flink_message
from .flink_env import DEFAULT_CHECKPOINT_INTERVAL, RESTART_OPTIONS, create_table_env
from .statements import define, load_statements, skeleton_warnings, sql_values
from .watch import JobWatcher, check_jobmanager, check_kafka

PIPELINE_NAME = "crypto trades: candlesticks and volumes"


def pipeline_name(bounded: bool) -> str:
    """The Flink job's name (the command line finds its running streaming job by it)."""
    return f"{PIPELINE_NAME} ({'bounded' if bounded else 'streaming'})"


@dataclass
class RunResult:
    job_id: str
    bounded: bool
    dry_run: bool
    jobmanager: str | None
    topic: str
    end_offsets: dict | None = None
    status: str = "RUNNING"
    seconds_to_submit: float = 0.0  # process start of run() -> job submitted (JVM, planning, cluster)
    seconds_total: float = 0.0  # run() start -> job finished (bounded) or left running
    net_runtime_s: float | None = None  # the job's own runtime, from the cluster
    warnings: list = field(default_factory=list)
    job_client: object = field(default=None, repr=False, compare=False)
    watcher: object = field(default=None, repr=False, compare=False)  # JobWatcher of a MiniCluster job

    @property
    def num_records(self) -> int | None:
        return sum(self.end_offsets.values()) if self.end_offsets is not None else None

    def cancel(self) -> None:
        """Stop a job that was left running (wait=False)."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.job_client is not None and self.status == "RUNNING":
            try:
                self.job_client.cancel().result()
            finally:
                self.status = "CANCELED"


@dataclass(frozen=True)
class RunOptions:
    """How to run the processor (the command line's flags)."""

    bounded: bool = False  # read up to the topic's end offsets (measured at start), then finish
    dry_run: bool = False  # print result rows instead of writing PostgreSQL
    solutions: bool = False  # the instructor solutions of the exercise files
    jobmanager: str | None = None  # HOST:PORT of a session cluster; None: in-process MiniCluster
    parallelism: int = 1
    checkpoint_interval: float | None = None  # seconds; None: DEFAULT_CHECKPOINT_INTERVAL if streaming; 0: none
    topic: str | None = None  # default: KAFKA_TOPIC
    jdbc_url: str | None = None  # default: the configured PostgreSQL (tests add ?currentSchema=)
    end_offsets: dict | None = None  # bounded: these instead of the measured ones
    wait: bool | None = None  # None: wait for bounded jobs and MiniCluster jobs, not for cluster jobs
    explain: bool = False  # print Flink's plan first
    flink_options: dict | None = None  # extra Flink configuration
    only: tuple | None = None  # names of the result tables to fill; the other INSERTs are left out


def run(options: RunOptions | None = None, config: Config | None = None, say=print) -> RunResult:
    """Run the processor. Bounded jobs (and wait=True) return when the job has finished;
    a streaming MiniCluster job runs until Ctrl-C; a streaming job on a session cluster is
    left running (wait=False is the default there). With wait=False the job keeps running
    (in this process for a MiniCluster) and `RunResult.cancel()` stops it."""
    o = options or RunOptions()
    bounded, dry_run, jobmanager, jdbc_url, end_offsets = o.bounded, o.dry_run, o.jobmanager, o.jdbc_url, o.end_offsets
    t0 = time.monotonic()
    config = config or load_config()
    topic = o.topic or config.kafka_topic
    only = o.only
    interval = checkpoint_interval(o.checkpoint_interval, bounded)
    # the services first: a broker or a cluster that is not there is said at once, not after a minute
    if jobmanager:
        check_jobmanager(jobmanager)
    check_kafka(config.kafka_bootstrap_servers, metadata=False)
    broker_check = None if bounded else _in_background(check_kafka, config.kafka_bootstrap_servers)
    statements = load_statements(o.solutions)
    if only:
        unknown = set(only) - {s.name for s in statements if s.kind in ("insert", "skeleton")}
        if unknown:
            raise ProcessorError(f"only={sorted(unknown)}: no INSERT INTO such a table in sql/")
        statements = [s for s in statements if s.kind not in ("insert", "skeleton") or s.name in only]
    warnings = skeleton_warnings(statements)
    for w in warnings:
        say(f"WARNING: {w}")
    values = sql_values(config, topic, jdbc_url)
    # bounded: the unreadable records at the edges of the partitions (sql/44_unreadable_records.sql
    # cannot see them) are read with the end offsets, and added to bad_records when the job has finished
    count_edges = (
        bounded and o.wait is not False and any(s.kind == "insert" and s.name == "bad_records" for s in statements)
    )
    measuring = measure_end_offsets(config, topic, end_offsets, count_edges) if bounded else None
    # streaming: restarts from the last checkpoint after a failure (PostgreSQL or Kafka gone for a while)
    flink_options = dict(RESTART_OPTIONS) if not bounded and interval else {}
    flink_options.update(o.flink_options or {})
    t_env = create_table_env(
        parallelism=o.parallelism,
        jobmanager=jobmanager,
        checkpoint_interval=interval,
        pipeline_name=pipeline_name(bounded),
        options=flink_options,
    )
    scanning = None
    if measuring is not None:
        end_offsets = measuring()
        scanning = measuring.edges if count_edges else None
    if broker_check is not None:
        broker_check()
    target_url = jdbc_url or config.jdbc_url
    if scanning is not None and not dry_run:
        try:
            edges.forget(config, target_url, end_offsets)
        except Exception as exc:  # noqa: BLE001 -- PostgreSQL unreachable: the job says so when it writes
            say(
                f"WARNING: bad_records: could not prepare the count of unreadable records ({type(exc).__name__}: "
                f"{str(exc).strip()}); the ones at the start and end of the partitions are not counted"
            )
            scanning = None
    table_result = None
    plan_path = (
        None if o.explain else plan_cache.plan_path(config.workbook_state_dir, statements, values, dry_run, bounded)
    )
    if plan_path is not None and plan_path.exists():
        table_result = plan_cache.execute_plan(t_env, plan_path, end_offsets if bounded else None)
    if table_result is None:
        inserts = define(t_env, statements, values, dry_run=dry_run, end_offsets=end_offsets if bounded else None)
        if not inserts:
            raise ProcessorError("no INSERT INTO statement in sql/: nothing to run")
        stmt_set = t_env.create_statement_set()
        for st, text in inserts:
            try:
                stmt_set.add_insert_sql(text)
            except Exception as exc:  # noqa: BLE001 - Py4J raises Flink errors as plain Exceptions
                raise ProcessorError(f"{st.label}: {flink_message(exc)}") from None
        if o.explain:
            say(stmt_set.explain())
        try:
            table_result = plan_cache.compile_and_execute(stmt_set, plan_path)
        except Exception as exc:  # noqa: BLE001 - Py4J raises Flink errors as plain Exceptions
            raise ProcessorError(f"the job could not start: {flink_message(exc)}") from None
    client = table_result.get_job_client()
    result = RunResult(
        job_id=str(client.get_job_id()),
        bounded=bounded,
        dry_run=dry_run,
        jobmanager=jobmanager,
        topic=topic,
        end_offsets=end_offsets,
        seconds_to_submit=time.monotonic() - t0,
        warnings=warnings,
        job_client=client,
    )
    where = f"session cluster http://{jobmanager}" if jobmanager else "MiniCluster (in this process)"
    target = "standard output (dry run)" if dry_run else target_url
    bound = f" up to offsets {end_offsets} ({result.num_records} records)" if bounded else ""
    say(f"Flink job {result.job_id} on {where}: {topic}@{config.kafka_bootstrap_servers}{bound} -> {target}")
    wait = o.wait if o.wait is not None else (bounded or not jobmanager)
    # says on the console when PostgreSQL goes away and when the job restarts (MiniCluster jobs)
    watcher = (
        None
        if jobmanager
        else JobWatcher(client, result.job_id, config, None if dry_run else target_url, say=say).start()
    )
    result.watcher = watcher
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
        if watcher is not None:
            watcher.stop()
        say("stopping the job (Ctrl-C)...")
        try:
            client.cancel().result()
        except Exception:  # noqa: BLE001 - the job is being stopped anyway
            pass
        result.status = "CANCELED"
        result.seconds_total = time.monotonic() - t0
        return result
    if watcher is not None:
        watcher.stop()
    result.seconds_total = time.monotonic() - t0
    try:
        execution = future.result()
    except Exception as exc:  # noqa: BLE001 - the job's failure, whatever Java threw
        result.status = "FAILED"
        message = flink_message(exc)
        if "Connection refused" in message or "TimeoutException" in message:
            message += (
                f"\n  (Kafka {config.kafka_bootstrap_servers}, PostgreSQL {config.postgres_host}:"
                f"{config.postgres_port}: are they up? `python -m workbook status`)"
            )
        raise ProcessorError(f"Flink job {result.job_id} failed: {message}") from None
    result.status = "FINISHED"
    result.net_runtime_s = execution.get_net_runtime() / 1000
    if scanning is not None:
        count_edge_records(scanning, config, target_url, dry_run, say)
    say(f"Flink job {result.job_id} finished in {result.seconds_total:.1f} s")
    return result


def checkpoint_interval(seconds, bounded: bool) -> float | None:
    """The checkpoint interval in seconds (None: no checkpoints); ValueError for nonsense."""
    if seconds is None:
        return None if bounded else DEFAULT_CHECKPOINT_INTERVAL
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"checkpoint interval {seconds!r}: expected a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise ValueError(f"checkpoint interval {seconds!r}: expected a number of seconds >= 0 (0: no checkpoints)")
    if 0 < value < 0.01:
        raise ValueError(f"checkpoint interval {seconds!r}: Flink checkpoints at most every 10 ms (0.01)")
    return value or None


def _in_background(fn, *args):
    """Run fn(*args) in a thread; the returned getter waits for it and re-raises its error."""
    box = {}

    def work():
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name=fn.__name__, daemon=True)
    thread.start()

    def get():
        thread.join()
        if "error" in box:
            raise box["error"]

    return get


def count_edge_records(scanning, config: Config, jdbc_url: str, dry_run: bool, say) -> None:
    """Add the unreadable records at the edges of the partitions to bad_records (dry run: print them)."""
    try:
        found = [e for e in scanning() if e.before or e.after]
        if dry_run:
            for e in found:
                say(
                    f"bad_records> partition {e.partition}: {e.before + e.after} record(s) that are "
                    f"{edges.PROBLEM} before its first or after its last readable record "
                    f"(not in the counts above)"
                )
        else:
            edges.add(config, jdbc_url, found)
    except Exception as exc:  # noqa: BLE001 -- the job's results are written; only this count is missing
        say(
            f"WARNING: could not count the unreadable records at the start and end of the partitions "
            f"({type(exc).__name__}: {exc}); bad_records may lack them: run --bounded again"
        )


def measure_end_offsets(config: Config, topic: str, given: dict | None = None, scan_edges: bool = False):
    """Measure the topic's end offsets (unless `given`) in a thread, while the JVM starts; returns
    a getter. With `scan_edges` the thread reads the edges of the partitions next (pipeline/edges.py),
    for the getter's `edges()`. Nothing else runs beside the planner: py4j would then serve its
    calls on other Java threads, where Flink's planner fails ("metadataHandlerProvider")."""
    box = {}

    def work():
        try:
            box["ends"] = given if given is not None else true_end_offsets(config.kafka_bootstrap_servers, topic)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
            return
        if scan_edges:
            try:
                box["edges"] = edges.scan(config.kafka_bootstrap_servers, topic, box["ends"])
            except Exception as exc:  # noqa: BLE001 -- reported after the job; the run goes on
                box["edges_error"] = exc

    thread = threading.Thread(target=work, name="end-offsets", daemon=True)
    thread.start()

    def get():
        thread.join()
        error = box.get("error")
        if isinstance(error, (ValueError, ProcessorError)):
            raise error
        if error is not None:
            raise ProcessorError(
                f"the Kafka broker at {config.kafka_bootstrap_servers} did not give the end offsets of topic "
                f"{topic!r} ({type(error).__name__}: {error}). Is it up? `python -m workbook status`; start it with "
                "`python -m workbook up`, or set KAFKA_BOOTSTRAP_SERVERS in .env to where it runs."
            ) from None
        return box["ends"]

    def get_edges():
        thread.join()
        if "edges_error" in box:
            raise box["edges_error"]
        return box["edges"]

    get.edges = get_edges
    return get

"""Running the processor's job: the statements of sql/ as one Flink job, from
Kafka to PostgreSQL (or standard output), bounded or streaming, on the
in-process MiniCluster or a session cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Config, load_config
from ..kafka import true_end_offsets
from . import edges, plan_cache
from .errors import ProcessorError, empty_topic_note, flink_message, mismatched_sink
from .flink_env import DEFAULT_CHECKPOINT_INTERVAL, RESTART_OPTIONS, create_table_env
from .statements import define, load_statements, skeleton_warnings, sql_values
from .watch import (
    JobWatcher,
    check_cluster_reaches_services,
    check_free_slots,
    check_jobmanager,
    check_kafka,
    check_postgres,
    prepare_schema,
)

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
    started = time.monotonic()
    config = config or load_config()
    r = _Run(o, config, say, started, o.topic or config.kafka_topic, o.jdbc_url or config.jdbc_url)
    interval = checkpoint_interval(o.checkpoint_interval, o.bounded)
    broker_check = _check_services(r)
    statements, warnings = _load_statements(r)
    values = sql_values(config, r.topic, o.jdbc_url)
    count_edges = _counts_edges(o, statements)
    # bounded: the end offsets are measured in a thread while the JVM starts
    measuring = measure_end_offsets(config, r.topic, o.end_offsets, count_edges) if o.bounded else None
    t_env = _create_environment(o, interval, config.job_name(pipeline_name(o.bounded)))
    # every thread of the run ends here, before planning: nothing else may run beside the planner
    end_offsets, scanning = _join_background(o, measuring, count_edges, broker_check)
    if scanning is not None and not o.dry_run:
        scanning = _prepare_edge_count(r, scanning, end_offsets)
    table_result = _start_job(r, t_env, statements, values, end_offsets)
    result = _report_start(r, table_result, end_offsets, warnings)
    return _wait_for_job(r, result, scanning)


@dataclass(frozen=True)
class _Run:
    """What the phases of one run() share."""

    options: RunOptions
    config: Config
    say: Callable
    started: float  # time.monotonic() at the start of run()
    topic: str
    target_url: str  # the PostgreSQL the sinks write to


def _check_services(r: _Run):
    """The services first: a broker, a cluster or a PostgreSQL login that is not there is said at once, not
    after a minute. Streaming: the broker's metadata is checked in the background (its getter is returned)."""
    if r.options.jobmanager:
        check_jobmanager(r.options.jobmanager)
        check_cluster_reaches_services(r.options.jobmanager, r.config, r.target_url, r.options.dry_run)
        check_free_slots(r.options.jobmanager, r.options.parallelism)
    check_kafka(r.config.kafka_bootstrap_servers, metadata=False)
    if not r.options.dry_run:
        check_postgres(r.config, r.target_url)
        if r.config.schema and r.target_url == r.config.jdbc_url:  # shared-cluster mode: the student's tables
            prepare_schema(r.config)
    return None if r.options.bounded else _in_background(check_kafka, r.config.kafka_bootstrap_servers)


def _load_statements(r: _Run) -> tuple[list, list]:
    """The statements of sql/ (of the INSERTs, those of `only`), and the warnings about skeletons, said."""
    statements = load_statements(r.options.solutions)
    only = r.options.only
    if only:
        unknown = set(only) - {s.name for s in statements if s.kind in ("insert", "skeleton", "refused")}
        if unknown:
            raise ProcessorError(f"only={sorted(unknown)}: no INSERT INTO such a table in sql/")
        statements = [s for s in statements if s.kind not in ("insert", "skeleton", "refused") or s.name in only]
    warnings = skeleton_warnings(statements)
    for w in warnings:
        r.say(f"WARNING: {w}")
    return statements, warnings


def _counts_edges(o: RunOptions, statements) -> bool:
    """Bounded: the unreadable records at the edges of the partitions (sql/44_unreadable_records.sql
    cannot see them) are read with the end offsets, and added to bad_records when the job has finished."""
    return o.bounded and o.wait is not False and any(s.kind == "insert" and s.name == "bad_records" for s in statements)


def _create_environment(o: RunOptions, interval: float | None, name: str):
    # streaming: restarts from the last checkpoint after a failure (PostgreSQL or Kafka gone for a while)
    flink_options = dict(RESTART_OPTIONS) if not o.bounded and interval else {}
    flink_options.update(o.flink_options or {})
    return create_table_env(
        parallelism=o.parallelism,
        jobmanager=o.jobmanager,
        checkpoint_interval=interval,
        pipeline_name=name,
        options=flink_options,
    )


def _join_background(o: RunOptions, measuring, count_edges: bool, broker_check):
    """Wait for the threads of the run: the end offsets (the given ones if not measured) and the getter of the
    edges' scan (bounded, counting them), after the broker's check. They must have ended before the planner
    runs: py4j would serve their calls on other Java threads, where Flink's planner fails (measure_end_offsets)."""
    end_offsets, scanning = o.end_offsets, None
    if measuring is not None:
        end_offsets = measuring()
        scanning = measuring.edges if count_edges else None
    if broker_check is not None:
        broker_check()
    return end_offsets, scanning


def _prepare_edge_count(r: _Run, scanning, end_offsets: dict):
    """Forget the edge counts of earlier runs (edges.forget); the scan's getter, or None if PostgreSQL
    could not be asked (the records at the edges are not counted then)."""
    try:
        edges.forget(r.config, r.target_url, end_offsets)
    except Exception as exc:  # noqa: BLE001 -- PostgreSQL unreachable: the job says so when it writes
        r.say(
            f"WARNING: bad_records: could not prepare the count of unreadable records ({type(exc).__name__}: "
            f"{str(exc).strip()}); the ones at the start and end of the partitions are not counted"
        )
        return None
    return scanning


def _start_job(r: _Run, t_env, statements, values: dict, end_offsets: dict | None):
    """Submit the job: its cached plan (with today's end offsets) if there is one, else planned here."""
    o = r.options
    bounds = end_offsets if o.bounded else None
    path = (
        None
        if o.explain
        else plan_cache.plan_path(r.config.workbook_state_dir, statements, values, o.dry_run, o.bounded)
    )
    table_result = plan_cache.execute_plan(t_env, path, bounds) if path is not None and path.exists() else None
    if table_result is None:
        table_result = _plan_and_execute(r, t_env, statements, values, bounds, path)
    return table_result


def _plan_and_execute(r: _Run, t_env, statements, values: dict, bounds: dict | None, path):
    """Define the tables, plan the INSERTs as one statement set and execute it (its plan cached at `path`)."""
    o = r.options
    inserts = define(t_env, statements, values, dry_run=o.dry_run, end_offsets=bounds)
    if not inserts:
        raise ProcessorError("no INSERT INTO statement in sql/: nothing to run")
    stmt_set = t_env.create_statement_set()
    for st, text in inserts:
        try:
            stmt_set.add_insert_sql(text)
        except Exception as exc:  # noqa: BLE001 - Py4J raises Flink errors as plain Exceptions
            raise ProcessorError(f"{st.label}: {flink_message(exc)}") from None
    if o.explain:
        r.say(stmt_set.explain())
    try:
        return plan_cache.compile_and_execute(stmt_set, path)
    except Exception as exc:  # noqa: BLE001 - Py4J raises Flink errors as plain Exceptions
        # a statement whose columns do not fit its table is found only now: name its file
        table = mismatched_sink(str(exc))
        where = next((st.label for st, _ in inserts if st.name == table), "the job could not start")
        raise ProcessorError(f"{where}: {flink_message(exc)}") from None


def _report_start(r: _Run, table_result, end_offsets: dict | None, warnings: list) -> RunResult:
    """The submitted job's RunResult, and a line that says where it runs, what it reads and where it writes."""
    o = r.options
    client = table_result.get_job_client()
    result = RunResult(
        job_id=str(client.get_job_id()),
        bounded=o.bounded,
        dry_run=o.dry_run,
        jobmanager=o.jobmanager,
        topic=r.topic,
        end_offsets=end_offsets,
        seconds_to_submit=time.monotonic() - r.started,
        warnings=warnings,
        job_client=client,
    )
    where = f"session cluster http://{o.jobmanager}" if o.jobmanager else "MiniCluster (in this process)"
    target = "standard output (dry run)" if o.dry_run else r.target_url
    bound = f" up to offsets {end_offsets} ({result.num_records} records)" if o.bounded else ""
    r.say(f"Flink job {result.job_id} on {where}: {r.topic}@{r.config.kafka_bootstrap_servers}{bound} -> {target}")
    if o.bounded and result.num_records == 0:  # else a job that writes nothing looks like a broken exercise
        meaning = "this bounded run has no trades to read and writes no rows"
        r.say(f"NOTE: {empty_topic_note(r.topic, r.config.kafka_bootstrap_servers, meaning, 'it')}")
    return result


def _wait_for_job(r: _Run, result: RunResult, scanning) -> RunResult:
    """Leave the job running (wait=False), or wait until it ends: finished (the edges counted), failed
    (ProcessorError) or cancelled by Ctrl-C."""
    o = r.options
    wait = o.wait if o.wait is not None else (o.bounded or not o.jobmanager)
    # says on the console when PostgreSQL goes away and when the job restarts (MiniCluster jobs)
    watcher = (
        None
        if o.jobmanager
        else JobWatcher(
            result.job_client, result.job_id, r.config, None if o.dry_run else r.target_url, say=r.say
        ).start()
    )
    result.watcher = watcher
    if not wait:
        result.seconds_total = time.monotonic() - r.started
        if o.jobmanager:
            r.say(f"left running; stop it in the Flink web UI (http://{o.jobmanager}/#/job/running/{result.job_id})")
        return result
    future = result.job_client.get_job_execution_result()
    try:
        while not future.done():  # polling keeps Ctrl-C responsive
            time.sleep(0.2)
    except KeyboardInterrupt:
        return _cancel(r, result)
    if watcher is not None:
        watcher.stop()
    result.seconds_total = time.monotonic() - r.started
    try:
        execution = future.result()
    except Exception as exc:  # noqa: BLE001 - the job's failure, whatever Java threw
        result.status = "FAILED"
        raise ProcessorError(f"Flink job {result.job_id} failed: {_failure_message(r.config, exc)}") from None
    result.status = "FINISHED"
    result.net_runtime_s = execution.get_net_runtime() / 1000
    if scanning is not None:
        count_edge_records(scanning, r.config, r.target_url, o.dry_run, r.say)
    r.say(f"Flink job {result.job_id} finished in {result.seconds_total:.1f} s")
    return result


def _cancel(r: _Run, result: RunResult) -> RunResult:
    """Ctrl-C while waiting: cancel the job."""
    if result.watcher is not None:
        result.watcher.stop()
    r.say("stopping the job (Ctrl-C)...")
    try:
        result.job_client.cancel().result()
    except Exception:  # noqa: BLE001 - the job is being stopped anyway
        pass
    result.status = "CANCELED"
    result.seconds_total = time.monotonic() - r.started
    return result


def _failure_message(config: Config, exc: BaseException) -> str:
    """Flink's message of a failed job; where the services are, when it could not reach one."""
    message = flink_message(exc)
    if "Connection refused" in message or "TimeoutException" in message:
        message += (
            f"\n  (Kafka {config.kafka_bootstrap_servers}, PostgreSQL {config.postgres_host}:"
            f"{config.postgres_port}: are they up? `python -m workbook status`)"
        )
    return message


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

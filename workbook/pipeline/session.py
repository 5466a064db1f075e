"""A warm Flink session for SQL cells and exercise checks: one per kernel.

Why it is fast (see bench/bench_magic.py):
- one Flink MiniCluster is started once and kept running; every query is a job
  submitted to it (PyFlink's default starts and stops a MiniCluster per job);
- the fixed datasets (check, sample) are written once per kernel to a JSON
  file, read by a *streaming* job whose source table is sql/10_trades.sql with
  only its connector changed (filesystem instead of Kafka; the Kafka metadata
  columns become fields of the records). The WATERMARK stays, and watermarks are
  emitted after every record (`pipeline.auto-watermark-interval` = 0, as
  `scan.watermark.emit.strategy` = on-event does for Kafka), so late trades are
  the same ones the processor finds in a one-partition topic
  (tests/test_magic.py compares both);
- results come back as one Arrow transfer (Flink's ArrowUtils, which drops
  retracted rows on the Java side; results.to_pandas, without PyFlink's
  field-by-field schema conversion), not row by row;
- generated code is not split (CODE_SPLITTING_OFF): Flink parses every
  generated class with ANTLR to split long methods, in the client, for every
  query; a class too big for the JVM is compiled again with splitting.

`--data topic` reads the live topic, bounded at its true end offsets.

The session heals: before each use it probes its JVM (pyflink_internals.gateway_answers); a JVM that was
killed, lost its Py4J server or hangs is ended (gateway_jvm) and a new one started, the cells' DDL run again in it, and
`take_notice()` says so once (the magic shows it). Py4J's logging goes to a log file, never the notebook.
The checks' environments (`protected=True`) are the workbook's as sql/ defines them: the cells' statements
that drop, change or redefine a workbook table or view, USE, SET and RESET are not run in them, so a cell
that dropped `valid_trades` cannot break a check; `restore()` brings those tables and views back in the cells.
Every listener binds to 127.0.0.1. A query that runs longer than the time limit
is cancelled and reported (`QueryTimeout`), so no cell waits forever.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import kafka
from ..config import Config, load_config
from . import gateway_jvm, pyflink_internals, results, sql_files
from .errors import ProcessorError, SinkMismatch, flink_message, sink_mismatch
from .flink_env import BASE_OPTIONS, LOOPBACK_OPTIONS, create_table_env, prepare_jvm
from .statements import RATES_TABLE, SOURCE_TABLE, define, load_statements, sql_values

DEFAULT_TIMEOUT_S = 60.0
FIXED = "fixed"  # the datasets given as lists of trades
TOPIC = "topic"

_WHERE = re.compile(r"(?:at |From )line (\d+), column (\d+)(?: to line \d+, column \d+)?", re.IGNORECASE)
_QUERY_WORDS = ("SELECT", "WITH", "VALUES", "INSERT", "(")
# Code splitting only pays off for methods near the JVM's 64 KB limit; a cell's query seldom has one,
# and splitting costs ~0.2 s of a 0.5 s check. Flink skips it for code shorter than this length.
SPLIT_OPTION = "table.generated-code.max-length"
CODE_SPLITTING_OFF = {SPLIT_OPTION: str(2**31 - 1)}
_SPLIT_DEFAULT = "4000"  # Flink's own default
_NOT_COMPILED = "cannot be compiled"  # Flink's CompileUtils: the generated class did not compile


class SqlError(ProcessorError):
    """A statement of a cell failed: Flink's message, and where in the cell (1-based)."""

    def __init__(self, message: str, sql: str, line: int | None = None, column: int | None = None):
        self.message, self.sql, self.line, self.column = message, sql, line, column
        super().__init__(self.text())

    def marked(self, context: int = 2) -> str:
        """The cell's lines around the problem, the place marked with ^ under it."""
        lines = self.sql.splitlines() or [""]
        if self.line is None or not 1 <= self.line <= len(lines):
            return "\n".join(f"{i + 1:3} | {ln}" for i, ln in enumerate(lines))
        lo, hi = max(0, self.line - 1 - context), min(len(lines), self.line + context)
        out = []
        for i in range(lo, hi):
            out.append(f"{i + 1:3} | {lines[i]}")
            if i == self.line - 1:
                out.append("    | " + " " * (max(self.column or 1, 1) - 1) + "^")
        return "\n".join(out)

    def text(self) -> str:
        where = f" (line {self.line}, column {self.column})" if self.line else ""
        return f"{self.message}{where}\n{self.marked()}"


class QueryTimeout(ProcessorError):
    pass


class SessionLost(ProcessorError):
    """The session's JVM stopped while a cell ran; the next cell starts a new one."""


RESTARTED = (
    "\u26a0\ufe0f The Flink session of this kernel had stopped (its Java process was gone) and is started again "
    "(about 20 s); the CREATE/DROP/SET statements of your earlier cells run again in it; a query that was "
    "running then is lost."
)
LOST_WHILE_RUNNING = (
    "the Flink session of this kernel stopped while this cell ran (its Java process is gone): run the cell "
    "again, a new session starts (about 20 s)."
)
# a JVM that does not answer a trivial call in this time is taken as hung (a busy one answers in milliseconds)
PROBE_TIMEOUT_S = 15.0
FLINK_36298 = "metadataHandlerProvider"  # an intermittent planner error of Flink 2.0 on a Py4J thread (_query)
_CHECKS_SKIP = ("USE", "SET", "RESET")  # first words of the cells' statements the checks' environments skip
# LOAD MODULE, UNLOAD MODULE (`UNLOAD MODULE core` takes every built-in function away) and USE MODULES: like USE,
# they change what every table and query of the environment means; kept, replayed and forgotten as USE is
_MODULE_WORDS = ("LOAD", "UNLOAD")
MODULES = "MODULES"  # touches_workbook's answer for them


FLINK_36298_ATTEMPTS = 4  # attempts in all: an attempt that plans costs nothing more, a failed one milliseconds


def planned_again(call):
    """`call()`, asked for again (up to FLINK_36298_ATTEMPTS in all) while it fails with FLINK_36298: Flink 2.0's
    planner now and then misses Calcite's thread-local metadata provider on a Py4J thread other than the one that
    built its cluster (FLINK-36298, fixed after 2.0): "metadataHandlerProvider" for a query that is fine. A failed
    attempt seeds it on the Java thread that ran it, and a Python thread's calls may run on another of Py4J's
    threads: the next attempt usually plans. Every call that plans a query on a thread of its own (the checks, the
    grader's workers) goes through here."""
    for attempt in range(1, FLINK_36298_ATTEMPTS + 1):
        try:
            return call()
        except QueryTimeout:
            raise
        except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
            if FLINK_36298 not in str(exc) or attempt == FLINK_36298_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@dataclass
class Plan:
    """Flink's optimized physical plan of a query, each operator with the kinds of rows it emits."""

    text: str
    operators: list  # the operators' names, from the query's result down to its sources
    kinds: set  # the kinds of rows of the result: {"I"} append-only; with "UA", "UB" or "D" updating

    @property
    def updating(self) -> bool:
        return bool(self.kinds - {"I"})

    @property
    def joins_without_key(self) -> list[str]:
        """The joins with no equality between the two sides: each pairs every row with every other one."""
        return [line.strip(" +-|") for line in self.text.splitlines() if "Join(" in line and "=(" not in line]


_PLAN_NODE = re.compile(r"^[\s+\-:|]*(\w+)\(.*?changelogMode=\[([A-Z,]*)\]")


def _changelog_detail():
    """EXPLAIN's detail that shows each operator's changelog mode."""
    from pyflink.table.explain_detail import ExplainDetail  # PyFlink's table API: imported when first needed

    return ExplainDetail.CHANGELOG_MODE


def physical_plan(explained: str) -> Plan:
    """The Plan of EXPLAIN CHANGELOG_MODE's output (its "Optimized Physical Plan" section)."""
    section = explained.split("== Optimized Physical Plan ==", 1)[-1].split("\n\n", 1)[0].strip("\n")
    nodes = [m.groups() for m in map(_PLAN_NODE.match, section.splitlines()) if m]
    kinds = set(nodes[0][1].split(",")) if nodes else set()
    return Plan(section, [name for name, _ in nodes], kinds)


@dataclass
class CellResult:
    frame: object = None  # pandas DataFrame of the last query, or None (only DDL)
    executed: list = field(default_factory=list)  # 'CREATE VIEW x', ... in cell order
    seconds: float = 0.0


def locate(message: str, offset_in_cell: int, cell: str) -> tuple:
    """Flink's 'line L, column C' (of one statement) as line and column of the cell."""
    m = _WHERE.search(message)
    if not m:
        return None, None
    line, column = int(m.group(1)), int(m.group(2))
    before = cell[:offset_in_cell]
    line0 = before.count("\n")
    if line == 1:
        column += offset_in_cell - (before.rfind("\n") + 1)
    return line0 + line, column


def short_message(exc: BaseException) -> str:
    msg = flink_message(exc)
    # Calcite quotes the whole expected-token list; one line of it is enough
    msg = re.sub(r"\s*Was expecting one of:.*", "", msg, flags=re.DOTALL)
    return msg.replace("org.apache.flink.table.api.", "").strip()


_SET = re.compile(r"^\s*SET\s+'([^']+)'\s*=\s*'([^']*)'\s*;?\s*$", re.I | re.S)
_RESET = re.compile(r"^\s*RESET\s+'([^']+)'\s*;?\s*$", re.I | re.S)
_RESET_ALL = re.compile(r"^\s*RESET\s*;?\s*$", re.I)
# settings Flink reads only when an environment is created: set later, they make every query of it fail
# ("Mismatch between configured runtime mode and actual runtime mode"), in every cell after, until a new kernel
FIXED_AT_START = {"execution.runtime-mode": "the cells run in streaming mode; their bounded data ends by itself"}


def _setting_of(stmt: str) -> str | None:
    """The key a `SET 'key' = ...` or `RESET 'key'` statement changes, else None."""
    m = _SET.match(sql_files.code_of(stmt)) or _RESET.match(sql_files.code_of(stmt))
    return m.group(1) if m else None


def execute_ddl(t_env, text: str) -> None:
    """A cell's DDL statement. `SET 'key' = 'value'` and `RESET 'key'` (the SQL client's syntax, which
    the Table API's execute_sql refuses) change the environment's configuration, e.g.
    `SET 'table.local-time-zone' = 'America/New_York'`; RESET goes back to the workbook's setting."""
    code = sql_files.code_of(text)
    m = _SET.match(code)
    if m:
        if m.group(1) in FIXED_AT_START:
            raise ValueError(
                f"SET '{m.group(1)}' is not possible here: Flink fixes it when the session starts "
                f"({FIXED_AT_START[m.group(1)]}); nothing was changed"
            )
        t_env.get_config().set(m.group(1), m.group(2))
        return
    m = _RESET.match(code)
    if m:
        if m.group(1) not in BASE_OPTIONS:
            raise ValueError(
                f"RESET '{m.group(1)}': only these settings have a workbook default: {sorted(BASE_OPTIONS)}"
            )
        t_env.get_config().set(m.group(1), BASE_OPTIONS[m.group(1)])
        return
    t_env.execute_sql(text)


class Session:
    """Table environments over a running MiniCluster, one per dataset; the DDL of the
    cells is replayed in each, so a view created in one cell is there in the next."""

    def __init__(
        self,
        datasets: dict[str, Callable[[], list]],
        config: Config | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        rates: dict[str, Callable[[], list]] | None = None,
    ):
        self.config = config or load_config()
        self.datasets = datasets
        # dataset -> its USD rates (the `rates` table over it); one without has none (an empty `rates`)
        self.rates = {} if rates is None else rates
        self.timeout_s = timeout_s
        self.ddl: list[str] = []  # the cells' CREATE/DROP statements, in order
        self._envs: dict[str, tuple] = {}  # data name -> (t_env, number of ddl statements applied)
        self._cluster = None
        self._rest = None
        self._lock = threading.RLock()  # env() takes it too, also when called inside a locked step
        self.warming: threading.Thread | None = None  # the warm-up, while it runs
        self._cells_waiting = 0
        self.topic_ends: dict[int, int] = {}  # --data topic: where its last query stopped, per partition
        self._protected: dict[str, tuple] = {}  # the checks' environments, when the cells changed the workbook's
        self._jvm = None  # the JVM of the session (psutil.Process), ended when it stops answering
        self._jvm_files: list[str] = []  # what it leaves in the temporary folder when killed
        self._notice: str | None = None  # said once by the next cell: the session was started again
        self._workbook_names: set[str] | None = None

    # --- the cluster and the environments ------------------------------------------------------

    def cluster_address(self) -> str:
        """Start the MiniCluster once (127.0.0.1 only); its REST address HOST:PORT."""
        if self._rest is None:
            logs = self.config.workbook_state_dir / "logs" / "magic"
            prepare_jvm(logs)
            pyflink_internals.quiet_py4j(logs / "py4j.log")
            create_table_env(pipeline_name="workbook cell")  # starts the JVM with our options
            self._jvm = gateway_jvm.find(pyflink_internals.gateway_port())
            self._jvm_files = gateway_jvm.scratch_files(self._jvm)
            self._cluster = pyflink_internals.start_mini_cluster({**LOOPBACK_OPTIONS, "rest.bind-port": "0"}, slots=4)
            uri = self._cluster.getRestAddress().get()
            self._rest = f"{uri.getHost()}:{uri.getPort()}"
        return self._rest

    @property
    def running(self) -> bool:
        """Whether the session's MiniCluster is up (a first query starts it: a JVM and a cluster, ~10-20 s)."""
        return self._rest is not None

    @property
    def starting(self) -> bool:
        """Whether a cell now would wait for the MiniCluster to start (or for the warm-up's current step)."""
        return not self.running or (self.warming is not None and self.warming.is_alive())

    # --- a JVM that stopped -----------------------------------------------------------------------

    def _drop_envs(self) -> None:
        """Forget the table environments (the cells' and the checks'): the next use makes them again."""
        self._envs.clear()
        self._protected.clear()

    def _restart_if_lost(self) -> None:
        """When the session's JVM does not answer: end it and forget everything in it (the next use starts
        a new one), with a notice for the next cell. Called with the lock held. A process that is gone is seen
        without asking it; otherwise one Py4J round trip (a hung JVM or a lost Py4J server only shows there)."""
        if self._rest is None:
            return
        gone = self._jvm is not None and not self._jvm.is_running()
        if gone or not pyflink_internals.gateway_answers(PROBE_TIMEOUT_S):
            self._forget_jvm()

    def _forget_jvm(self) -> None:
        pyflink_internals.forget_gateway()
        gateway_jvm.end(self._jvm, self._jvm_files)
        self._jvm = self._cluster = self._rest = None
        self._jvm_files = []
        self._drop_envs()
        self._notice = RESTARTED

    def take_notice(self) -> str | None:
        """What the next cell should say first, once: the session had stopped and is started again (a JVM
        that stopped is found here, before the cell runs, so the notice comes before the wait)."""
        if self.running and not (self.warming is not None and self.warming.is_alive()):  # else env() probes
            with self._lock:
                self._restart_if_lost()
        notice, self._notice = self._notice, None
        return notice

    # --- the workbook's tables and views, and the cells that change them ----------------------------

    def workbook_names(self) -> set[str]:
        """The tables and views the workbook defines (sql/), lower case."""
        if self._workbook_names is None:
            self._workbook_names = {s.name.lower() for s in load_statements() if s.kind == "create"}
        return self._workbook_names

    def touches_workbook(self, stmt: str) -> str | None:
        """The workbook table or view `stmt` drops, changes or redefines ('USE' for a USE statement, which
        hides them all), else None."""
        words = sql_files.code_of(stmt).split()
        if words and (words[0].upper() in _MODULE_WORDS or [w.upper() for w in words[:2]] == ["USE", "MODULES"]):
            return MODULES
        if words and words[0].upper() == "USE":
            return "USE"
        target = sql_files.ddl_target(stmt)
        return target if target in self.workbook_names() else None

    def _for_checks(self, stmt: str) -> bool:
        """Whether the checks' environments run this statement of the cells."""
        words = sql_files.code_of(stmt).split()
        return not (words and words[0].upper() in _CHECKS_SKIP) and self.touches_workbook(stmt) is None

    def changed_workbook(self) -> list[str]:
        """The cells' statements in effect that drop, change or redefine a workbook table or view, or USE."""
        return [stmt for stmt in self.ddl if self.touches_workbook(stmt)]

    def restore(self) -> list[str]:
        """Define the workbook's tables and views again as sql/ has them, in the cells too: the cells'
        statements that dropped, changed or redefined them (and USE) are forgotten, the others run again in
        new environments. Returns the statements forgotten."""
        with self._lock:
            dropped = self.changed_workbook()
            self.ddl = [stmt for stmt in self.ddl if stmt not in dropped]
            self._drop_envs()
        return dropped

    def defined(self) -> list[str]:
        """The datasets whose tables are defined in this session, in the order they were."""
        return list(self._envs)

    def _new_env(self):
        return create_table_env(
            parallelism=1,
            jobmanager=self.cluster_address(),
            pipeline_name="workbook cell",
            options={
                "pipeline.auto-watermark-interval": "0 ms",
                "client.timeout": "30 s",
                "rest.connection-timeout": "5000",
                **CODE_SPLITTING_OFF,
            },
        )

    def dataset_file(self, name: str) -> Path:
        """The dataset as JSON lines, written once (the file name is a hash of its content)."""
        trades = self.datasets[name]()
        lines = [
            json.dumps(dict(t, kafka_partition=0, kafka_offset=i), separators=(",", ":")) for i, t in enumerate(trades)
        ]
        return self._json_lines(name, lines, "trades")

    def rates_file(self, name: str) -> Path:
        """The USD rates of dataset `name` as JSON lines (the `rates` table's file), written once (none when
        self.rates has none for it)."""
        rates = self.rates[name]() if self.rates.get(name) else []
        return self._json_lines(name, [json.dumps(r, separators=(",", ":")) for r in rates], "rates")

    def _json_lines(self, name: str, lines: list[str], what: str) -> Path:
        body = "\n".join(lines) + "\n"
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        label = name if what == "trades" else f"{name}-{what}"
        folder = self.config.workbook_state_dir / "datasets" / f"{label}-{digest}"
        path = folder / f"{what}.json"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{what}.json.tmp"  # the filesystem source skips hidden files
            tmp.write_text(body)
            tmp.rename(path)
        return folder

    def env(self, data: str, protected: bool = False):
        """The environment of `data` ('check', 'sample', ... or 'topic'), its DDL up to date. `protected` (the
        checks'): the workbook's tables and views as sql/ defines them, whatever the cells did to them (an
        environment of its own when the cells changed them, or USE, SET or RESET something)."""
        if data != TOPIC and data not in self.datasets:
            raise ProcessorError(f"--data {data}: unknown dataset (have: {', '.join([*self.datasets, TOPIC])})")
        with self._lock:  # it may end a JVM that stopped answering: never while another thread uses it
            self._restart_if_lost()
            guarded = protected and not all(map(self._for_checks, self.ddl))
            envs = self._protected if guarded else self._envs
            if data == TOPIC or data not in envs:
                t_env = self._new_env()
                self._define_processor_tables(t_env, data)
                envs[data] = (t_env, 0)
            t_env, applied = envs[data]
            for stmt in self.ddl[applied:]:
                if guarded and not self._for_checks(stmt):
                    continue
                try:
                    execute_ddl(t_env, stmt)
                except Exception:  # noqa: BLE001 (Py4J raises plain exceptions)
                    pass  # it failed where it was first run and was reported there
            envs[data] = (t_env, len(self.ddl))
            return t_env

    def _define_processor_tables(self, t_env, data: str) -> None:
        """The processor's source and views (statements.define), the source reading the dataset's file
        instead of Kafka, or the topic bounded at its true end offsets (--data topic)."""
        topic = self.config.kafka_topic
        # the sinks with their columns and types, writing nothing: an INSERT of a cell is planned against them
        statements = [
            dataclasses.replace(s, text=sql_files.as_blackhole_sink(s.text, s.name)) if s.is_sink else s
            for s in load_statements()
            if s.kind == "create"
        ]
        if data != TOPIC:
            files = {SOURCE_TABLE: self.dataset_file(data), RATES_TABLE: self.rates_file(data)}
            statements = [
                dataclasses.replace(s, text=sql_files.as_file_source(s.text, str(files[s.name])))
                if s.name in files
                else s
                for s in statements
            ]
        ends = kafka.true_end_offsets(self.config.kafka_bootstrap_servers, topic) if data == TOPIC else None
        if ends is not None:  # --data topic: the ends of this cell's query (an empty topic's too)
            self.topic_ends = ends
        define(t_env, statements, sql_values(self.config, topic), end_offsets=ends)

    def warm_up(self, sql: str, data: tuple = ("check",)) -> threading.Thread:
        """In the background: start the cluster and define the tables of data[0], run `sql` over them,
        then define the tables of the other datasets. A cold JVM plans and runs its first query in ~9 s,
        a warm one in ~1 s. A cell that comes meanwhile waits for the current step only: the warm-up
        stops there (the cell's own query warms up the rest). Failures are left to the cells to report."""

        def query():
            results.to_pandas(self.env(data[0]).sql_query(sql))

        steps = [lambda: self.env(data[0]), query, *[lambda name=name: self.env(name) for name in data[1:]]]

        def work():
            try:
                for step in steps:
                    if self._cells_waiting:
                        return
                    with self._lock:
                        step()
            except Exception:  # noqa: BLE001 - the first cell meets the same problem and says what it is
                pass

        self.warming = threading.Thread(target=work, name="flinksql-warm-up", daemon=True)
        self.warming.start()
        return self.warming

    def _forget_settings(self, stmt: str) -> bool:
        """`RESET 'key'` of a setting without a workbook default, or `RESET` alone: the cells' SET and RESET
        statements of that key (of every key) are forgotten and the environments made again without them (Flink's
        and the workbook's defaults), so a bad SET always has a way back. False for any other statement."""
        key = _setting_of(stmt)
        if not (_RESET_ALL.match(sql_files.code_of(stmt)) or (key and key not in BASE_OPTIONS)):
            return False
        self.ddl = [s for s in self.ddl if _setting_of(s) is None or key not in (None, _setting_of(s))]
        self._drop_envs()
        return True

    def forget_cells(self) -> None:
        """Forget the cells' CREATE/DROP/SET statements: the next query runs in new environments (the processor's
        tables and views only) over the same warm cluster. The grader calls it between two students, so one
        student's DDL never reaches the next."""
        with self._lock:
            self.ddl.clear()
            self._drop_envs()

    # --- running a cell -------------------------------------------------------------------------

    def run_cell(
        self,
        cell: str,
        data: str = "check",
        limit: int | None = None,
        changelog: bool = False,
        timeout_s: float | None = None,
        protected: bool = False,
    ) -> CellResult:
        """Run every statement of the cell; DDL is kept for later cells. Raises SqlError
        (with the line and column in the cell), QueryTimeout, or SessionLost when the JVM stopped meanwhile.
        `protected`: in the checks' environment (env)."""
        started = time.perf_counter()
        out = CellResult()
        self._cells_waiting += 1  # tells a running warm-up to stop after its current step
        with self._lock:
            self._cells_waiting -= 1
            t_env = self.env(data, protected)
            if protected and not all(self._for_checks(raw) for _, raw in sql_files.split_statements(cell)):
                self._protected.pop(data, None)  # the answer changes the workbook's tables: not for the next check
            for offset, raw in sql_files.split_statements(cell):
                text = raw.rstrip()
                kind = sql_files.kind(text)
                words = sql_files.code_of(text).split()
                first = words[0].upper() if words else ""
                try:
                    if first == "RESET" and self._forget_settings(text):  # a new environment, without those SETs
                        t_env = self.env(data, protected)
                        out.executed.append(" ".join(words[:3]))
                    elif kind == "create" or first in ("DROP", "ALTER", "USE", "SET", "RESET", *_MODULE_WORDS):
                        execute_ddl(t_env, text)
                        self.ddl.append(text)
                        out.executed.append(" ".join(words[:3]))
                    elif not first.startswith(_QUERY_WORDS):  # SHOW, DESCRIBE, EXPLAIN, or a typo
                        out.frame = self._collect_result(t_env.execute_sql(text))
                    else:
                        if kind == "insert":
                            m = sql_files.INSERT_PREFIX.match(text)
                            if m:
                                offset, text = offset + m.end(), text[m.end() :]
                        out.frame = self._query(t_env, text, limit, changelog, timeout_s or self.timeout_s)
                except (QueryTimeout, SqlError):
                    raise
                except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
                    if not pyflink_internals.gateway_answers(PROBE_TIMEOUT_S):  # not the SQL: the JVM is gone
                        self._forget_jvm()
                        self._notice = None  # the error says it
                        raise SessionLost(LOST_WHILE_RUNNING) from None
                    message = short_message(exc)
                    line, column = locate(message, offset, cell)
                    if line is None:  # no place given: the statement's first word
                        first_code = offset + len(raw) - len(raw.lstrip())
                        line, column = locate("at line 1, column 1", first_code, cell)
                    message = _WHERE.sub("", message).replace("  ", " ").strip(" .:,") + "."
                    message = re.sub(r"\s*\.\.$", ".", message).replace(". : ", ": ")
                    raise SqlError(message + self._workbook_changed_note(message), cell, line, column) from None
        out.seconds = time.perf_counter() - started
        return out

    def _workbook_changed_note(self, message: str) -> str:
        """For an error about a missing object after the cells dropped a workbook table or view (or USE):
        how to get them back."""
        changed = self.changed_workbook()
        if not changed or not re.search(r"not (be )?found", message):  # "function [plus] could not be found"
            return ""
        return (
            f" An earlier cell changed the workbook's own tables or views ({' '.join(changed[-1].split())[:80]}):"
            " %flinksql --restore defines them again as sql/ has them (the checks always use those)."
        )

    def plan(self, query: str, data: str = "check") -> Plan:
        """The physical plan of `query` (a SELECT, or an INSERT INTO whose query is taken) over a dataset, with
        the changelog mode of each operator: planned only, nothing runs. The cells' DDL is in effect."""
        m = sql_files.INSERT_PREFIX.match(query)
        text = sql_files.strip_sql(query[m.end() :] if m else query)
        with self._lock:
            t_env = self.env(data, protected=True)
            return physical_plan(planned_again(lambda: t_env.explain_sql(text, _changelog_detail())))

    def execution_plan(self, query: str, data: str = "check") -> str:
        """The "Optimized Execution Plan" section of EXPLAIN for `query` over a dataset: the operators that run
        (a Rank of the physical plan runs as a Deduplicate when it is one). Planned only, nothing runs."""
        text = sql_files.strip_sql(query)
        with self._lock:
            t_env = self.env(data, protected=True)
            explained = planned_again(lambda: t_env.explain_sql(text))
        return explained.split("== Optimized Execution Plan ==", 1)[-1].strip("\n").split("\n\n", 1)[0]

    def plan_insert(self, table: str, query: str, data: str = "check") -> Plan:
        """The plan of `INSERT INTO table <query>` (the query of `query` if it is an INSERT itself) against the
        processor's sink `table`: its columns, their order and types as the processor's job has them. Raises
        SinkMismatch naming the column the table cannot take, ProcessorError for another of Flink's reasons."""
        m = sql_files.INSERT_PREFIX.match(query)
        select = sql_files.strip_sql(query[m.end() :] if m else query)
        with self._lock:
            t_env = self.env(data, protected=True)
            try:
                explained = t_env.explain_sql(f"INSERT INTO {table}\n{select}", _changelog_detail())
            except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
                mismatch = sink_mismatch(str(exc))
                raise (SinkMismatch(mismatch) if mismatch else ProcessorError(flink_message(exc))) from None
        return physical_plan(explained)

    def _collect_result(self, result):
        import pandas as pd

        names = result.get_table_schema().get_field_names()
        with result.collect() as rows:
            return pd.DataFrame([list(r) for r in rows], columns=names)

    def _query(self, t_env, text, limit, changelog, timeout_s):
        return planned_again(lambda: self._query_once(t_env, text, limit, changelog, timeout_s))

    def _query_once(self, t_env, text, limit, changelog, timeout_s):
        import pandas as pd

        table = t_env.sql_query(text)
        names = table.get_schema().get_field_names()
        box = {}

        def run(table):
            if changelog:
                return results.changelog_to_pandas(table, limit, box)
            return results.to_pandas(table)

        def work():
            try:
                box["frame"] = self._split_if_too_big(t_env, text, table, run)
            except BaseException as exc:  # noqa: BLE001 (re-raised in the caller's thread)
                box["error"] = exc

        thread = threading.Thread(target=work, name="flinksql-query", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            self.cancel_jobs()
            thread.join(10)
            raise QueryTimeout(self._stopped(t_env, text, timeout_s, box.get("rows")))
        if "error" in box:
            raise box["error"]
        frame = box["frame"]
        if frame is None or len(frame.columns) == 0:
            frame = pd.DataFrame(columns=names)
        if not changelog:
            frame = sort_rows(frame)
        if limit is not None:
            frame = frame.head(limit)
        return frame

    @staticmethod
    def _split_if_too_big(t_env, text, table, run):
        """run(table); if its generated code did not compile unsplit, once more with Flink's code splitting."""
        try:
            return run(table)
        except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
            config = t_env.get_config()
            if _NOT_COMPILED not in str(exc) or config.get(SPLIT_OPTION, "") == _SPLIT_DEFAULT:
                raise
        config.set(SPLIT_OPTION, _SPLIT_DEFAULT)  # for this query only
        try:
            return run(t_env.sql_query(text))
        finally:
            config.set(SPLIT_OPTION, CODE_SPLITTING_OFF[SPLIT_OPTION])

    def _stopped(self, t_env, text: str, timeout_s: float, rows: int | None) -> str:
        """What a query stopped at its time limit was doing, and a join without a key if its plan has one."""
        what = f"{rows} changelog rows had come back" if rows is not None else "its result had not come back yet"
        said = f"stopped after {timeout_s:g} s: the query was still running ({what}). "
        try:
            joins = physical_plan(t_env.explain_sql(text, _changelog_detail())).joins_without_key
        except Exception:  # noqa: BLE001 (Py4J raises plain exceptions) - then without the plan's word
            joins = []
        if joins:
            return said + (
                "Its plan has a join without an equality between its two sides (a cross join, or one ON a comparison "
                f"only), which pairs every row with every other one: {joins[0][:160]}. Join ON a key (e.g. the "
                "pair), or give it more time with --timeout SECONDS."
            )
        return said + (
            "A query over a fixed dataset normally takes a second or two; give it more time with --timeout "
            "SECONDS, or --limit N to see the first rows."
        )

    def cancel_jobs(self) -> None:
        """Cancel every running job of the session's cluster."""
        if self._cluster is None:
            return
        for status in self._cluster.listJobs().get():
            if not status.getJobState().isGloballyTerminalState():
                self._cluster.cancelJob(status.getJobId())

    def close(self) -> None:
        if self._cluster is not None:
            try:
                self._cluster.close()
            except Exception:  # noqa: BLE001 (Py4J raises plain exceptions) - its JVM is gone: nothing to close
                pass
            self._cluster = self._rest = None
            self._drop_envs()


def sort_rows(frame):
    """Rows in a deterministic order: by every column, left to right (NULLs last)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    try:
        return frame.sort_values(list(frame.columns), kind="mergesort", na_position="last").reset_index(drop=True)
    except TypeError:  # unorderable values (lists, maps): by their text
        keys = frame.astype(str)
        return frame.loc[keys.sort_values(list(keys.columns), kind="mergesort").index].reset_index(drop=True)

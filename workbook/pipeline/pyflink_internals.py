"""Every use of PyFlink's private API, in one file: a PyFlink upgrade that changes it breaks only this one.

PyFlink has no public way to load or compile a JSON plan, to read a table's Java schema, to collect a
result as one Arrow stream, to reach the MiniCluster behind a job, to start a MiniCluster of our own, to
find Flink's class path, to bind its Python-worker server to one interface, or to tell that its JVM is
gone and start another one. The functions below do it
through PyFlink's private handles: the `_j_*` Java objects behind its Python ones, its Py4J gateway and
modules of its internals. Each says which handle it uses. They raise when the handle is not there; the
callers fall back to PyFlink's ordinary path (`results`, `plan_cache`, `class_archive`, `watch`).
tests/test_pyflink_internals.py keeps every other module off these handles.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import types


def jvm():
    """The JVM view of PyFlink's Py4J gateway (`pyflink.java_gateway.get_gateway`); it starts the JVM."""
    from pyflink.java_gateway import get_gateway

    return get_gateway().jvm


def java_table(table):
    """The Java Table behind a PyFlink Table (`Table._j_table`)."""
    return table._j_table


# --- plans: Flink's CompiledPlan, which PyFlink does not wrap ---------------------------------------


def load_plan(t_env, json_text: str):
    """The Java CompiledPlan of a JSON plan, in this environment (`TableEnvironment._j_tenv`, the gateway)."""
    ref = jvm().org.apache.flink.table.api.PlanReference.fromJsonString(json_text)
    return t_env._j_tenv.loadPlan(ref)


def compile_plan(stmt_set):
    """The Java CompiledPlan of a statement set (`StatementSet._j_statement_set`); its asJsonString() is the plan."""
    return stmt_set._j_statement_set.compilePlan()


def table_result(j_result):
    """A Java TableResult (of CompiledPlan.execute()) as PyFlink's TableResult, whose constructor takes it."""
    from pyflink.table.table_result import TableResult

    return TableResult(j_result)


# --- schemas and results --------------------------------------------------------------------------


def column_type_roots(table) -> list[str]:
    """The type root of each column ('BIGINT', 'TIMESTAMP_WITH_LOCAL_TIME_ZONE', ...), from the Java schema:
    one call per column, where PyFlink's get_schema() converts every type to Python (`Table._j_table`)."""
    types = java_table(table).getResolvedSchema().getColumnDataTypes()
    return [t.getLogicalType().getTypeRoot().name() for t in types]


def arrow_batches(table):
    """(column names, run): `run()` executes the table's query and returns its rows as a Java iterator of
    byte arrays, one Arrow IPC stream (Flink's ArrowUtils.collectAsPandasDataFrame, which drops retracted
    rows on the Java side: what PyFlink's Table.to_pandas reads). Every handle is looked up here, before
    anything runs (`Table._j_table`, the gateway)."""
    j_table = java_table(table)
    j = jvm()
    arrow_utils = j.org.apache.flink.table.runtime.arrow.ArrowUtils
    batch_size_option = j.org.apache.flink.python.PythonOptions.MAX_ARROW_BATCH_SIZE
    names = list(j_table.getResolvedSchema().getColumnNames())
    config = j_table.getTableEnvironment().getConfig()

    def run():
        return arrow_utils.collectAsPandasDataFrame(j_table, config.get(batch_size_option))

    return names, run


def local_time_zone(table) -> str:
    """The id of the time zone of the table's environment (table.local-time-zone) (`Table._j_table`)."""
    return java_table(table).getTableEnvironment().getConfig().getLocalTimeZone().getId()


def watermark_of(t_env, table_path: str) -> tuple[str, str, str | None] | None:
    """The first watermark of a table's schema as (rowtime column, watermark expression as Flink prints it,
    type of the rowtime column as text, None if it is not a top-level column); None: no watermark.
    PyFlink's schema has no watermarks (`Table._j_table`)."""
    schema = java_table(t_env.from_path(table_path)).getResolvedSchema()
    specs = list(schema.getWatermarkSpecs())
    if not specs:
        return None
    rowtime = specs[0].getRowtimeAttribute()
    column = schema.getColumn(rowtime)
    column_type = str(column.get().getDataType()) if column.isPresent() else None
    return rowtime, specs[0].getWatermarkExpression().asSummaryString(), column_type


# --- clusters ---------------------------------------------------------------------------------------


def start_mini_cluster(options: dict, slots: int):
    """A started Java MiniCluster (Flink's runtime class, through the gateway) with one TaskManager of
    `slots` slots, random ports and these Flink options; its getRestAddress(), listJobs(), cancelJob()
    and close() are Flink's. PyFlink only starts one per job, and stops it after."""
    j = jvm()
    conf = j.org.apache.flink.configuration.Configuration()
    for key, value in {**options, "taskmanager.numberOfTaskSlots": str(slots)}.items():
        conf.setString(key, value)
    mc_conf = (
        j.org.apache.flink.runtime.minicluster.MiniClusterConfiguration.Builder()
        .withRandomPorts()
        .setConfiguration(conf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(slots)
        .build()
    )
    cluster = j.org.apache.flink.runtime.minicluster.MiniCluster(mc_conf)
    cluster.start()
    return cluster


def mini_cluster_rest_address(job_client) -> str:
    """The REST API (http://HOST:PORT) of the MiniCluster that runs `job_client`'s job: a private field of
    the Java MiniClusterJobClient (`JobClient._j_job_client`, `pyflink.util.java_utils.get_field_value`).
    Raises for a job of another client (a session cluster's)."""
    from pyflink.util.java_utils import get_field_value

    mini_cluster = get_field_value(job_client._j_job_client, "miniCluster")
    return str(mini_cluster.getRestAddress().get().toString()).rstrip("/")


# --- the JVM and the Python workers -----------------------------------------------------------------


def flink_classpath() -> str:
    """The class path PyFlink starts its JVM with: Flink's jars and Hadoop's (`pyflink.pyflink_gateway_server`)."""
    from pyflink.pyflink_gateway_server import (
        construct_flink_classpath,
        construct_hadoop_classpath,
        prepare_environment_variables,
    )

    env = dict(os.environ)
    prepare_environment_variables(env)
    return os.pathsep.join([construct_flink_classpath(env), construct_hadoop_classpath(env)])


def python_worker_pool_on(host: str) -> None:
    """PyFlink starts a gRPC server for its Python workers in every local TableEnvironment
    (pyflink/fn_execution/beam/beam_worker_pool_service.py), bound to [::]:0, every interface.
    Its start() is replaced by one that binds `host` (one server per process, as intended).
    Nothing to do for a PyFlink without its Beam runtime: no Python workers, no server."""
    try:
        from pyflink.fn_execution.beam import beam_worker_pool_service as pool
    except ImportError:
        return
    cls = pool.BeamFnLoopbackWorkerPoolServicer
    if getattr(cls, "_workbook_on_loopback", False):
        return

    def start(self):
        if getattr(cls, "_workbook_address", None) is None:
            import atexit
            import functools

            import grpc
            from apache_beam.utils import thread_pool_executor

            server = grpc.server(thread_pool_executor.shared_unbounded_instance())
            port = server.add_insecure_port(f"{host}:0")
            pool.beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(self, server)
            server.start()
            atexit.register(functools.partial(server.stop, 1))
            cls._workbook_address = f"{host}:{port}"
        self._worker_address = cls._workbook_address
        return cls._workbook_address

    cls.start = start
    cls._workbook_on_loopback = True


# --- the gateway's JVM: is it there, and a new one when it is not --------------------------------------
# PyFlink starts one JVM per process (`pyflink.java_gateway._gateway`) and never notices that it died: every
# later call fails in Py4J (a traceback logged per call). These let the caller probe it, end it and start anew.


_PROBE: dict = {}  # the gateway gateway_answers last probed, and its System.nanoTime


def gateway_answers(timeout_s: float = 15.0) -> bool:
    """Whether PyFlink's gateway answers a trivial call within `timeout_s` (True when no JVM was started yet).
    False for a JVM that was killed, whose Py4J server is gone, or that hangs (`pyflink.java_gateway._gateway`)."""
    from pyflink import java_gateway

    gateway = java_gateway._gateway
    if gateway is None:
        return True
    box = {}

    def probe():
        try:
            # one round trip: the method is looked up (4 reflection calls) once per gateway
            if _PROBE.get("gateway") is not gateway:
                _PROBE.update(gateway=gateway, call=gateway.jvm.java.lang.System.nanoTime)
            box["ok"] = _PROBE["call"]() is not None
        except Exception:  # noqa: BLE001 - Py4J raises plain exceptions: any failure is no answer
            box["ok"] = False

    thread = threading.Thread(target=probe, name="flink-gateway-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return box.get("ok", False)


def gateway_port() -> int | None:
    """The Py4J port of PyFlink's gateway (its JVM listens on it); None when no JVM was started
    (`pyflink.java_gateway._gateway`)."""
    from pyflink import java_gateway

    gateway = java_gateway._gateway
    return None if gateway is None else gateway.gateway_parameters.port


def forget_gateway() -> None:
    """Forget PyFlink's gateway, so that the next PyFlink call starts a new JVM; its Python side (sockets, the
    callback server) is closed. The old JVM is the caller's to end (`pyflink.java_gateway._gateway`)."""
    from pyflink import java_gateway

    with java_gateway._lock:
        gateway, java_gateway._gateway = java_gateway._gateway, None
    _CHANGELOG_CLASSES.clear()  # compiled in the old JVM
    _PROBE.clear()
    if gateway is not None:
        try:
            gateway.close(keep_callback_server=False)  # Python side only
        except Exception:  # noqa: BLE001 - a half-dead gateway may fail to close; it is forgotten either way
            pass


def quiet_py4j(log_file) -> None:
    """Py4J's log records go to `log_file`, never to the notebook (nor gRPC's INFO lines): a dead JVM makes Py4J log a traceback for
    every call, at ERROR, some on the root logger (java_gateway's module-level `logging.exception`, which also
    gives the root logger a stderr handler). The 'py4j' logger stops propagating and gets a file handler;
    java_gateway's module `logging` is replaced by one whose functions log on its own logger."""
    from py4j import java_gateway as py4j_gateway

    # gRPC (PyFlink's Python-worker server) logs at INFO to the process's stderr when a new JVM is forked
    # while its threads run ("skipping fork() handlers"); read when gRPC starts, which is later
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    root = logging.getLogger("py4j")
    if getattr(root, "_workbook_quiet", False):
        return
    os.makedirs(os.path.dirname(str(log_file)) or ".", exist_ok=True)
    handler = logging.FileHandler(log_file, delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.propagate = False
    own = logging.getLogger("py4j.java_gateway")
    shim = types.SimpleNamespace(**{name: getattr(logging, name) for name in dir(logging) if not name.startswith("__")})
    for level in ("debug", "info", "warning", "error", "exception", "critical"):
        setattr(shim, level, getattr(own, level))
    py4j_gateway.logging = shim
    root._workbook_quiet = True


# --- a changelog in batches -------------------------------------------------------------------------

# Flink's ArrowUtils.collectAsPandasDataFrame (what PyFlink's to_pandas reads) drops a changelog's retractions.
# This is the same Arrow collection with each row's kind kept, as a first column `op` (0 +I, 1 -U, 2 +U, 3 -D):
# one Py4J call per batch instead of three per row (PyFlink's collect()). Compiled once per JVM by Janino, the
# compiler Flink itself uses for its generated code. A batch comes back as a base64 string (Py4J decodes a
# byte array byte by byte in Python): the Arrow stream's schema with the first, then one record batch each.
_ARROW = "org.apache.flink.api.python.shaded.org.apache.arrow"
_CHANGELOG_CLASS = "WorkbookChangelogArrow"
_CHANGELOG_SOURCE = f"""
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.util.DataFormatConverters;
import org.apache.flink.table.data.utils.JoinedRowData;
import org.apache.flink.table.runtime.arrow.ArrowUtils;
import org.apache.flink.table.runtime.arrow.ArrowWriter;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TinyIntType;
import org.apache.flink.table.types.utils.TypeConversions;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import {_ARROW}.memory.BufferAllocator;
import {_ARROW}.vector.VectorSchemaRoot;
import {_ARROW}.vector.ipc.ArrowStreamWriter;

public class {_CHANGELOG_CLASS} {{
  private CloseableIterator rows;
  private DataFormatConverters.DataFormatConverter converter;
  private BufferAllocator allocator;
  private VectorSchemaRoot root;
  private ArrowWriter writer;
  private ArrowStreamWriter stream;
  private java.io.ByteArrayOutputStream bytes;

  public void open(org.apache.flink.table.api.Table table) throws Exception {{
    ArrowUtils.checkArrowUsable();  // sets the shaded Netty's reflection property before Netty first loads
    RowType rowType = (RowType) table.getResolvedSchema().toSourceRowDataType().getLogicalType();
    java.util.List fields = new java.util.ArrayList();
    fields.add(new RowType.RowField("op", new TinyIntType(false)));
    fields.addAll(rowType.getFields());
    RowType withKind = new RowType(fields);
    converter = DataFormatConverters.getConverterForDataType(TypeConversions.fromLogicalToDataType(rowType));
    allocator = ArrowUtils.getRootAllocator().newChildAllocator("workbook-changelog", 0, Long.MAX_VALUE);
    root = VectorSchemaRoot.create(ArrowUtils.toArrowSchema(withKind), allocator);
    bytes = new java.io.ByteArrayOutputStream();
    stream = new ArrowStreamWriter(root, null, bytes);
    stream.start();
    writer = ArrowUtils.createRowDataArrowWriter(root, withKind);
    rows = table.execute().collect();
  }}

  public String next(int limit) throws Exception {{
    int n = 0;
    while (n < limit && rows.hasNext()) {{
      Row row = (Row) rows.next();
      GenericRowData kind = new GenericRowData(1);
      kind.setField(0, Byte.valueOf(row.getKind().toByteValue()));
      writer.write(new JoinedRowData(kind, (RowData) converter.toInternal(row)));
      n++;
    }}
    if (n > 0) {{
      writer.finish();
      stream.writeBatch();
      writer.reset();
    }}
    String out = java.util.Base64.getEncoder().encodeToString(bytes.toByteArray());
    bytes.reset();
    return n > 0 ? out : "";
  }}

  public void close() throws Exception {{
    rows.close();
    root.close();
    allocator.close();
  }}
}}
"""
_CHANGELOG_CLASSES: dict = {}  # one compiled class per JVM (PyFlink has one gateway per process)


def changelog_arrow(table, batch: int = 8_192):
    """(column names, chunks): the table's query runs; the chunks, bytes, are one Arrow IPC stream of its
    changelog in arrival order, the row kind in a first column `op` (RowKind's byte: 0 +I, 1 -U, 2 +U, 3 -D).
    The chunks end with the query (a bounded one) or when the caller closes the generator, which closes the
    result iterator and so cancels the job. Uses `Table._j_table`, the gateway, Flink's ArrowUtils and its
    Janino compiler."""
    j = jvm()
    key = id(j)
    if key not in _CHANGELOG_CLASSES:
        compiler = j.org.codehaus.janino.SimpleCompiler()
        compiler.cook(_CHANGELOG_SOURCE)
        _CHANGELOG_CLASSES[key] = compiler.getClassLoader().loadClass(_CHANGELOG_CLASS)
    collector = _CHANGELOG_CLASSES[key].newInstance()
    j_table = java_table(table)
    names = list(j_table.getResolvedSchema().getColumnNames())

    def chunks():
        collector.open(j_table)
        try:
            while True:
                data = collector.next(batch)
                if not data:
                    return
                yield base64.b64decode(data)
        finally:
            collector.close()

    return names, chunks()

"""The speed-ups of Flink jobs and of collecting their results, in one place, behind one setting.

- Compiled plans: planning the SQL takes ~1.5 s of every start. The JSON plan
  of a statement set (Flink's CompiledPlan, keyed by the statements' text) is
  written once under .state/plans/ and loaded instead the next time.
- A class-data-sharing archive (AppCDS) of the classes Flink loads: loading and
  verifying ~20,000 classes takes ~2 s of every JVM start.
- Results as a DataFrame: PyFlink's Table.to_pandas converts the table's schema
  to Python types field by field, three times, each type a dozen Py4J calls:
  ~0.7 s of a 0.5 s query. `to_pandas` reads the same Arrow stream with the
  schema Arrow already carries (bench/bench_magic.py).

- A warm-up: `%load_ext workbook` starts the kernel's session in the background
  (JVM, MiniCluster, one query), while the student reads on (course.magic).

WORKBOOK_SPEEDUPS=0 turns them off (WORKBOOK_PLAN_CACHE=0, WORKBOOK_JVM_CDS=0,
WORKBOOK_ARROW_COLLECT=0 or WORKBOOK_WARM_UP=0 turns off one); the results are the same either way
(tests/test_processor_flink.py, tests/test_magic.py). They rely on PyFlink's private
handles (`_j_tenv`, `_j_statement_set`, `_j_table`): every use of them is here, and
each falls back to the ordinary path when it fails.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

from ..kafka import specific_offsets_option
from . import sql_files

_OFF = ("0", "false", "no", "off")


def enabled(setting: str | None = None) -> bool:
    """Whether the speed-ups are on (WORKBOOK_SPEEDUPS), and the one named by `setting`."""
    if os.environ.get("WORKBOOK_SPEEDUPS", "1").strip().lower() in _OFF:
        return False
    return setting is None or os.environ.get(setting, "1").strip().lower() not in _OFF


# --- compiled plans: planning the SQL takes ~1.5 s of every start; a JSON plan compiled once
# (Flink's CompiledPlan, keyed by the statements' text) is loaded instead the next time ------------

PLAN_FORMAT = 1
PLANS_KEPT = 20  # the newest ones; tests make a new one per PostgreSQL schema


def plan_path(state_dir: Path, statements, values: dict, dry_run: bool, bounded: bool):
    """Where the compiled plan of exactly these statements is cached (None: caching off)."""
    import hashlib

    if not enabled("WORKBOOK_PLAN_CACHE"):
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
    return Path(state_dir) / "plans" / f"{key}.json"


def execute_plan(t_env, path: Path, end_offsets: dict | None):
    """Run a cached plan (with today's end offsets); None if it cannot be used (it is dropped)."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table.table_result import TableResult

    try:
        plan = json.loads(path.read_text())
        if end_offsets is not None:
            found = False
            for node in plan.get("nodes", []):
                options = node.get("scanTableSource", {}).get("table", {}).get("resolvedTable", {}).get("options", {})
                if "scan.bounded.specific-offsets" in options:
                    options["scan.bounded.specific-offsets"] = specific_offsets_option(end_offsets)
                    found = True
            if not found:
                raise ValueError("no bounded source in the cached plan")
        ref = get_gateway().jvm.org.apache.flink.table.api.PlanReference.fromJsonString(json.dumps(plan))
        return TableResult(t_env._j_tenv.loadPlan(ref).execute())
    except Exception:  # noqa: BLE001 - an unusable plan is dropped, the job is planned again
        try:
            path.unlink()
        except OSError:
            pass
        return None


def compile_and_execute(stmt_set, path: Path | None):
    """Execute the statement set; compile it to a JSON plan first and cache it when possible."""
    from pyflink.table.table_result import TableResult

    if path is None:
        return stmt_set.execute()
    try:
        compiled = stmt_set._j_statement_set.compilePlan()
        text = compiled.asJsonString()
    except Exception:  # noqa: BLE001 - a statement the JSON plans do not support: plan it the usual way
        return stmt_set.execute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.touch(mode=0o600)  # the plan holds the connectors' options, the JDBC password too
        tmp.write_text(text)
        tmp.replace(path)
        for old in sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-PLANS_KEPT]:
            old.unlink()
    except OSError:
        pass
    return TableResult(compiled.execute())


# --- results as a DataFrame -----------------------------------------------------------------

_LTZ_ROOT = "TIMESTAMP_WITH_LOCAL_TIME_ZONE"


def to_pandas(table):
    """table.to_pandas(), the same frame (dtypes included), without converting the schema to
    Python types: one Arrow stream from Flink's ArrowUtils, TIMESTAMP_LTZ columns localized
    to the session's time zone as PyFlink does."""
    if not enabled("WORKBOOK_ARROW_COLLECT"):
        return table.to_pandas()
    try:
        from pyflink.java_gateway import get_gateway

        j_table = table._j_table
        jvm = get_gateway().jvm
        arrow_utils = jvm.org.apache.flink.table.runtime.arrow.ArrowUtils
        batch_size_option = jvm.org.apache.flink.python.PythonOptions.MAX_ARROW_BATCH_SIZE
        names = list(j_table.getResolvedSchema().getColumnNames())
        config = j_table.getTableEnvironment().getConfig()
    except Exception:  # noqa: BLE001 - another PyFlink: its own way (before anything ran)
        return table.to_pandas()
    ltz = ltz_columns(table)
    import pandas as pd
    import pyarrow as pa

    batches = arrow_utils.collectAsPandasDataFrame(j_table, config.get(batch_size_option))
    if not batches.hasNext():
        return pd.DataFrame.from_records([], columns=names)
    frame = pa.ipc.open_stream(io.BufferedReader(_JavaBytes(batches))).read_all().to_pandas()
    zone = None
    for name, is_ltz in zip(names, ltz):
        if is_ltz:
            if zone is None:
                import pytz

                zone = pytz.timezone(config.getLocalTimeZone().getId())
            frame[name] = frame[name].dt.tz_localize(zone)
    return frame


def ltz_columns(table) -> list[bool]:
    """For each column of the table: is it TIMESTAMP_LTZ? Read from the Java schema (one call per
    column; PyFlink's get_schema() converts every type to Python, a dozen calls each)."""
    try:
        types = table._j_table.getResolvedSchema().getColumnDataTypes()
        return [t.getLogicalType().getTypeRoot().name() == _LTZ_ROOT for t in types]
    except Exception:  # noqa: BLE001 - another PyFlink: through its Python types
        from pyflink.table.types import LocalZonedTimestampType

        return [isinstance(t, LocalZonedTimestampType) for t in table.get_schema().get_field_data_types()]


class _JavaBytes(io.RawIOBase):
    """A Java iterator of byte arrays as a readable stream (for Arrow's reader)."""

    def __init__(self, iterator):
        super().__init__()
        self._iterator, self._chunk, self._at = iterator, memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._at >= len(self._chunk):
            if not self._iterator.hasNext():
                return 0
            self._chunk, self._at = memoryview(bytes(self._iterator.next())), 0
        n = min(len(buffer), len(self._chunk) - self._at)  # no copy of the rest: big results stay linear
        buffer[:n] = self._chunk[self._at : self._at + n]
        self._at += n
        return n


# --- the JVM class-data archive ------------------------------------------------------------


def class_archive_options(java, state_dir) -> list:
    """JVM options for a class-data-sharing archive (AppCDS) of the classes Flink loads.

    Loading and verifying Flink's ~20,000 classes takes ~2 s of every start. The first
    run writes them to an archive when its JVM exits (-XX:ArchiveClassesAtExit); later
    runs map it (-XX:SharedArchiveFile). The archive belongs to one Java and one set of
    jars (its name is a hash of both); a stale or broken one is ignored by the JVM.
    WORKBOOK_JVM_CDS=0 turns this off."""
    import glob
    import hashlib

    if not enabled("WORKBOOK_JVM_CDS"):
        return []
    try:
        import pyflink

        lib = os.path.join(os.path.dirname(pyflink.__file__), "lib")
        jars = sorted(glob.glob(os.path.join(lib, "*.jar")))
        h = hashlib.sha1(f"{java.home}|{java.version}".encode())
        for jar in jars:
            st = os.stat(jar)
            h.update(f"|{os.path.basename(jar)}:{st.st_size}:{int(st.st_mtime)}".encode())
        cds_dir = os.path.join(str(state_dir), "cds")
        os.makedirs(cds_dir, exist_ok=True)
    except OSError:
        return []
    stem = os.path.join(cds_dir, f"flink-{h.hexdigest()[:12]}")
    quiet = ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    now = time.time()
    for old in glob.glob(os.path.join(cds_dir, "flink-*.jsa*")):  # archives of other Javas or jars
        if not old.startswith(stem) and now - os.path.getmtime(old) > 3600:
            _remove(old)
    # each JVM writes its own file when it exits; use the newest, drop the others
    done = sorted((p for p in glob.glob(stem + "-*.jsa") if os.path.getsize(p) > 0), key=os.path.getmtime)
    for old in done[:-1]:
        if now - os.path.getmtime(old) > 60:
            _remove(old)
            _remove(old + ".ok")
    if done and _usable(done[-1], java):
        return ["-XX:SharedArchiveFile=" + done[-1]] + quiet
    return [f"-XX:ArchiveClassesAtExit={stem}-{os.getpid()}.jsa"] + quiet


def _usable(archive: str, java) -> bool:
    """Whether the JVM maps this archive with PyFlink's class path (checked once: a marker
    file remembers it). A broken or mismatched archive is deleted; the next run writes one."""
    if os.path.exists(archive + ".ok"):
        return True
    import subprocess

    try:
        from pyflink.pyflink_gateway_server import (
            construct_flink_classpath,
            construct_hadoop_classpath,
            prepare_environment_variables,
        )

        env = dict(os.environ)
        prepare_environment_variables(env)
        classpath = os.pathsep.join([construct_flink_classpath(env), construct_hadoop_classpath(env)])
        out = subprocess.run(
            [str(java.executable), f"-XX:SharedArchiveFile={archive}", "-Xshare:on", "-cp", classpath, "-version"],
            capture_output=True,
            timeout=60,
        )
    except Exception:  # noqa: BLE001 - any failure means: no archive
        return False
    if out.returncode == 0:
        open(archive + ".ok", "w").close()
        return True
    _remove(archive)
    return False


def _remove(path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass

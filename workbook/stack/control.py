"""Start, stop and inspect the embedded stack as a whole."""

from __future__ import annotations

import functools
import time

from ..config import PROJECT_ROOT, Config, load_config
from ..java import find_java
from . import docker, lock, port_choice, procs, shared
from .broker import Broker
from .flink_cluster import FlinkCluster, student_jobs
from .ports import PortInUse
from .postgres import Postgres
from .services import Service, ServiceError, Status
from .stream import Stream
from .usage import session_usage

CORE = (Broker, Postgres)


def services(config: Config) -> list[Service]:
    return [Broker(config), Postgres(config), FlinkCluster(config), Stream(config)]


def up(config: Config | None = None, flink: bool = False, stream: bool = False, say=print) -> list[Status]:
    """Start what is not running yet (idempotent) and return the statuses. One `up` or `down` at a time per
    state folder (stack/lock.py): a second one waits, then finds the services running. STACK=docker: Docker
    Compose runs the services; their statuses say which answer (stack/docker.py), and nothing is started.
    A port not set in .env whose default is taken by another process is replaced by a free one, for every
    service (the Flink cluster's too, so a kernel started now knows it), remembered in the state folder
    (stack/port_choice.py)."""
    config = config or load_config()
    if config.stack == "docker":
        return docker.check(config, flink=flink, stream=stream, say=say)
    if config.stack == "shared":
        return shared.check(config, stream=stream, say=say)
    say(f"Java: {find_java().describe()}")
    command = " ".join(["python -m workbook up", *(["--flink"] if flink else []), *(["--stream"] if stream else [])])
    with lock.held(config.workbook_state_dir, command, say):
        config = port_choice.choose(config, [Broker(config), Postgres(config), FlinkCluster(config)], say)
        wanted = [Broker, Postgres, *([FlinkCluster] if flink else []), *([Stream] if stream else [])]
        started = []
        for kind in wanted:
            svc = kind(config)
            if svc.pid() is not None:
                _already_running(svc, config, say)
            else:
                config, svc = _start(svc, say)
            started.append(svc)
        return [s.status() for s in started]


def _start(svc: Service, say, attempts: int = 3) -> tuple[Config, Service]:
    """Start `svc`; when another process takes a port `up` chose (another user starting at the same moment),
    choose again and retry. The configuration it started with, and the service."""
    for _ in range(attempts):
        t0 = time.monotonic()
        say(f"{svc.name}: starting at {svc.address} ...")
        try:
            svc.start()
        except PortInUse:
            config = port_choice.choose(svc.config, [svc], say)
            if config == svc.config:  # a port of .env, or nothing free near it: said as it is
                raise
            svc = type(svc)(config)
            continue
        say(f"{svc.name}: up in {time.monotonic() - t0:.1f}s (pid {svc.pid()}, log {svc.log_path})")
        return svc.config, svc
    raise PortInUse(f"{svc.name}: every port tried was taken by another process while ours started: run `up` again")


def _already_running(svc: Service, config: Config, say) -> None:
    moved = svc.moved()
    if moved:  # the pid file found a server on another port than .env says: say so, do not wait on it
        raise ServiceError(moved)
    pids = svc.pids()
    if isinstance(svc, Stream) and len(pids) > 1:  # one stream: a second producer would double it
        for extra in pids[1:]:
            say(f"stream: stopping another producer sending to the same topic, {procs.describe(extra)}")
            procs.stop_pid(extra)
    adopted = svc.adopt()
    say(f"{svc.name}: already running at {svc.address} (pid {svc.pid()}{f'; {adopted}' if adopted else ''})")
    if isinstance(svc, Broker):  # make sure topic/tables exist after a manual change
        svc.create_topic(config.kafka_topic, config.kafka_topic_partitions, config.kafka_retention_ms)
    elif isinstance(svc, Postgres):
        svc.create_database_and_tables()


def down(config: Config | None = None, wipe_db: bool = False, say=print) -> None:
    """Stop every process of the stack: those `up` recorded, and those found by their port or command line
    (a stale pid file stops nothing else). Also under STACK=docker: the embedded services hold the ports the
    Docker stack publishes, so they are stopped before switching. Waits for a running `up` to finish first."""
    config = config or load_config()
    if config.stack == "docker":
        say("STACK=docker: Docker Compose stops the Docker stack (`docker compose down`); stopping the embedded one")
    elif config.stack == "shared":
        say("STACK=shared: the class's services are the instructor's and keep running; stopping this project's own")
    command = "python -m workbook down" + (" --wipe-db" if wipe_db else "")
    with lock.held(config.workbook_state_dir, command, say):
        for svc in reversed(services(config)):
            pids = svc.pids()
            if pids:
                say(f"{svc.name}: stopping (pid{'s' if len(pids) > 1 else ''} {', '.join(map(str, pids))})")
                svc.stop()
            elif isinstance(svc, FlinkCluster):
                svc.stop()  # also clears stale pid files
        if wipe_db:
            Postgres(config).wipe()
            say("postgres: data directory deleted")
        else:
            say(f"stopped; PostgreSQL data kept in {Postgres(config).data_dir}")


def status(config: Config | None = None) -> list[Status]:
    config = config or load_config()
    if config.stack == "docker":
        return docker.status(config, flink=True)
    if config.stack == "shared":
        return shared.status(config)
    return [svc.status() for svc in services(config)]


def health_frame(rows: list[Status]):
    """Statuses as a small pandas table (no pids or paths: the same on every machine). When a service is not
    healthy, a `detail` column says why and what to do (shown whole, not cut at pandas' 50 characters); when all
    are healthy the table has no such column."""
    import pandas as pd  # deferred on purpose: `python -m workbook up` runs without importing pandas

    frame = pd.DataFrame(
        # running: a process of ours, or (STACK=docker) a service that answers
        [
            {"service": s.name, "address": s.address, "running": s.pid is not None or s.healthy, "healthy": s.healthy}
            for s in rows
        ]
    ).set_index("service")
    if all(s.healthy for s in rows):
        return frame
    frame["detail"] = [s.detail for s in rows]
    return _whole_text_frame(pd)(frame)


@functools.cache
def _whole_text_frame(pd):
    """A DataFrame class that shows its text columns whole (notebook HTML and text)."""

    class WholeTextFrame(pd.DataFrame):
        @property
        def _constructor(self):
            return WholeTextFrame

        def _repr_html_(self):
            with pd.option_context("display.max_colwidth", None):
                return super()._repr_html_()

        def __repr__(self):
            with pd.option_context("display.max_colwidth", None):
                return super().__repr__()

    return WholeTextFrame


def format_status(rows: list[Status]) -> str:
    lines = [f"{'service':<9} {'state':<9} {'pid':>7} {'RSS MiB':>8}  address / detail"]
    for s in rows:
        # stopped: an embedded service not running; a Docker service (no pid of ours) that fails its check: UNHEALTHY
        state = s.state or (
            "healthy" if s.healthy else ("stopped" if s.pid is None and s.detail == "stopped" else "UNHEALTHY")
        )
        pid = str(s.pid) if s.pid else "-"
        rss = f"{s.rss_mb:.0f}" if s.pid else "-"
        lines.append(f"{s.name:<9} {state:<9} {pid:>7} {rss:>8}  {s.address}")
        if s.pid or s.detail != "stopped":  # the Docker stack's rows have no pid, and a detail
            lines.append(f"{'':<37}{s.detail}")
    total = sum(s.rss_mb for s in rows)
    lines.append(f"total RSS of running services: {total:.0f} MiB")
    sessions = session_usage(PROJECT_ROOT, exclude={s.pid for s in rows if s.pid})
    if sessions:  # what a student's session costs beside the services (docs/classroom.md sizes a server by it)
        parts = ", ".join(f"{role} x{n} {mib:.0f} MiB" for role, (n, mib) in sorted(sessions.items()))
        lines.append(f"this project's sessions (the kernels with their Flink JVMs): {parts}")
        lines.append(f"total RSS of this project: {total + sum(mib for _, mib in sessions.values()):.0f} MiB")
    return "\n".join(lines)


def format_student_jobs(config: Config, shown: int = 10) -> str:
    """Shared-cluster mode: the student's Flink jobs on the session cluster (FLINK_JOBMANAGER, else the one `up
    --flink` runs), newest first; the other students' jobs are not shown."""
    address = config.flink_jobmanager or config.jobmanager_address  # FLINK_JOBMANAGER: also under STACK=embedded
    who = f"STUDENT_ID={config.student_id}"
    try:
        jobs = student_jobs(address, config.student_id)
    except (OSError, ValueError) as exc:  # ValueError: something else answers there, not Flink's REST API
        return f"your Flink jobs ({who}): the session cluster at http://{address} does not answer ({exc})"
    if not jobs:
        return f"your Flink jobs ({who}) on http://{address}: none"
    lines = [f"your Flink jobs ({who}) on http://{address}:"]
    for j in jobs[:shown]:
        lines.append(f"  {j.get('jid')}  {j.get('state'):<10} {j.get('name')}")
    if len(jobs) > shown:
        lines.append(f"  ... and {len(jobs) - shown} older one(s)")
    return "\n".join(lines)

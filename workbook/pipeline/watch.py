"""Checks and a watcher around a job, so that a service that is down shows up on the
console within seconds instead of in a Flink log file.

- before a run: the Kafka broker and the session cluster answer (`check_broker`,
  `check_jobmanager`) and PostgreSQL accepts the login (`check_postgres`: which setting is wrong),
  or the run stops at once with a message that says where and what to do;
- while a job runs in this process: `JobWatcher` probes PostgreSQL every 2 s and
  reads the job's restarts and exceptions from the MiniCluster's REST API (on
  127.0.0.1), and says when PostgreSQL goes away, when the job restarts and why,
  and when PostgreSQL is back. A streaming job restarts from its last checkpoint
  (flink_env.RESTART_OPTIONS), so the windows of an outage are written afterwards.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request

from .. import database
from ..config import Config, is_loopback
from ..kafka import KafkaUnavailable, check_broker
from . import pyflink_internals
from .errors import ProcessorError, one_line


def check_kafka(bootstrap_servers: str, timeout_s: float = 5.0, metadata: bool = True) -> None:
    """ProcessorError, within `timeout_s` (+ a little), if no broker of the list answers
    (`metadata=False`: only whether one accepts a connection, without importing kafka-python)."""
    try:
        check_broker(bootstrap_servers, timeout_s=timeout_s, metadata=metadata)
    except KafkaUnavailable as exc:
        raise ProcessorError(str(exc)) from None


def check_jobmanager(address: str, timeout_s: float = 5.0) -> None:
    """ProcessorError if the session cluster's REST API at HOST:PORT does not answer."""
    base = address if address.startswith(("http://", "https://")) else f"http://{address}"
    try:
        with urllib.request.urlopen(base.rstrip("/") + "/overview", timeout=timeout_s) as r:
            r.read()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProcessorError(
            f"cannot reach the Flink session cluster's REST API at {base} ({reason}): is the JobManager up? The "
            "address comes from --jobmanager or FLINK_JOBMANAGER in .env. Start the cluster with `python -m workbook up --flink` (or "
            "`docker compose --profile flink up -d`), or leave FLINK_JOBMANAGER empty (or pass --local) to run "
            "in this process."
        ) from None


def check_free_slots(address: str, parallelism: int, timeout_s: float = 5.0, wait_s: float = 10.0) -> None:
    """ProcessorError when the session cluster at HOST:PORT has fewer free task slots than the job needs (one per
    parallel instance), still after `wait_s` seconds (a job just cancelled, by --replace or by hand, frees its
    slots a moment after it shows CANCELED): Flink itself would keep the job waiting for five minutes
    (slot.request.timeout), then fail it with NoResourceAvailableException. Best effort: two students checking at
    the same moment may both see the last slot."""
    base = address if address.startswith(("http://", "https://")) else f"http://{address}"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(base.rstrip("/") + "/overview", timeout=timeout_s) as r:
                overview = json.loads(r.read() or b"{}")
        except (OSError, ValueError):
            return  # check_jobmanager says that one
        free, total = overview.get("slots-available"), overview.get("slots-total")
        if not isinstance(free, int) or free >= parallelism:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    raise ProcessorError(
        f"not submitting: the Flink session cluster at {base} has {free} free task slot(s) of {total}, and this job "
        f"needs {parallelism} (--parallelism). The other jobs hold the rest. More slots: TASKMANAGER_SLOTS in the "
        "cluster's .env (slots per TaskManager: `python -m workbook up --flink` after `python -m workbook down`, or "
        "the Docker stack's taskmanager), or more TaskManagers; or cancel a job you no longer need (`python -m "
        "workbook status` lists yours)."
    )


def taskmanager_hosts(address: str, timeout_s: float = 5.0) -> list[str]:
    """The hosts of the session cluster's TaskManagers, from its REST API (GET /taskmanagers: each one's RPC path,
    'pekko.tcp://flink@HOST:PORT/user/rpc/...'); [] when the API does not say."""
    base = address if address.startswith(("http://", "https://")) else f"http://{address}"
    try:
        with urllib.request.urlopen(base.rstrip("/") + "/taskmanagers", timeout=timeout_s) as r:
            found = json.loads(r.read() or b"{}").get("taskmanagers", [])
    except (OSError, ValueError, AttributeError):
        return []
    hosts = []
    for tm in found if isinstance(found, list) else []:
        m = re.search(r"@(\[[^\]]+\]|[^:/]+):\d+", str(tm.get("path", "")))
        if m:
            hosts.append(m.group(1).strip("[]"))
    return hosts


def check_cluster_reaches_services(
    jobmanager: str, config: Config, jdbc_url: str | None = None, dry_run: bool = False
) -> None:
    """ProcessorError, at once, when a job for the session cluster at `jobmanager` would run where the Kafka and
    PostgreSQL addresses of the configuration mean something else: a loopback address (127.0.0.1, localhost) in a
    TaskManager of the Docker stack (STACK=docker), or of any cluster whose TaskManagers are not on this machine,
    is that TaskManager itself. Without this, the job would wait for them and never read a trade."""
    kafka = [a.strip() for a in config.kafka_bootstrap_servers.split(",") if a.strip()]
    local = [f"{a} (KAFKA_BOOTSTRAP_SERVERS)" for a in kafka if is_loopback(a.rpartition(":")[0] or a)]
    if not dry_run:
        host, port, _ = postgres_address(jdbc_url or config.jdbc_url)
        if is_loopback(host):
            local.append(f"{host}:{port} (POSTGRES_HOST/POSTGRES_PORT)")
    if not local:
        return
    if config.stack == "docker":
        where = f"the Docker stack's TaskManager containers (STACK=docker; the cluster at http://{jobmanager})"
    else:
        remote = sorted({h for h in taskmanager_hosts(jobmanager) if not is_loopback(h)})
        if not remote:
            return  # the embedded session cluster: its TaskManagers are on this machine
        where = f"TaskManagers at {', '.join(remote)}, not on this machine (the cluster at http://{jobmanager})"
    raise ProcessorError(
        f"not submitting: the job would run in {where}, and there {' and '.join(local)} is the TaskManager itself, "
        "not Kafka or PostgreSQL: the job would wait for them and never read a trade. Either run it in this process "
        "(no --jobmanager: leave FLINK_JOBMANAGER empty, or pass --local; it reads and writes the ports the Docker "
        "stack publishes), or run it where the settings are the container addresses, as the Docker stack's "
        "JupyterLab does (`docker compose --profile flink --profile jupyter up -d`: KAFKA_BOOTSTRAP_SERVERS="
        "kafka:9092, POSTGRES_HOST=postgres, POSTGRES_PORT=5432, FLINK_JOBMANAGER=jobmanager:8081), or use the "
        "embedded stack (STACK=embedded in .env, `python -m workbook up --flink`)."
    )


def postgres_address(jdbc_url: str) -> tuple:
    """'jdbc:postgresql://host:port/db?x=y' -> (host, port, db)."""
    parsed = urllib.parse.urlsplit(jdbc_url.removeprefix("jdbc:"))
    return parsed.hostname or "127.0.0.1", parsed.port or 5432, parsed.path.lstrip("/") or None


def check_postgres(config: Config, jdbc_url: str | None = None, timeout_s: float = 3.0) -> None:
    """ProcessorError, within about `timeout_s`, unless PostgreSQL (of `jdbc_url`, default the configuration's)
    accepts the login of the configuration: a wrong POSTGRES_PASSWORD, POSTGRES_USER or POSTGRES_DB is named
    before a job is planned, instead of by the job's restarts."""
    host, port, db = postgres_address(jdbc_url or config.jdbc_url)
    try:
        database.check_login(config, host, port, db, timeout_s)
    except database.PostgresLoginError as exc:
        raise ProcessorError(f"not submitting: {exc}.") from None


def prepare_schema(config: Config) -> None:
    """Shared-cluster mode: the student's schema and tables (database.prepare_schema), or ProcessorError."""
    try:
        database.prepare_schema(config)
    except database.PostgresLoginError as exc:
        raise ProcessorError(f"not submitting: {exc}.") from None


def probe_postgres(host: str, port: int, config: Config, dbname: str | None = None, timeout_s: float = 3.0):
    """None if PostgreSQL at host:port accepts the login of the configuration, else its PostgresLoginError."""
    try:
        database.check_login(config, host, port, dbname, timeout_s)
    except database.PostgresLoginError as exc:
        return exc
    return None


def rest_address(job_client) -> str | None:
    """The REST API of the MiniCluster that runs `job_client`'s job (PyFlink does not expose it:
    read from the Java MiniClusterJobClient); None for other clients."""
    try:
        return pyflink_internals.mini_cluster_rest_address(job_client)
    except Exception:  # noqa: BLE001 - not a MiniCluster job, or another PyFlink: status only
        return None


class JobWatcher:
    """A daemon thread that reports, through `say`, what happens to a running job and to
    PostgreSQL (None: not probed, e.g. a dry run). `stop()` ends it."""

    def __init__(self, job_client, job_id: str, config: Config, jdbc_url: str | None, say=print, interval: float = 2.0):
        self.job_client, self.job_id, self.config, self.say, self.interval = job_client, job_id, config, say, interval
        self.postgres = postgres_address(jdbc_url) if jdbc_url else None
        self.rest = rest_address(job_client)
        self.down_since: float | None = None
        self.restarts = 0
        self.messages: list[str] = []  # what was said, for tests
        self._seen_exceptions: set = set()
        self._last_cause: tuple | None = None  # (cause, when said)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"watch-{job_id[:8]}", daemon=True)

    def start(self) -> JobWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _say(self, text: str) -> None:
        self.messages.append(text)
        self.say(text)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.postgres:
                    self._check_postgres()
                self._check_job()
            except Exception:  # noqa: BLE001 - the watcher must never take the job down
                pass
            self._stop.wait(self.interval)

    def _check_postgres(self) -> None:
        host, port, db = self.postgres
        problem = probe_postgres(host, port, self.config, db)
        if problem and self.down_since is None:
            self.down_since = time.monotonic()
            self._say(
                f"{problem}. The job keeps its results: it retries the writes and restarts from its last "
                "checkpoint until PostgreSQL takes them, then writes every window of the outage."
            )
        elif not problem and self.down_since is not None:
            self._say(
                f"PostgreSQL at {host}:{port} is reachable again (after {time.monotonic() - self.down_since:.0f} "
                "s): the job catches up from its last checkpoint."
            )
            self.down_since = None

    def _get(self, path: str):
        with urllib.request.urlopen(self.rest + path, timeout=5) as r:
            return json.loads(r.read())

    def _check_job(self) -> None:
        if self.rest is None:
            return
        entries = self._get(f"/jobs/{self.job_id}/exceptions").get("exceptionHistory", {}).get("entries", [])
        for entry in sorted(entries, key=lambda e: e.get("timestamp", 0)):
            key = (entry.get("timestamp"), entry.get("exceptionName"))
            if key in self._seen_exceptions:
                continue
            self._seen_exceptions.add(key)
            self.restarts += 1
            cause = one_line(entry.get("stacktrace") or entry.get("exceptionName") or "")
            now = time.monotonic()
            if self._last_cause and self._last_cause[0] == cause and now - self._last_cause[1] < 60:
                continue  # the same cause again (the job restarts every few seconds): once a minute
            self._last_cause = (cause, now)
            self._say(
                f"Flink job {self.job_id} failed ({self.restarts} time(s) so far) and restarts from its last "
                f"checkpoint: {cause}"
            )

"""The jobs of a Flink session cluster, through its REST API (no PyFlink, no JVM).

The processor's command line uses it to submit its streaming job once per
cluster: `docker compose up` re-creates the one-shot processor container each
time, and without this check every `up` would add another copy of the same job
(duplicate jobs take slots and write the same rows).

    active_jobs(address, name)       jobs of that name that are running, or about to
    cancel(address, job_id)          PATCH /jobs/<id>?mode=cancel
    stop_with_savepoint(address, job_id, target)  POST /jobs/<id>/stop, polled until the savepoint is written
    checkpoints(address, job_id)     GET /jobs/<id>/checkpoints: counts, latest completed, restored from
    wait_until_gone(address, ids)    until those jobs are CANCELED (or otherwise ended)
    submission_lock(state_dir, address)  one submitter at a time per cluster and state folder

The check and the submission are 10-30 s apart (the JVM starts, the job is planned): two submitters
started together would both find no job and both submit. submission_lock makes the second one wait
until the first has submitted (then its check finds the job): an exclusive lock (flock) on a file in
the state folder, which holds the pid of the submitter that has it. The file is named after the cluster's
address as `lock_key` normalises it (localhost, ::1 and 127.0.0.1 are one host; no port is Flink's 8081), so
`--jobmanager localhost:8081` and `127.0.0.1:8081` take turns too. It works between processes that share the
state folder: on one machine, the project's .state; in the Docker stack, the processor containers' named
volume (docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..config import host_port
from .errors import one_line

# Flink's JobStatus values of a job that has not ended: a second copy would run beside it.
# (CANCELLING is left out: that job is on its way out.)
ACTIVE_STATES = ("INITIALIZING", "CREATED", "RUNNING", "FAILING", "RESTARTING", "RECONCILING", "SUSPENDED")


class ClusterJobsError(RuntimeError):
    pass


def _url(address: str, path: str) -> str:
    base = address if address.startswith(("http://", "https://")) else f"http://{address}"
    return base.rstrip("/") + path


def _request(address: str, path: str, method: str = "GET", timeout: float = 10, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(_url(address, path), data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise ClusterJobsError(f"Flink REST {method} {_url(address, path)} answered {exc.code}: {detail}") from None
    except OSError as exc:
        raise ClusterJobsError(
            f"cannot reach the Flink session cluster's REST API at {_url(address, '')} "
            f"({exc}): is the JobManager up? (`--jobmanager HOST:PORT` / FLINK_JOBMANAGER)"
        ) from None
    return json.loads(body) if body.strip() else {}


def jobs(address: str) -> list[dict]:
    """Every job the cluster knows: dicts with 'jid', 'name', 'state', 'start-time', ..."""
    return _request(address, "/jobs/overview").get("jobs", [])


def active_jobs(address: str, name: str) -> list[dict]:
    """The jobs called `name` that have not ended, oldest first."""
    found = [j for j in jobs(address) if j.get("name") == name and j.get("state") in ACTIVE_STATES]
    return sorted(found, key=lambda j: j.get("start-time", 0))


def cancel(address: str, job_id: str) -> None:
    _request(address, f"/jobs/{job_id}?mode=cancel", method="PATCH")


def wait_until_gone(address: str, job_ids, timeout: float = 60, interval: float = 0.5) -> None:
    """Return once none of `job_ids` is active any more; ClusterJobsError after `timeout` seconds."""
    pending = set(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        states = {j["jid"]: j.get("state") for j in jobs(address) if j.get("jid") in pending}
        pending = {jid for jid, state in states.items() if state in ACTIVE_STATES + ("CANCELLING",)}
        if not pending:
            return
        if time.monotonic() > deadline:
            raise ClusterJobsError(
                f"job(s) {sorted(pending)} still not cancelled after {timeout:.0f} s: "
                f"see the Flink web UI {_url(address, '')}"
            )
        time.sleep(interval)


def submit_once(address: str, name: str, replace: bool = False, say=print) -> bool:
    """Whether to submit the job `name` to the cluster at `address`: False (and a one-line
    message) when a job of that name is already active; with `replace` such jobs are
    cancelled first (and waited for) and the answer is True."""
    running = active_jobs(address, name)
    if not running:
        return True
    ids = [j["jid"] for j in running]
    if not replace:
        say(
            f"Flink job {ids[0]} ({name!r}) is already {running[0].get('state')} on {_url(address, '')}: "
            "not submitting a second one (--replace cancels it and submits again)."
        )
        return False
    for jid in ids:
        say(f"cancelling Flink job {jid} ({name!r}) on {_url(address, '')} (--replace)")
        cancel(address, jid)
    wait_until_gone(address, ids)
    return True


REST_PORT = 8081  # Flink's rest.port when an address names none


def lock_key(address: str) -> str:
    """The cluster's address as one name for the submission lock: 'http://localhost:8081/', 'localhost',
    '[::1]:8081' and '127.0.0.1:8081' are all '127.0.0.1:8081' (ClusterJobsError for an address that is none)."""
    try:
        host, port = host_port(address, REST_PORT)
    except ValueError as exc:
        raise ClusterJobsError(f"--jobmanager / FLINK_JOBMANAGER {exc}: expected HOST:PORT") from None
    return f"{host}:{port}"


@contextlib.contextmanager
def submission_lock(state_dir, address: str, timeout: float = 600, say=print):
    """Hold the submission lock of the cluster at `address` (waiting up to `timeout` s for another holder)."""
    path = Path(state_dir) / "locks" / f"submit-{re.sub(r'[^A-Za-z0-9.-]', '_', lock_key(address))}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        deadline, said = time.monotonic() + timeout, False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said:
                    f.seek(0)
                    say(
                        f"another submission to {_url(address, '')} is under way (pid {f.read().strip() or '?'}): waiting"
                    )
                    said = True
                if time.monotonic() > deadline:
                    raise ClusterJobsError(f"the submission lock {path} was held for {timeout:.0f} s") from None
                time.sleep(0.2)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield path
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)


def job(address: str, job_id: str) -> dict:
    """One job's details (GET /jobs/<id>): 'state', 'vertices' (operators with their parallelism), ..."""
    return _request(address, f"/jobs/{job_id}")


def wait_for_state(address: str, job_id: str, states, timeout: float = 30, interval: float = 0.2) -> str:
    """Poll the job until its state is one of `states`; returns the last state seen (also on timeout)."""
    wanted = (states,) if isinstance(states, str) else tuple(states)
    deadline = time.monotonic() + timeout
    state = job(address, job_id).get("state")
    while state not in wanted and time.monotonic() < deadline:
        time.sleep(interval)
        state = job(address, job_id).get("state")
    return state


SAVEPOINT_DIR_KEYS = ("execution.checkpointing.savepoint-dir", "state.savepoints.dir")  # Flink 2.0's, then 1.x's


def cluster_setting(address: str, key: str) -> str | None:
    """One setting of the cluster's JobManager (GET /jobmanager/config), None when it is not set."""
    entries = _request(address, "/jobmanager/config")
    return next((e.get("value") for e in entries if e.get("key") == key), None) if isinstance(entries, list) else None


def savepoint_dir(address: str) -> str | None:
    """The cluster's savepoint folder (execution.checkpointing.savepoint-dir) as it gives it, e.g.
    'file:///.../.state/savepoints'; None when it has none."""
    for key in SAVEPOINT_DIR_KEYS:
        value = cluster_setting(address, key)
        if value:
            return value
    return None


def stop_with_savepoint(
    address: str, job_id: str, target_dir: str | None = None, timeout: float = 120, interval: float = 0.5
) -> str:
    """Stop a streaming job with a savepoint (POST /jobs/<id>/stop, without draining: windows still open stay
    in the savepoint, unfired) and wait until it is written; returns the savepoint's path as Flink gives it
    (file:/...). ClusterJobsError when the cluster refuses or the savepoint fails, in one line."""
    body = {"drain": False, **({"targetDirectory": target_dir} if target_dir else {})}
    return _savepoint(address, job_id, f"/jobs/{job_id}/stop", body, timeout, interval)


def trigger_savepoint(address: str, job_id: str, target_dir: str | None = None, timeout: float = 120) -> str:
    """Take a savepoint of a job and leave it running (POST /jobs/<id>/savepoints, what the web UI's button
    does): its path. The job goes on; a job restarted from this savepoint would run beside it."""
    body = {"cancel-job": False, **({"target-directory": target_dir} if target_dir else {})}
    return _savepoint(address, job_id, f"/jobs/{job_id}/savepoints", body, timeout, 0.5)


def _savepoint(address: str, job_id: str, path: str, body: dict, timeout: float, interval: float) -> str:
    """POST `path` (a savepoint's trigger) and poll GET /jobs/<id>/savepoints/<trigger> until it is written."""
    trigger = _request(address, path, method="POST", body=body).get("request-id")
    if not trigger:
        raise ClusterJobsError(f"Flink did not start a savepoint of job {job_id} (no request-id)")
    deadline = time.monotonic() + timeout
    while True:
        status = _request(address, f"/jobs/{job_id}/savepoints/{trigger}")
        if status.get("status", {}).get("id") == "COMPLETED":
            operation = status.get("operation") or {}
            if operation.get("location"):
                return operation["location"]
            cause = operation.get("failure-cause") or {}
            detail = cause.get("stack-trace") or cause.get("class") or json.dumps(operation)[:300]
            raise ClusterJobsError(f"the savepoint of job {job_id} failed: {one_line(detail)}")
        if time.monotonic() > deadline:
            raise ClusterJobsError(
                f"the savepoint of job {job_id} was not written within {timeout:.0f} s: see the Flink web UI "
                f"{_url(address, '')}"
            )
        time.sleep(interval)


def checkpoints(address: str, job_id: str) -> dict:
    """GET /jobs/<id>/checkpoints: 'counts', 'latest' ('completed', 'savepoint', 'restored': where the job
    started from, None for nothing), 'summary' and 'history'."""
    return _request(address, f"/jobs/{job_id}/checkpoints")


def restored_from(address: str, job_id: str) -> dict | None:
    """What the job was started from (latest.restored: 'is_savepoint', 'external_path', ...); None: nothing."""
    return (checkpoints(address, job_id).get("latest") or {}).get("restored")


def root_exception(address: str, job_id: str) -> str | None:
    """The job's last failure (GET /jobs/<id>/exceptions) in one line, None when it has none."""
    found = _request(address, f"/jobs/{job_id}/exceptions")
    history = found.get("exceptionHistory", {}).get("entries") or []
    text = (history[0].get("stacktrace") if history else None) or found.get("root-exception")
    return one_line(text) if text else None


def latest_checkpoint(address: str, job_id: str) -> dict:
    """The job's latest completed checkpoint (GET /jobs/<id>/checkpoints, latest.completed): 'id', 'state_size'
    (bytes of the job's whole state in it), ...; {} before the first one."""
    return (checkpoints(address, job_id).get("latest") or {}).get("completed") or {}

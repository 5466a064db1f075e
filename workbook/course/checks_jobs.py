"""The check of `savepoint_restore` (notebook 12): the student stops the processor's streaming job on the session
cluster with a savepoint and starts it again from that savepoint with parallelism 2. Their cell assigns the
savepoint's path (what stop_processor returned) to `savepoint_restore`; the check reads the cluster's REST API,
not the cell: the processor's job runs, restored from a savepoint (not from nothing, not from a checkpoint) of the
cluster's savepoint folder taken from the processor's own job, with parallelism 2. Named mistakes: restarted without the savepoint, still parallelism 1, nothing running (stopped
and not restarted; or cancelled: a cancel takes no savepoint), the old job still running, a job of another name.
Not graded: it needs the student's own running cluster (grading/points.toml).
"""

from __future__ import annotations

import datetime as dt

from ..config import load_config
from ..pipeline import cluster_jobs, savepoints
from .feedback import CheckResult, Wrong, judged, passed

EXERCISE = "savepoint_restore"
PARALLELISM = 2


def _wrong(problem: str, level: int = 1, got: dict | None = None, expected: dict | None = None) -> Wrong:
    return Wrong(problem, got, expected, hint_level=level)


def _clock(ms) -> str:
    return dt.datetime.fromtimestamp((ms or 0) / 1000, dt.timezone.utc).strftime("%H:%M:%S UTC")


def _same_place(a: str | None, b: str | None) -> bool:
    """Two savepoint locations, file:/x and file:///x/ alike."""
    if not a or not b:
        return False
    la, lb = savepoints.local_path(a), savepoints.local_path(b)
    return la == lb if la is not None and lb is not None else a.rstrip("/") == b.rstrip("/")


def _in_folder(location: str, folder: str | None) -> bool:
    """Whether the savepoint at `location` is one of the folder `folder`'s."""
    if not folder:
        return False
    loc, fol = savepoints.local_path(location), savepoints.local_path(folder)
    if loc is not None and fol is not None:
        return loc.parent == fol
    return str(location).startswith(str(folder).rstrip("/") + "/")


def _request(function, *args):
    try:
        return function(*args)
    except (cluster_jobs.ClusterJobsError, savepoints.SavepointError) as exc:
        raise _wrong(f"the Flink cluster did not answer: {exc}") from None


def _nothing_runs(address: str, name: str, mine: list, answer: str) -> Wrong:
    """The mistake when no job of the processor's name runs: another name, stopped and not restarted, cancelled."""
    for other in cluster_jobs.jobs(address):
        if other.get("state") in cluster_jobs.ACTIVE_STATES and other.get("name") != name:
            if _same_place(savepoints.restore_info(address, other["jid"])["restored_from"], answer):
                return _wrong(
                    f"job {other['jid']} runs from your savepoint, but it is called {other.get('name')!r}, not the "
                    f"processor's {name!r}: the course (and Docker's processor container) finds the processor by "
                    "its name. Cancel it and restart with restart_processor, which names it.",
                    2,
                    {"job name": other.get("name")},
                    {"job name": name},
                )
    last = mine[-1] if mine else None
    if last is not None and last.get("state") == "CANCELED":
        return _wrong(
            f"no processor job runs, and the last one, {last['jid']}, was CANCELLED at {_clock(last.get('end-time'))}: "
            "a cancel takes no savepoint (its open windows are lost with it). Start it again (the cell above the "
            "exercise), then stop it with stop_processor(), which takes the savepoint, and restart from that.",
            1,
        )
    if last is not None and last.get("state") == "FINISHED":
        return _wrong(
            f"no processor job runs: job {last['jid']} was stopped with a savepoint at {_clock(last.get('end-time'))}, "
            f"but nothing was started from it. restart_processor(savepoint_restore, parallelism={PARALLELISM}, ...).",
            2,
        )
    return _wrong("no processor job runs on the cluster: run the cell that starts it, then your exercise cell.", 1)


def _not_restored(address: str, job: dict, mine: list, answer: str) -> Wrong:
    """The mistake of a processor job that started from nothing: the old one never stopped, or a new one."""
    source = savepoints.savepoint_job_prefix(answer)
    taken = next((j for j in mine if source and j["jid"].startswith(source)), None)
    if job["jid"].startswith(source or "-") or (
        taken is not None and job.get("start-time", 0) < taken.get("end-time", 0)
    ):
        return _wrong(
            f"job {job['jid']} still runs: it has run since {_clock(job.get('start-time'))}, before your savepoint "
            "was taken, and nothing stopped it. stop_processor() stops it and takes the savepoint; then restart "
            "from that savepoint.",
            1,
            {"running": f"job {job['jid']} (the old one), no restore info"},
            {"running": "a new job, restored from your savepoint"},
        )
    before = [j for j in mine if j.get("start-time", 0) < job.get("start-time", 0) and j["jid"] != job["jid"]]
    if before and before[-1].get("state") == "CANCELED":
        return _wrong(
            f"job {job['jid']} started from nothing, and the job before it, {before[-1]['jid']}, was CANCELLED: a "
            "cancel takes no savepoint. Stop the running job with stop_processor() and restart from its savepoint.",
            1,
        )
    return _wrong(
        f"job {job['jid']} started from nothing: the cluster has no restore info for it (GET /jobs/<id>/checkpoints: "
        "latest.restored is null), so it read the topic from its start again. Pass the savepoint: "
        f"restart_processor(savepoint_restore, parallelism={PARALLELISM}, ...).",
        2,
        {"restored from": None},
        {"restored from": answer},
    )


@judged(EXERCISE)
def check_savepoint_restore(answer, timeout_s: float | None = None, config=None) -> CheckResult:
    """Does the session cluster run the processor's job restored from the savepoint `answer` (its path) with
    parallelism 2?"""
    config = config or load_config()
    if answer is None or answer is Ellipsis:
        raise _wrong("savepoint_restore is not set yet: stop the processor with a savepoint and assign its path.")
    if not isinstance(answer, str) or not answer.strip():
        raise _wrong(
            f"savepoint_restore is {answer!r}: assign the savepoint's path, what stop_processor() returned "
            "(a text such as 'file:/.../savepoints/savepoint-...').",
        )
    address = config.flink_jobmanager or config.jobmanager_address
    name = savepoints.processor_name(config)
    mine = sorted(
        (j for j in _request(cluster_jobs.jobs, address) if j.get("name") == name), key=lambda j: j.get("start-time", 0)
    )
    running = [j for j in mine if j.get("state") in cluster_jobs.ACTIVE_STATES]
    if not running:
        raise _nothing_runs(address, name, mine, answer)
    if len(running) > 1:
        raise _wrong(f"{len(running)} processor jobs run ({', '.join(j['jid'] for j in running)}): one is enough.")
    job = running[0]
    state = cluster_jobs.wait_for_state(address, job["jid"], "RUNNING", timeout=min(timeout_s or 30, 30))
    info = _request(savepoints.restore_info, address, job["jid"])
    if info["restored_from"] is None:
        raise _not_restored(address, job, mine, answer)
    if not info["is_savepoint"]:
        raise _wrong(
            f"job {job['jid']} was restored from a checkpoint ({info['restored_from']}), not from a savepoint: "
            "restart from the savepoint stop_processor() took.",
            2,
        )
    folder = _request(cluster_jobs.savepoint_dir, address)
    inside = _in_folder(info["restored_from"], folder)
    source = savepoints.savepoint_job_prefix(info["restored_from"])
    if not inside or not any(source and j["jid"].startswith(source) for j in mine):
        raise _wrong(
            f"job {job['jid']} was restored from {info['restored_from']}, which is not a savepoint of the "
            f"processor's job in the cluster's savepoint folder ({folder}).",
            2,
        )
    if not _same_place(info["restored_from"], answer):
        raise _wrong(
            f"job {job['jid']} was restored from {info['restored_from']}, not from your savepoint {answer}: restart "
            "from the one you took.",
            2,
        )
    if info["parallelism"] != [PARALLELISM]:
        raise _wrong(
            f"job {job['jid']} runs restored from your savepoint, but with parallelism "
            f"{', '.join(map(str, info['parallelism']))}, not {PARALLELISM}: give restart_processor "
            f"parallelism={PARALLELISM} (a savepoint's state is split again over the new number of tasks).",
            2,
            {"parallelism": info["parallelism"]},
            {"parallelism": [PARALLELISM]},
        )
    if state != "RUNNING":
        raise _wrong(f"job {job['jid']} is {state}, not RUNNING: see its exceptions in the Flink web UI.", 2)
    return passed(
        EXERCISE,
        f"job {job['jid']} runs restored from your savepoint with parallelism {PARALLELISM}: it carries on with "
        "the open windows and the Kafka offsets of the stopped job.",
    )


CHECKS = {EXERCISE: check_savepoint_restore}

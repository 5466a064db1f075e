"""Stop the processor's streaming job with a savepoint and start it again from it, on a session cluster
(notebook 12; the command line's --stop-with-savepoint and --from-savepoint).

    start_processor(config, jobmanager)              the streaming job, submitted unless it runs already
    stop_processor(config, jobmanager)               stop it with a savepoint: the savepoint's path
    restart_processor(path, parallelism=2, ...)      submit it again from that savepoint (or "latest")
    restore_info(jobmanager, job_id)                 what the cluster says: state, parallelism, restored from
    latest_checkpoint(jobmanager, job_id)            its newest completed checkpoint (id, state size, ...)

A savepoint holds what a checkpoint holds (every operator's state: open windows, the Kafka source's offsets)
in a folder that outlives the job (the cluster's execution.checkpointing.savepoint-dir, .state/savepoints for
the embedded cluster). Stopping with a savepoint (not a cancel) lets a new job carry on where the old one
stopped, with another parallelism: each window is written once, from all of its trades.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

from ..config import Config, load_config
from . import cluster_jobs
from .errors import ProcessorError
from .runner import RunOptions, RunResult, pipeline_name, run

SAVEPOINT_PATH = "execution.savepoint.path"  # the Flink setting that starts a job from a savepoint
# savepoint-<the first 6 characters of the job's id>-<12 random hex digits>: Flink's own name of the folder
SAVEPOINT_FOLDER = re.compile(r"savepoint-([0-9a-f]{6})-[0-9a-f]{12}$")
ENDED = ("FINISHED", "CANCELED", "FAILED")


class SavepointError(ProcessorError):
    """Stopping with a savepoint or starting from one did not work (one line: what and what to do)."""


def _where(config: Config | None, jobmanager: str | None) -> tuple[Config, str]:
    config = config or load_config()
    return config, jobmanager or config.flink_jobmanager or config.jobmanager_address


def processor_name(config: Config | None = None) -> str:
    """The name of the processor's streaming job on the cluster (the student's id first in shared-cluster mode)."""
    return (config or load_config()).job_name(pipeline_name(False))


def processor_job(config: Config | None = None, jobmanager: str | None = None) -> dict | None:
    """The processor's streaming job that has not ended (jid, name, state, start-time), None if there is none;
    SavepointError when there are several."""
    config, address = _where(config, jobmanager)
    active = _call(cluster_jobs.active_jobs, address, processor_name(config))
    if len(active) > 1:
        raise SavepointError(
            f"{len(active)} processor jobs run on http://{address} ({', '.join(j['jid'] for j in active)}): "
            "cancel the ones you do not need in the Flink web UI first"
        )
    return active[0] if active else None


def start_processor(config: Config | None = None, jobmanager: str | None = None, say=print, **options) -> str:
    """The processor's streaming job on the cluster, parallelism 1, submitted unless one runs already (then that
    one is kept, whatever it was started from); its job id, once it is RUNNING. `options`: more RunOptions
    (solutions, topic, jdbc_url, ...)."""
    config, address = _where(config, jobmanager)
    with cluster_jobs.submission_lock(config.workbook_state_dir, address, say=say):
        running = processor_job(config, address)
        if running is None:
            result = run(RunOptions(jobmanager=address, wait=False, **options), config, say=say)
            job_id = result.job_id
        else:
            job_id = running["jid"]
            say(f"the processor's job {job_id} already runs on http://{address}: kept")
    _until_running(address, job_id)
    return job_id


def stop_processor(
    config: Config | None = None, jobmanager: str | None = None, job_id: str | None = None, say=print
) -> str:
    """Stop the processor's streaming job (or job `job_id`) with a savepoint in the cluster's savepoint folder:
    the savepoint's path (file:/...), once the job has stopped. SavepointError when no job runs or the cluster
    has no savepoint folder."""
    config, address = _where(config, jobmanager)
    if job_id is None:
        running = processor_job(config, address)
        if running is None:
            raise SavepointError(
                f"no processor job runs on http://{address} ({processor_name(config)!r}): nothing to stop. "
                "Start it first (start_processor, or `python -m workbook.processor --jobmanager ...`)"
            )
        job_id = running["jid"]
    target = _call(cluster_jobs.savepoint_dir, address)
    if not target:
        raise SavepointError(
            f"the Flink cluster at http://{address} has no savepoint folder (execution.checkpointing.savepoint-dir): "
            "restart the embedded cluster (`python -m workbook down`, then `python -m workbook up --flink`), which "
            "sets it to .state/savepoints"
        )
    _until_running(address, job_id)  # a savepoint needs every task running, not just the job (deploying)
    path = _call(cluster_jobs.stop_with_savepoint, address, job_id, target)
    state = cluster_jobs.wait_for_state(address, job_id, ENDED, timeout=60)
    say(f"job {job_id} stopped ({state}) with a savepoint: {path}")
    return path


def savepoints(config: Config | None = None, jobmanager: str | None = None) -> list[str]:
    """The complete savepoints in the cluster's savepoint folder (those with a _metadata file), newest first;
    the folder must be on this machine (the embedded cluster's)."""
    config, address = _where(config, jobmanager)
    folder = _call(cluster_jobs.savepoint_dir, address)
    local = local_path(folder) if folder else None
    if local is None or not local.is_dir():
        raise SavepointError(
            f"the savepoint folder of the cluster at http://{address} ({folder or 'none set'}) is not on this "
            "machine: give the savepoint's path that --stop-with-savepoint printed"
        )
    found = [p for p in local.iterdir() if SAVEPOINT_FOLDER.match(p.name) and (p / "_metadata").is_file()]
    return [p.as_uri() for p in sorted(found, key=lambda p: (p / "_metadata").stat().st_mtime, reverse=True)]


def local_path(location: str) -> Path | None:
    """A savepoint's location as a path of this machine (file:/x, file:///x or /x), None for another file system."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else location)
    return None


def _refuse_if_running(config: Config, address: str) -> None:
    running = processor_job(config, address)
    if running is not None:
        raise SavepointError(
            f"the processor's job {running['jid']} still runs on http://{address}: stop it with a savepoint "
            "first (stop_processor, or --stop-with-savepoint); two jobs would write the same windows"
        )


def restart_processor(
    savepoint: str,
    parallelism: int = 2,
    config: Config | None = None,
    jobmanager: str | None = None,
    say=print,
    timeout: float = 90,
    **options,
) -> RunResult:
    """Submit the processor's streaming job again from `savepoint` (a path, or "latest": the newest of the
    cluster's savepoint folder) with `parallelism`; `options`: more RunOptions, as the stopped job's (solutions,
    topic, jdbc_url, ...); its RunResult once it RUNS. SavepointError, in one line,
    when the processor still runs, the savepoint is not there, or the job cannot start from it."""
    config, address = _where(config, jobmanager)
    if not isinstance(savepoint, str) or not savepoint.strip():
        raise SavepointError(f"savepoint {savepoint!r}: give the path stop_processor returned, or 'latest'")
    _refuse_if_running(config, address)  # first: "stop it first" is the advice, whatever the savepoint folder has
    if savepoint == "latest":
        found = savepoints(config, address)
        if not found:
            raise SavepointError(
                "no savepoint in the cluster's savepoint folder yet: stop the processor with one first"
            )
        savepoint = found[0]
    local = local_path(savepoint)
    if local is not None and not (local / "_metadata").is_file() and not local.is_file():
        raise SavepointError(f"no savepoint at {savepoint}: its folder (with a _metadata file) is not there")
    with cluster_jobs.submission_lock(config.workbook_state_dir, address, say=say):
        _refuse_if_running(config, address)  # again under the lock: another submitter may have started it
        options["flink_options"] = {**(options.get("flink_options") or {}), SAVEPOINT_PATH: savepoint}
        try:
            result = run(
                RunOptions(jobmanager=address, parallelism=parallelism, wait=False, **options), config, say=say
            )
        except ProcessorError as exc:  # the cluster refuses the savepoint at submission: its reason, in one line
            if "savepoint" not in str(exc):
                raise
            why = str(exc).splitlines()[-1].split("caused by: ", 1)[-1]
            raise SavepointError(f"the job could not start from savepoint {savepoint}: {_advice(why)}") from None
    try:
        _until_running(address, result.job_id, timeout)
    except SavepointError as exc:
        raise SavepointError(
            f"job {result.job_id} could not start from savepoint {savepoint}: {_advice(str(exc))}"
        ) from None
    result.status = "RUNNING"
    return result


def _advice(why: str) -> str:
    """Flink's reason, with what to do about the usual ones."""
    if "Cannot map checkpoint/savepoint state" in why or "allowNonRestoredState" in why:
        mapped = why.split("Cannot map", 1)[1].split(". ")[0]
        return (
            f"Flink cannot map{mapped}. The job is not the one the savepoint was taken from (a statement of sql/ "
            "changed, or was added or removed): restore with the same statements, or start without the savepoint"
        )
    if "FileNotFoundException" in why or "Cannot find checkpoint or savepoint" in why:
        return f"the savepoint is not there ({why})"
    return why


def _until_running(address: str, job_id: str, timeout: float = 60) -> None:
    """Until the job and every one of its tasks RUN (SavepointError with Flink's reason when it ends instead)."""
    deadline = time.monotonic() + timeout
    while True:
        job = _call(cluster_jobs.job, address, job_id)
        if job.get("state") in ENDED:
            raise SavepointError(_call(cluster_jobs.root_exception, address, job_id) or f"it is {job.get('state')}")
        if job.get("state") == "RUNNING" and all(v.get("status") == "RUNNING" for v in job.get("vertices", [])):
            return
        if time.monotonic() > deadline:
            raise SavepointError(f"job {job_id} is not running after {timeout:.0f} s ({job.get('state')})")
        time.sleep(0.3)


def _call(function, *args):
    try:
        return function(*args)
    except cluster_jobs.ClusterJobsError as exc:
        raise SavepointError(str(exc)) from None


def restore_info(jobmanager: str, job_id: str) -> dict:
    """What the cluster says of a job: its name, state, the parallelism of its operators, and what it was
    started from (restored_from: the path, None for nothing; is_savepoint)."""
    job = _call(cluster_jobs.job, jobmanager, job_id)
    restored = _call(cluster_jobs.restored_from, jobmanager, job_id) or {}
    return {
        "job_id": job_id,
        "name": job.get("name"),
        "state": job.get("state"),
        "start_time": job.get("start-time"),
        "parallelism": sorted({v["parallelism"] for v in job.get("vertices", [])}),
        "restored_from": restored.get("external_path"),
        "is_savepoint": restored.get("is_savepoint"),
    }


def latest_checkpoint(jobmanager: str, job_id: str, wait_s: float = 0) -> dict | None:
    """The job's newest completed checkpoint (id, state_size in bytes, end_to_end_duration in ms, external_path,
    trigger_timestamp), waiting up to `wait_s` seconds for one; None when it has none."""
    deadline = time.monotonic() + wait_s
    while True:
        latest = _call(cluster_jobs.latest_checkpoint, jobmanager, job_id)
        if latest or time.monotonic() >= deadline:
            return latest or None
        time.sleep(0.5)


def savepoint_job_prefix(location: str) -> str | None:
    """The first 6 characters of the id of the job a savepoint was taken from (Flink's folder name), or None."""
    found = SAVEPOINT_FOLDER.search(str(location).rstrip("/"))
    return found.group(1) if found else None

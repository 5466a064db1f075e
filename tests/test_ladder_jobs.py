"""The exercise of notebook 12's running jobs, `savepoint_restore`, against the real session cluster: the skeleton
fails, the solution (run as the notebook runs it) passes, and every named mistake is named in the check's words:
restarted without the savepoint, still parallelism 1, nothing restarted after the stop, cancelled instead of
stopped, the old job still running (a savepoint taken with the job left running), a job of another name.

Each test starts the processor's streaming job (parallelism 1, the solutions, the default topic and tables, as
the notebook's cell does) and leaves no processor job behind. About 90 s together (a job submission each, ~3 s
once the plan is cached, a savepoint ~1 s).
"""

from __future__ import annotations

import shutil

import pytest

from workbook.course import checks, exercises
from workbook.course.checks_jobs import check_savepoint_restore
from workbook.pipeline import cluster_jobs, savepoints

QUIET = dict(say=lambda *_: None)
FAKE = "file:/nowhere/savepoints/savepoint-000000-000000000000"


def test_the_skeleton_fails_and_names_what_is_missing():
    for answer, words in ((None, "not set yet"), (Ellipsis, "not set yet"), (3, "assign the savepoint's path")):
        result = checks.run_check("savepoint_restore", answer)
        assert not result and words in result.text(), result.text()


@pytest.fixture
def started(stack, flink_cluster):
    """The processor's job, started as the notebook starts it; the address; no processor job left at the end."""
    address = flink_cluster.address
    assert savepoints.processor_job(stack, address) is None, f"a processor job already runs on {address}"
    folder = stack.workbook_state_dir / "savepoints"
    taken_before = set(folder.iterdir()) if folder.is_dir() else set()
    job_id = savepoints.start_processor(stack, address, solutions=True, **QUIET)
    yield stack, address, job_id
    for path in set(folder.iterdir()) - taken_before if folder.is_dir() else ():  # the test's savepoints
        shutil.rmtree(path, ignore_errors=True)
    running = savepoints.processor_job(stack, address)
    if running is not None:
        cluster_jobs.cancel(address, running["jid"])
        cluster_jobs.wait_until_gone(address, [running["jid"]])


def verdict(config, answer) -> str:
    result = check_savepoint_restore(answer, config=config)
    assert not result, result.text()
    return result.text()


@pytest.mark.integration
def test_the_solution_passes(started):
    config, address, old = started
    namespace = {
        "savepoints": savepoints,
        "config": config,
        "JOBMANAGER": address,
        "solutions_enabled": lambda: True,
    }
    exec(compile(exercises.solution("savepoint_restore"), "solution", "exec"), namespace)  # noqa: S102 (ours)
    result = check_savepoint_restore(namespace["savepoint_restore"], config=config)
    assert result, result.text()
    assert namespace["restarted"].job_id in result.text() and "parallelism 2" in result.text()
    assert savepoints.savepoint_job_prefix(namespace["savepoint_restore"]) == old[:6]


@pytest.mark.integration
def test_still_parallelism_1(started):
    config, address, _ = started
    path = savepoints.stop_processor(config, address, **QUIET)
    savepoints.restart_processor(path, 1, config, address, solutions=True, **QUIET)
    assert "with parallelism 1, not 2" in verdict(config, path)


@pytest.mark.integration
def test_restarted_without_the_savepoint(started):
    config, address, _ = started
    path = savepoints.stop_processor(config, address, **QUIET)
    savepoints.start_processor(config, address, solutions=True, **QUIET)
    text = verdict(config, path)
    assert "started from nothing: the cluster has no restore info" in text and "latest.restored is null" in text


@pytest.mark.integration
def test_stopped_and_not_restarted(started):
    config, address, old = started
    path = savepoints.stop_processor(config, address, **QUIET)
    assert f"job {old} was stopped with a savepoint" in verdict(config, path)
    assert "but nothing was started from it" in verdict(config, path)


@pytest.mark.integration
def test_cancelled_instead_of_stopped(started):
    config, address, old = started
    cluster_jobs.cancel(address, old)
    cluster_jobs.wait_until_gone(address, [old])
    text = verdict(config, FAKE)
    assert f"the last one, {old}, was CANCELLED" in text and "a cancel takes no savepoint" in text
    # and restarted afresh after the cancel: the job before the running one was cancelled
    savepoints.start_processor(config, address, solutions=True, **QUIET)
    assert f"the job before it, {old}, was CANCELLED" in verdict(config, FAKE)


@pytest.mark.integration
def test_the_old_job_still_runs_after_a_savepoint_without_a_stop(started):
    """The web UI's 'trigger savepoint' takes a savepoint and leaves the job running."""
    config, address, old = started
    path = cluster_jobs.trigger_savepoint(address, old, cluster_jobs.savepoint_dir(address))
    text = verdict(config, path)
    assert f"job {old} still runs" in text and "nothing stopped it" in text


@pytest.mark.integration
def test_a_job_of_another_name(started):
    config, address, _ = started
    path = savepoints.stop_processor(config, address, **QUIET)
    mine = savepoints.restart_processor(
        path, 2, config, address, solutions=True, flink_options={"pipeline.name": "my restored job"}, **QUIET
    )
    try:
        text = verdict(config, path)
        assert f"job {mine.job_id} runs from your savepoint, but it is called 'my restored job'" in text
    finally:
        cluster_jobs.cancel(address, mine.job_id)
        cluster_jobs.wait_until_gone(address, [mine.job_id])

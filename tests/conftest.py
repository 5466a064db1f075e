"""Shared fixtures (the real embedded services, started once per test session) and the test tiers.

Every test is in one tier, by its marker (pyproject.toml lists them): `flink` (starts a JVM, no
services), `integration` (the embedded services: broker, PostgreSQL, and Flink), `browser`
(JupyterLab in Chromium); a test with none of these is `unit`: no JVM, no services, and this file
makes sure of it (starting one fails the test, naming what it started). `slow` marks the long ones
(`-m "not slow"` leaves them out). `make test-unit` runs the unit tier without the slow tests.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess

import pytest
from tiers import TIERS, started, unmarked_service_users

from workbook import stack as stack_mod
from workbook.config import load_config
from workbook.stack.flink_cluster import FlinkCluster


def pytest_collection_modifyitems(config, items):
    unmarked = unmarked_service_users(items)
    if unmarked:
        raise pytest.UsageError("these tests use the embedded services: mark them integration\n" + "\n".join(unmarked))
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_jvm_and_no_service(request, monkeypatch):
    """In a unit test, starting a JVM or a service fails the test at once (mark it flink or integration)."""
    if request.node.get_closest_marker("unit") is None:
        return
    execute = subprocess.Popen._execute_child

    def guarded(self, args, *rest, **kwargs):
        what = started(args)
        if what is not None:
            pytest.fail(f"a unit test started {what!r}: mark the test flink (a JVM) or integration (services)")
        return execute(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "_execute_child", guarded)


@pytest.fixture(autouse=True)
def _progress_in_a_scratch_file(tmp_path_factory, monkeypatch):
    """The checks and hints a test runs record the student's progress (workbook/course/progress.py): in a
    scratch file, never the project's .state/progress.json."""
    monkeypatch.setenv("WORKBOOK_PROGRESS_FILE", str(tmp_path_factory.getbasetemp() / "progress.json"))


@pytest.fixture
def held_port():
    """A port held by a listening socket of this very process."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def stack(config):
    """The embedded broker and PostgreSQL, up (idempotent: reuses what runs)."""
    if config.stack != "embedded":
        pytest.fail("the test suite runs against the embedded stack: set STACK=embedded in .env")
    stack_mod.up(config, say=lambda *_: None)
    return load_config()  # with the ports `up` chose if a default was taken (stack/port_choice.py)


@pytest.fixture(scope="session")
def flink_cluster(stack):
    """A Flink standalone session cluster from the wheel's bin/start-cluster.sh.
    Stopped again at the end if this session started it (it holds ~600 MiB)."""
    # four slots at least: test_shared_cluster.py runs three students' jobs on it and then asks for two more
    cluster = FlinkCluster(dataclasses.replace(stack, taskmanager_slots=max(4, stack.taskmanager_slots)))
    started = cluster.pid() is None
    if started:
        cluster.start()
    yield cluster
    if started:
        cluster.stop()

"""Shared fixtures: the real embedded services, started once per test session."""

from __future__ import annotations

import pytest

from workbook import stack as stack_mod
from workbook.config import load_config
from workbook.stack.flink_cluster import FlinkCluster


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def stack(config):
    """The embedded broker and PostgreSQL, up (idempotent: reuses what runs)."""
    if config.stack != "embedded":
        pytest.fail("the test suite runs against the embedded stack: set STACK=embedded in .env")
    stack_mod.up(config, say=lambda *_: None)
    return config


@pytest.fixture(scope="session")
def flink_cluster(stack):
    """A Flink standalone session cluster from the wheel's bin/start-cluster.sh.
    Stopped again at the end if this session started it (it holds ~600 MiB)."""
    cluster = FlinkCluster(stack)
    started = cluster.pid() is None
    if started:
        cluster.start()
    yield cluster
    if started:
        cluster.stop()

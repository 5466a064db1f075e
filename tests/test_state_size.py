"""What notebook 12 says about state size, on the embedded session cluster (real jobs, real checkpoints): a count
per key with no window keeps state for every key it has seen, so its checkpoints grow as new keys arrive; the same
count per 2-second window frees a window's state when it ends, so its checkpoints stay the same size."""

import pytest

from workbook.config import load_config
from workbook.pipeline import cluster_jobs, state_growth
from workbook.stack.flink_cluster import FlinkCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def jobmanager():
    cluster = FlinkCluster(load_config())
    healthy, why = cluster.health()
    if not healthy:
        pytest.fail(f"the embedded session cluster is not up ({why}): python -m workbook up --flink")
    return cluster.address


def test_no_window_grows_window_stays_bounded(jobmanager):
    sizes = state_growth.watch(jobmanager, seconds=12, every=3, say=lambda *_: None)
    assert len(sizes["no window"]) >= 3
    assert state_growth.verdict(sizes["no window"]) == "grew", sizes
    assert state_growth.verdict(sizes["2-second windows"]) == "bounded", sizes
    # every size read grew on the last for the non-windowed count: a row per new key, never dropped
    grown = sizes["no window"]
    assert all(b >= a for a, b in zip(grown, grown[1:])), grown
    assert not cluster_jobs.active_jobs(jobmanager, "workbook-state-size"), "the jobs were not cancelled"


def test_verdict_words():
    assert state_growth.verdict([100, 150, 200, 260]) == "grew"
    assert state_growth.verdict([340, 170, 340, 170]) == "bounded"  # one or two open windows in a checkpoint
    assert state_growth.verdict([100, 100, 130, 120]) == "unclear"
    with pytest.raises(ValueError):
        state_growth.verdict([100])

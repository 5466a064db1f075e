"""What notebook 12 says a state TTL costs, with the embedded broker and a real Flink job: a count per key with no
window, a pause of 4 s (processing time) between two parts of its input; with `table.exec.state.ttl` = 1 s the
key's state is gone after the pause and its count starts again at 1; without a TTL it goes on."""

import uuid

import pytest

from workbook import kafka
from workbook.config import load_config
from workbook.pipeline import state_ttl

pytestmark = pytest.mark.integration


@pytest.fixture
def topic():
    name = f"workbook-test-ttl-{uuid.uuid4().hex[:8]}"
    yield name
    kafka.delete_topic(load_config().kafka_bootstrap_servers, name)


def test_without_ttl_the_count_goes_on(topic):
    rows = state_ttl.counts(load_config().kafka_bootstrap_servers, topic)
    assert rows[-2:] == [("-U", "a", 2), ("+U", "a", 3)], rows


def test_with_a_ttl_shorter_than_the_pause_the_count_starts_again(topic):
    rows = state_ttl.counts(load_config().kafka_bootstrap_servers, topic, ttl="1 s", pause_s=4)
    assert rows[:4] == [("+I", "a", 1), ("+I", "b", 1), ("-U", "a", 1), ("+U", "a", 2)], rows
    # a new key to Flink: an insert, and no retraction of the count 2 it emitted before
    assert rows[4:] == [("+I", "a", 1)], rows

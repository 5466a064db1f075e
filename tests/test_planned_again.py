"""session.planned_again: a call that fails with Flink 2.0's intermittent FLINK-36298 ("metadataHandlerProvider",
intermittent on the checks' threads) is asked for again; any other error, and the last
attempt's failure, is raised as it is."""

import pytest

from workbook.pipeline.session import FLINK_36298_ATTEMPTS, QueryTimeout, planned_again


def failing(*errors):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "plan"

    return call, calls


def test_flink_36298_is_asked_again():
    call, calls = failing(*[Exception("java.lang.NullPointerException: metadataHandlerProvider")] * 2)
    assert planned_again(call) == "plan" and len(calls) == 3


@pytest.mark.parametrize(
    "errors",
    [
        (Exception("Column 'side' not found in any table"),),
        (QueryTimeout("no rows in 60 s"),),
        (Exception("metadataHandlerProvider"),) * FLINK_36298_ATTEMPTS,
    ],
)
def test_other_errors_and_a_second_failure_are_raised(errors):
    call, calls = failing(*errors)
    with pytest.raises(type(errors[-1])):
        planned_again(call)
    assert len(calls) == len(errors)

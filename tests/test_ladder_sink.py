"""The advanced track, notebook 12 (optional): an upsert-kafka sink (upsert_sink). The check writes the exercise's
updating query into the student's table on a fresh topic of the embedded broker and reads the records back: it
fails on the notebook's skeleton, passes on the solution (practice and grading data), and names the mistakes,
most of them Flink's own refusals: no PRIMARY KEY, the plain 'kafka' connector, no key or value format, the wrong
key. And what notebook 12 shows: read back with 'upsert-kafka' the topic is a changelog (-U, +U per key), read
with plain 'kafka' every record is an insert."""

import json

import pandas as pd
import pytest
from ladderkit import exercise_cell

from workbook.course import checks, checks_sink, datasets, exercises, hints, sinks
from workbook.course.grading import GRADING
from workbook.course.references import sink

pytestmark = pytest.mark.integration

NAME = "upsert_sink"
NOTEBOOK_STEM = "12_table_api_and_jobs"
NOTEBOOK = f"notebooks/{NOTEBOOK_STEM}.ipynb"
SOLUTION = exercises.solution(NAME) if exercises.get(NAME).solution.exists() else ""


def skeleton() -> str:
    """The exercise cell's SQL as committed, without its %%flinksql line (what a student starts from)."""
    return exercise_cell(NOTEBOOK_STEM, NAME).partition("\n")[2]


def test_registered():
    ex = exercises.get(NAME)
    assert ex.notebook == NOTEBOOK and ex.answer == "sql" and ex.solution.exists()
    assert len(hints.levels(NAME)) == 3
    assert checks.find_check(NAME) is checks_sink.check
    assert NAME in [n for n, e in exercises.EXERCISES.items() if e.notebook == NOTEBOOK]


@pytest.mark.parametrize("data", [datasets.PRACTICE, GRADING], ids=["practice", "grading"])
def test_expected_output_is_up_to_date(data):
    with datasets.using(data):
        stored = json.loads((data.expected_dir / f"{NAME}.json").read_text())
        assert stored == json.loads(json.dumps(sink.upsert_sink())), "python -m workbook.course.references.sink"


def test_notebook_holds_the_skeleton_not_the_solution():
    body = skeleton()
    assert "TODO" in body and "upsert-kafka" not in body and "PRIMARY KEY" not in body


@pytest.mark.parametrize("data", [datasets.PRACTICE, GRADING], ids=["practice", "grading"])
def test_solution_passes(data):
    with datasets.using(data):
        result = checks.run_check(NAME, SOLUTION)
    assert result, result.text()


def test_skeleton_fails():
    result = checks.run_check(NAME, skeleton())
    assert not result and result.hint == NAME


PLAIN = "'connector' = 'kafka', 'topic' = 'x', 'properties.bootstrap.servers' = 'y', 'format' = 'json'"


@pytest.mark.parametrize(
    "wrong, named",
    [
        (SOLUTION.replace(",\n  PRIMARY KEY (currency_pair, direction) NOT ENFORCED", ""), "no PRIMARY KEY"),
        (
            "CREATE TABLE c (currency_pair STRING, direction STRING, num_trades BIGINT) WITH (" + PLAIN + ")",
            "doesn't support consuming update changes",
        ),
        (
            "CREATE TABLE c (currency_pair STRING, direction STRING, num_trades BIGINT, PRIMARY KEY (currency_pair, "
            "direction) NOT ENFORCED) WITH (" + PLAIN + ")",
            "the plain 'kafka' connector: append-only",
        ),
        (SOLUTION.replace("  'key.format' = 'json',\n", ""), "no key format"),
        (SOLUTION.replace(",\n  'value.format' = 'json'", ""), "no value format"),
        (
            SOLUTION.replace("PRIMARY KEY (currency_pair, direction)", "PRIMARY KEY (currency_pair)"),
            "overwrite each other",
        ),
        (SOLUTION.replace("PRIMARY KEY (currency_pair, direction)", "PRIMARY KEY (direction)"), "the wrong key"),
        (SOLUTION.replace("  'topic' = 'pair-direction-counts',\n", ""), "no 'topic' option"),
        ("SELECT 1", "no CREATE TABLE statement"),
    ],
)
def test_named_mistakes(wrong, named):
    assert wrong != SOLUTION
    result = checks.run_check(NAME, wrong)
    assert not result and named in result.text(), result.text()


def test_read_back_as_a_changelog_and_as_inserts():
    topic = "workbook-test-upsert-read"
    try:
        sinks.write(SOLUTION, checks_sink.QUERY, topic)
        columns = "currency_pair STRING, direction STRING, num_trades BIGINT"
        where = "currency_pair = 'dogecoin / tether'"
        upserts = sinks.read_back(topic, columns, key="currency_pair, direction", where=where)
        inserts = sinks.read_back(topic, columns, where=where)
    finally:
        from workbook import kafka

        kafka.delete_topic(sinks.bootstrap_servers(), topic)
    assert {row[0] for row in inserts} == {"+I"} and len(inserts) == 4  # dogecoin's 3 buys and 1 sell, one a record
    assert [row[0] for row in upserts] == ["+I", "+I", "-U", "+U", "-U", "+U"], upserts
    final = pd.DataFrame(upserts, columns=["kind", "pair", "direction", "n"]).groupby("direction")["n"].last()
    assert final.to_dict() == {"buy": 3, "sell": 1}

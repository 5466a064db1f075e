"""Part L1 of the exercise ladder (notebooks 02 and 03): every check fails on the notebook's skeleton,
passes on the solution, and names the usual mistakes. The SQL checks run on the real Flink (the
kernel's warm session: a MiniCluster in this process) over the fixed `basics` dataset."""

import json
from pathlib import Path

import pandas as pd
import pytest

from workbook.course import checks, checks_basics, datasets, exercises
from workbook.course.__main__ import listing, main
from workbook.course.datasets import sample_trades

ROOT = Path(__file__).resolve().parent.parent
L1 = ("stream_counts", "source_table", "filter_project", "changelog_counts", "tumble_counts")
SOLUTION = {name: exercises.solution(name) for name in L1}


def cell_of(notebook: str, marker: str) -> str:
    for cell in json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and marker in source:
            return source
    raise AssertionError(f"no cell with {marker!r} in {notebook}")


def skeleton(name: str) -> str:
    if name == "stream_counts":
        source = cell_of("02_trade_stream.ipynb", 'python_exercise("stream_counts"')
        return source.split("python_exercise(")[0]
    source = cell_of("03_flink_sql_basics.ipynb", f"%%flinksql --exercise {name}\n")
    return source.split("\n", 1)[1]


def failed(name: str, answer) -> str:
    result = checks.run_check(name, answer)
    assert not result, f"{name} passed a wrong answer: {answer}"
    assert result.hint == name
    return result.text()


# --- without Flink --------------------------------------------------------------------------------


def test_registry_lists_the_l1_exercises_in_order():
    names = [row["name"] for row in listing()]
    assert [n for n in names if n in L1] == list(L1)
    assert names.index("tumble_counts") < names.index("watermark_delay")
    rows = {row["name"]: row for row in listing()}
    assert rows["stream_counts"]["solution"] == "solutions/notebooks/02_trade_stream/stream_counts.py"
    assert rows["tumble_counts"]["solution"] == "solutions/notebooks/03_flink_sql_basics/tumble_counts.sql"
    for name in L1:
        assert (ROOT / "workbook" / "course" / "hints" / f"{name}.md").read_text().count("\n---\n") == 2


def test_expected_outputs_are_up_to_date():
    from workbook.course.references import basics

    for name, value in basics.expected().items():
        stored = checks_basics.expected(name)
        assert json.loads(json.dumps(value)) == stored, "regenerate: python -m workbook.course.references.basics"


def test_basics_dataset_has_bad_and_late_records():
    records = datasets.basics_records()
    kinds = sorted(what for _, what in records if what)
    assert kinds == ["late", "late", "late", "missing base", "negative price", "unknown direction", "volume 0"]


def test_notebook_cells_hold_skeletons_not_solutions():
    for name in L1:
        text = skeleton(name)
        assert "TODO" in text
        assert SOLUTION[name].strip() not in text
    cells = json.loads((ROOT / "notebooks" / "03_flink_sql_basics.ipynb").read_text())["cells"]
    nb03 = "\n".join("".join(cell["source"]) for cell in cells)  # what a student reads (outputs are cleared)
    for give_away in (
        "TO_TIMESTAMP_LTZ(`timestamp`, 3)",
        "INTERVAL '5' SECOND",
        "price * volume AS notional",
        "COUNT(*) AS num_trades",
    ):
        assert give_away not in nb03


def test_stream_counts_solution_passes_as_code_and_as_frame():
    assert checks.run_check("stream_counts", SOLUTION["stream_counts"])
    namespace = {"pd": pd, "records": sample_trades()}
    exec(SOLUTION["stream_counts"], namespace)
    frame = namespace["stream_counts"]
    assert checks.check("stream_counts", frame)
    assert checks.check("stream_counts", frame.sample(frac=1, random_state=1))  # row order does not matter
    assert checks.check("stream_counts", frame.set_index(["currency_pair", "direction"]))  # keys as index


def test_stream_counts_skeleton_fails():
    assert "stream_counts is not set yet" in failed("stream_counts", skeleton("stream_counts"))


STREAM_MISTAKES = {
    "one row per pair": SOLUTION["stream_counts"].replace('["currency_pair", "direction"]', '"currency_pair"'),
    "Yours is the mean": SOLUTION["stream_counts"].replace('("volume", "sum")', '("volume", "mean")'),
    "Yours is the number of trades": SOLUTION["stream_counts"].replace('("volume", "sum")', '("price", "size")'),
    "buy and sell are swapped": SOLUTION["stream_counts"]
    + ('\nstream_counts["direction"] = stream_counts["direction"].map({"buy": "sell", "sell": "buy"})'),
    "without the spaces": SOLUTION["stream_counts"].replace('" / "', '"/"'),
    "should be a whole number": SOLUTION["stream_counts"] + '\nstream_counts["trades"] = stream_counts["trades"] * 1.0',
    "counts every trade of the pair": SOLUTION["stream_counts"]
    + ('\nstream_counts["trades"] = stream_counts.groupby("currency_pair")["trades"].transform("sum")'),
}


@pytest.mark.parametrize("mistake", STREAM_MISTAKES)
def test_stream_counts_names_the_mistake(mistake):
    assert mistake in failed("stream_counts", STREAM_MISTAKES[mistake])


def test_python_exercise_runs_the_solution_when_enabled(monkeypatch, capsys):
    namespace = {"pd": pd, "records": sample_trades(), "stream_counts": None}
    assert not checks.python_exercise("stream_counts", dict(namespace))
    monkeypatch.setenv("WORKBOOK_SOLUTIONS", "1")
    assert checks.python_exercise("stream_counts", namespace)
    assert isinstance(namespace["stream_counts"], pd.DataFrame)
    assert (
        "using the instructor solution solutions/notebooks/02_trade_stream/stream_counts.py" in capsys.readouterr().out
    )


def test_cli_checks_a_python_answer(tmp_path):
    assert main(["check", "stream_counts", "--solution"]) == 0
    wrong = tmp_path / "answer.py"
    wrong.write_text(STREAM_MISTAKES["Yours is the mean"])
    assert main(["check", "stream_counts", str(wrong)]) == 1


# --- with Flink (the warm session of this process) -----------------------------------------------

integration = pytest.mark.integration


@integration
@pytest.mark.parametrize("name", L1[1:])
def test_sql_skeleton_fails_and_solution_passes(name):
    assert checks.run_check(name, SOLUTION[name]), checks.run_check(name, SOLUTION[name]).text()
    text = failed(name, skeleton(name))
    expected = {
        "source_table": "no WATERMARK",
        "filter_project": "columns: your result has ['todo']",
        "changelog_counts": "columns: your result has ['todo']",
        "tumble_counts": "columns: your result has ['todo']",
    }[name]
    assert expected in text


SRC = SOLUTION["source_table"]
SOURCE_MISTAKES = {
    "no WATERMARK": SRC.replace(",\n  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND", ""),
    "a watermark of 0 s": SRC.replace("ts - INTERVAL '5' SECOND", "ts"),
    "between 49 and 50.5 s": SRC.replace("INTERVAL '5' SECOND", "INTERVAL '50' SECOND"),
    "between 0.3 and 1 s": SRC.replace("INTERVAL '5' SECOND", "INTERVAL '0.5' SECOND"),
    "read as SECONDS": SRC.replace("`timestamp`, 3)", "`timestamp`, 0)"),
    "not on the BIGINT `timestamp`": SRC.replace("WATERMARK FOR ts AS ts", "WATERMARK FOR `timestamp` AS `timestamp`"),
    "name it ts": SRC.replace("ts AS", "event_time AS")
    .replace("FOR ts", "FOR event_time")
    .replace("AS ts -", "AS event_time -"),
    "an event time must never be NULL": SRC.replace(  # ms as seconds: beyond the year 9999, NULL
        "TO_TIMESTAMP_LTZ(`timestamp`, 3)", "TO_TIMESTAMP(FROM_UNIXTIME(`timestamp`))"
    ),
    "loses the milliseconds": SRC.replace(
        "TO_TIMESTAMP_LTZ(`timestamp`, 3)", "TO_TIMESTAMP_LTZ(`timestamp` / 1000, 0)"
    ),
}


FP = SOLUTION["filter_project"]
FILTER_MISTAKES = {
    "these are the trades of ['bitcoin / euro']": FP.replace("bitcoin / tether", "bitcoin / euro"),
    "invalid trades are included": FP.replace("FROM valid_trades", "FROM checked_trades"),
    "notional is the value of the trade": FP.replace(", price * volume AS notional", ""),
    "yours is volume * volume": FP.replace("price * volume", "volume * volume"),
    "no rows: the pair is written": FP.replace("bitcoin / tether", "bitcoin/tether"),
    "duplicate rows": FP + "\nUNION ALL\n" + FP.replace("'bitcoin / tether'", "'bitcoin / tether' AND price > 94000"),
}


CC = SOLUTION["changelog_counts"]
WINDOWED = (
    "SELECT window_start, window_end, currency_pair, COUNT(*) AS num_trades FROM TABLE(TUMBLE(TABLE "
    "valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end, currency_pair"
)
CHANGELOG_MISTAKES = {
    "this is a windowed query": WINDOWED,
    "append-only": (
        "SELECT currency_pair, COUNT(*) AS num_trades FROM TABLE(TUMBLE(TABLE valid_trades, "
        "DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end, currency_pair"
    ),
    "you group by more than the pair": CC.replace("GROUP BY currency_pair", "GROUP BY currency_pair, direction"),
    "not COUNT(DISTINCT ...)": CC.replace("COUNT(*)", "COUNT(DISTINCT price)"),
    "without the spaces": CC.replace(
        "SELECT currency_pair,", "SELECT REPLACE(currency_pair, ' ', '') AS currency_pair,"
    ),
}


TC = SOLUTION["tumble_counts"]
TUMBLE_MISTAKES = {
    "your windows last 600 s": TC.replace("INTERVAL '1' MINUTE", "INTERVAL '10' MINUTE"),
    "your windows last 1 s": TC.replace("INTERVAL '1' MINUTE", "INTERVAL '1' SECOND"),
    "that is a sliding (HOP) window": TC.replace(
        "TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
        "HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '1' MINUTE)",
    ),
    "one count per pair over all time": CC,
    "without the spaces": TC.replace(
        "SELECT window_start, window_end, currency_pair,",
        "SELECT window_start, window_end, REPLACE(currency_pair, ' ', '') AS currency_pair,",
    ),
    "not distinct values (COUNT(DISTINCT ...))": TC.replace("COUNT(*)", "COUNT(DISTINCT price)"),
    "duplicate keys": TC.replace(
        "GROUP BY window_start, window_end, currency_pair",
        "GROUP BY window_start, window_end, currency_pair, direction",
    ),
}


SQL_MISTAKES = {
    "source_table": SOURCE_MISTAKES,
    "filter_project": FILTER_MISTAKES,
    "changelog_counts": CHANGELOG_MISTAKES,
    "tumble_counts": TUMBLE_MISTAKES,
}


@integration
@pytest.mark.parametrize(
    "name, mistake",
    [
        pytest.param(name, mistake, id=f"{name}-{mistake}")
        for name, mistakes in SQL_MISTAKES.items()
        for mistake in mistakes
    ],
)
def test_sql_check_names_the_mistake(name, mistake):
    assert mistake in failed(name, SQL_MISTAKES[name][mistake])


@integration
def test_null_event_time_is_explained_without_the_checks_own_query():
    text = failed("source_table", SOURCE_MISTAKES["an event time must never be NULL"])
    assert "source_table: not yet." in text and "precision 3" in text
    assert "source_table_check" not in text and "RowTime field" not in text, text


@integration
def test_cli_checks_a_sql_answer(tmp_path):
    assert main(["check", "tumble_counts", "--solution"]) == 0
    answer = tmp_path / "answer.sql"
    answer.write_text(TUMBLE_MISTAKES["duplicate keys"])
    assert main(["check", "tumble_counts", str(answer)]) == 1

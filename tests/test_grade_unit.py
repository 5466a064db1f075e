"""Grading a class without a JVM: the grading table, the reports (grades.csv, Gradescope's results.json checked
against its schema, feedback pages, class.html) from made-up results, and the sandbox of Python answers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from workbook.course import exercises, grade_report, grader, sandbox
from workbook.course.grader import Graded, StudentGrades

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
NAMES = list(exercises.EXERCISES)


def test_the_grading_table_gives_points_partial_credit_and_what_is_not_graded(tmp_path):
    scheme = grader.load_table()
    assert set(scheme.points) == set(NAMES)
    # savepoint_restore is judged on the student's own running cluster: left out of the grade
    assert scheme.not_graded == {"savepoint_restore": "needs the student's own running cluster"}
    assert scheme.max_score == sum(p for n, p in scheme.points.items() if n not in scheme.not_graded) == 34
    # no PostgreSQL for panel_sql and trade_assets: left out of the grade, and of its maximum, with the reason
    assert grader.max_score(scheme, None) == 31 and grader.max_score(scheme, grader.PanelDb("u", "s")) == 34
    skeleton = grader.submission.Answer("-- TODO")
    left_out = grader.grade_exercise("panel_sql", grader.submission.Answer("SELECT 1"), skeleton, scheme, None)
    assert left_out.status == "not graded" and "python -m workbook up" in left_out.summary
    no_lookups = grader.grade_exercise("trade_assets", grader.submission.Answer("SELECT 1"), skeleton, scheme, None)
    assert no_lookups.status == "not graded" and "lookups in the table assets" in no_lookups.summary
    words = "volumes: the table volumes would not take your rows. the processor would refuse it"
    assert grader.points_for(scheme, "volumes", False, words) == 2
    assert grader.points_for(scheme, "volumes", False, "volumes: not yet. wrong values") == 0
    assert grader.points_for(scheme, "volumes", True, "") == 3
    bad = tmp_path / "t.toml"
    bad.write_text("[exercises.nope]\npoints = 1\n")
    with pytest.raises(ValueError, match="no such exercises: nope"):
        grader.load_table(bad)


def _student(name: str, statuses: dict, notes=()) -> StudentGrades:
    graded = []
    for ex in NAMES:
        status = statuses.get(ex, "not attempted")
        points = {"passed": 1.0}.get(status, 0.0)
        summary = {"passed": f"{ex}: correct.", "failed": f"{ex}: wrong windows."}.get(status, f"{ex}: {status}.")
        problems = ["the windows are 2 minutes long"] if status == "failed" else []
        graded.append(Graded(ex, status, points, 1.0, summary, problems))
    return StudentGrades(name, f"submission-{name}.zip", "2026-01-15T10:00:00Z", "0.1.0", graded, list(notes))


def test_the_reports_from_results(tmp_path):
    results = [
        _student("ann", dict.fromkeys(NAMES, "passed")),
        _student("bob", {"hop_vwap": "failed", "volumes": "passed"}, ["a note"]),
        _student("bob", {"hop_vwap": "failed"}),
    ]
    results[1].hint_levels = {"hop_vwap": [1, 2]}
    grade_report.write_reports(results, NAMES, float(len(NAMES)), tmp_path, "2026-01-16 08:00:00 UTC")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert list(rows[0])[:5] == ["student_id", "timestamp", "raw_score", "score", "max_score"]
    assert [r["student_id"] for r in rows] == ["ann", "bob", "bob-2"]  # the same id twice: two folders
    assert rows[0]["score"] == str(len(NAMES)) and rows[1]["volumes"] == "1" and rows[1]["notes"] == "a note"
    for sid in ("ann", "bob", "bob-2"):
        jsonschema.validate(json.loads((tmp_path / sid / "results.json").read_text()), SCHEMA)
    page = (tmp_path / "bob" / "feedback.html").read_text()
    assert "hop_vwap: wrong windows." in page and "the windows are 2 minutes long" in page and "a note" in page
    board = (tmp_path / "class.html").read_text()
    assert "wrong windows. <b>&times;2</b>" in board and "level 2: 1" in board
    assert "generated at 2026-01-16 08:00:00 UTC" in board and "bob-2/feedback.html" in board


def test_the_schema_refuses_what_gradescope_would():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"score": 1, "tests": [{"name": "x", "visibility": "sometimes"}]}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tests": [{"name": "x"}]}, SCHEMA)  # no score anywhere


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("while True:\n    pass\n", "did not finish"),
        ("while True:\n    print('x' * 1000)\n", "printed too much"),
        ("import os\nos.system('true')\nstream_counts = None\n", "it used os.system"),
        ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept OSError:\n    pass\n", "network"),
        ("raise ValueError('boom')\n", "your code raised ValueError: boom"),
        ("x = bytearray(3 * 1024**3)\n", "MemoryError"),
    ],
)
def test_a_python_answer_that_misbehaves_fails_with_the_reason(code, words):
    out = sandbox.run("stream_counts", code, timeout_s=4)
    assert not out["passed"]
    assert words in " ".join([out["summary"], *out["problems"]])


def test_a_python_answer_is_checked_on_the_grading_data():
    out = sandbox.run("stream_counts", exercises.solution("stream_counts"), timeout_s=30)
    assert out["passed"], out
    practice = json.loads((Path(exercises.__file__).parent / "expected" / "stream_counts.json").read_text())
    assert f"{sum(r[2] for r in practice['rows'])} trades" not in out["summary"]  # not the practice data


def test_a_named_mistake_is_the_verdict_or_else_its_first_problem():
    assert Graded("x", "failed", 0, 1, "x: wrong windows.", ["more"]).mistake == "wrong windows."
    raised = Graded("x", "failed", 0, 1, "x: not yet.", ["your code raised ValueError: boom"])
    assert raised.mistake == "your code raised ValueError"
    columns = Graded("x", "failed", 0, 1, "x: not yet.", ["columns: your query returns ['EXPR$0'] (...)"])
    assert columns.mistake == "columns"
    assert Graded("x", "passed", 1, 1, "x: correct.").mistake is None


def test_sql_that_would_run_code_in_the_grader_is_refused_before_it_runs():
    scheme = grader.load_table()
    for sql in ("CREATE TEMPORARY FUNCTION f AS 'os.system' LANGUAGE PYTHON", "ADD JAR '/tmp/x.jar'"):
        ok, summary, problems = grader.run_answer("tumble_counts", sql, scheme)
        assert not ok and "refuses" in summary and "not allowed" in problems[0]
    assert grader.FORBIDDEN_SQL.search(grader.feedback_code("-- no CREATE FUNCTION here\nSELECT 1")) is None


def _zip(tmp_path: Path, student: str, version: str | None = None) -> Path:
    from workbook.course import submission

    manifest = submission.manifest(student, {})
    if version:
        manifest["course_version"] = version
    path = tmp_path / f"submission-{student}.zip"
    return submission.write_zip(submission.project_files(), path, manifest)


def test_a_skeleton_another_version_and_a_corrupt_zip_grade_without_running_anything(tmp_path):
    scheme = grader.load_table()
    skeleton = grader.grade_submission(_zip(tmp_path, "bob"), scheme)
    assert skeleton.score == 0 and skeleton.notes == []
    assert {g.status for g in skeleton.graded} == {"not attempted", "not graded"}
    old = grader.grade_submission(_zip(tmp_path, "old", version="0.0.1"), scheme)
    assert "made with course version 0.0.1" in old.notes[0]
    bad = tmp_path / "submission-dan.zip"
    bad.write_bytes(b"PK\x03\x04 nope")
    corrupt = grader.grade_submission(bad, scheme)
    assert corrupt.student == "dan" and "could not read" in corrupt.notes[0]
    assert {g.status for g in corrupt.graded} == {"missing", "not graded"}


def test_the_grading_jvm_gets_the_tables_heap(monkeypatch):
    monkeypatch.setenv("JVM_ARGS", "-Dx=1")
    grader.limit_flink_heap(grader.load_table())
    assert grader.os.environ["JVM_ARGS"] == "-Dx=1 -Xmx3072m"
    monkeypatch.setenv("JVM_ARGS", "-Xmx4g")
    grader.limit_flink_heap(grader.load_table())
    assert grader.os.environ["JVM_ARGS"] == "-Xmx4g"


def test_grading_without_postgresql_warns_and_leaves_panel_sql_out(capsys):
    with grader.panel_db(
        grader.load_table(), "postgresql+psycopg2://nobody@127.0.0.1:9/none"
    ) as panel:  # nothing there
        assert panel is None
    said = capsys.readouterr().out
    assert (
        said.startswith("WARNING: panel_sql and trade_assets are not graded: PostgreSQL did not answer (")
        and grader.NO_PANEL_DB in said
    )


def test_a_panel_answer_that_is_more_than_one_select_is_refused_before_it_runs():
    panel = grader.PanelDb("postgresql+psycopg2://nobody@127.0.0.1:9/none", "s")  # never reached
    for sql in ("SELECT 1; DROP SCHEMA s CASCADE", "COMMIT; SELECT 1", "DELETE FROM candlesticks"):
        ok, summary, problems = grader.run_answer("panel_sql", sql, grader.load_table(), panel)
        assert not ok and summary == "panel_sql: a statement grading refuses.", (sql, summary)


WATERMARK_ANSWERS = [
    "def watermark_delay(stream):\n    return '6'\n",
    "def watermark_delay(stream):\n    return 6000\n",
    "def watermark_delay(stream):\n    return None\n",
    "def watermark_delay(stream):\n    return float('nan')\n",
    "def watermark_delay(stream):\n    return 1 / 0\n",
    "import numpy\ndef watermark_delay(stream):\n    return numpy.int64(3)\n",
    "watermark_delay = 3\n",
    "x = 1\n",
    "raise KeyError('nope')\n",
]
STREAM_ANSWERS = [
    "stream_counts = pd.DataFrame(records).groupby('currency_pair').size()\n",
    "df = pd.DataFrame(records)\nstream_counts = df.groupby(['currency_pair', 'direction']).agg("
    "trades=('price', 'size'), volume=('volume', 'sum'))\n",  # its index made columns by the check
    "stream_counts = [1, 2]\n",
]


@pytest.mark.parametrize("code", WATERMARK_ANSWERS + STREAM_ANSWERS)
def test_the_sandboxed_verdict_is_the_checks_own_on_the_grading_data(code):
    """The answer's process gives only what the answer gave; the check judges it here, in the same words as the
    check run directly on the grading data."""
    from workbook.course import checks, datasets
    from workbook.course.grading import GRADING

    name = "watermark_delay" if "watermark_delay" in code or "raise" in code or code == "x = 1\n" else "stream_counts"
    with datasets.using(GRADING):
        direct = checks.run_check(name, code)
    out = sandbox.run(name, code, timeout_s=30)
    assert (out["passed"], out["summary"], out["problems"]) == (
        direct.passed,
        direct.summary,
        [str(p) for p in direct.problems],
    )


def test_an_answer_cannot_read_the_expected_outputs_or_change_its_verdict():
    from workbook.course.grading import EXPECTED_DIR

    peek = f"stream_counts = open({str(EXPECTED_DIR / 'stream_counts.json')!r}).read()\n"
    out = sandbox.run("stream_counts", peek, timeout_s=10)
    assert not out["passed"] and "the workbook's own files" in " ".join(out["problems"])
    forge = "import workbook.course.checks as c\nc.run_check = lambda *a, **k: 'passed'\nstream_counts = None\n"
    out = sandbox.run("stream_counts", forge, timeout_s=10)
    assert not out["passed"]

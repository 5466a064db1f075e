"""Grading a class for real (PyFlink MiniCluster): a small generated class graded twice by
`python -m workbook.course grade`, once per module: all correct gets full marks (a moved cell too), the skeleton
0 and "not attempted", a mix the expected points per exercise (a VALUES list of the practice rows fails on the
grading data, an endless loop fails with its reason), a corrupt zip a row of its own; twice the same bytes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import gradekit
import jsonschema
import pytest

from workbook.course import exercises, grader

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]  # panel_sql: PostgreSQL
ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
MIXED = {"source_table": "passed", "candlesticks": "passed", "tumble_counts": "failed", "stream_counts": "failed"}


def _grade(folder: Path, out: Path, table: Path) -> None:
    cmd = [sys.executable, "-m", "workbook.course", "grade", str(folder), "--out", str(out), "--table", str(table)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=500)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, stack):
    base = tmp_path_factory.mktemp("class")
    folder = base / "submissions"
    solutions = gradekit.correct()
    gradekit.write(folder, "ann", solutions, hint_levels={"volumes": [1, 2]}, moved="tumble_counts")
    gradekit.write(folder, "bob", {})
    mixed = {name: solutions[name] for name in ("source_table", "candlesticks")}
    mixed["tumble_counts"] = gradekit.values_answer()
    mixed["stream_counts"] = "while True:\n    pass\n"
    gradekit.write(folder, "cy", mixed)
    (folder / "submission-dan.zip").write_bytes(b"PK\x03\x04 a broken download")
    table = base / "points.toml"  # the project's table, a shorter time limit for the endless loop
    table.write_text(grader.TABLE_PATH.read_text().replace("python_timeout_s = 30", "python_timeout_s = 8"))
    _grade(folder, base / "first", table)
    _grade(folder, base / "second", table)
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO((base / "first" / "grades.csv").read_text()))}
    return base, rows


def _results(base: Path, student: str) -> dict:
    data = json.loads((base / "first" / student / "results.json").read_text())
    jsonschema.validate(data, SCHEMA)
    return {t["name"]: t for t in data["tests"]}


def test_all_correct_gets_full_marks_with_a_moved_cell(graded):
    base, rows = graded
    assert rows["ann"]["score"] == rows["ann"]["max_score"] == f"{grader.load_table().max_score:g}" == "34"
    results = _results(base, "ann")
    left_out = grader.load_table().not_graded  # savepoint_restore: the student's own cluster, never graded
    assert all(t["status"] == "passed" for n, t in results.items() if n not in left_out)
    assert all(results[n]["tags"] == ["not graded"] and rows["ann"][n] == "" for n in left_out)


def test_the_skeleton_gets_nothing_and_is_not_attempted(graded):
    base, rows = graded
    assert rows["bob"]["score"] == "0"
    left_out = grader.load_table().not_graded
    assert {t["tags"][0] for n, t in _results(base, "bob").items() if n not in left_out} == {"not attempted"}


def test_a_mix_gets_its_points_per_exercise(graded):
    base, rows = graded
    scheme = grader.load_table()
    graded = [n for n in exercises.EXERCISES if n not in scheme.not_graded]
    expected = {n: scheme.points[n] if MIXED.get(n) == "passed" else 0 for n in graded}
    got = {n: float(rows["cy"][n]) for n in graded}
    assert got == expected
    results = _results(base, "cy")
    assert "did not finish" in results["stream_counts"]["output"]
    assert results["tumble_counts"]["status"] == "failed"  # the practice rows from a VALUES list
    assert results["filter_project"]["tags"] == ["not attempted"]


def test_a_values_list_of_the_practice_rows_passes_practice_but_not_grading(graded, tmp_path):
    answer = tmp_path / "tumble_counts.sql"
    answer.write_text(gradekit.values_answer())
    practice = subprocess.run(
        [sys.executable, "-m", "workbook.course", "check", "tumble_counts", str(answer)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert practice.returncode == 0, practice.stdout


def test_a_corrupt_zip_is_a_row_and_grading_goes_on(graded):
    base, rows = graded
    assert rows["dan"]["score"] == "0" and "could not read submission-dan.zip" in rows["dan"]["notes"]
    assert (base / "first" / "dan" / "feedback.html").exists()


def test_the_feedback_names_problems_without_expected_rows_or_solutions(graded):
    base, _ = graded
    page = (base / "first" / "cy" / "feedback.html").read_text()
    assert "tumble_counts: not yet." in page and "not attempted" in page
    assert "example row" not in page and "expected:" not in page  # the practice box's example rows: never here
    for name in ("candlesticks", "volumes", "tumble_counts"):
        solution_lines = [line for line in exercises.solution(name).splitlines() if len(line.strip()) > 30]
        assert not any(line.strip() in page for line in solution_lines), name
    board = (base / "first" / "class.html").read_text()
    assert "ann/feedback.html" in board and "level 2: 1" in board


def test_the_same_folder_graded_twice_gives_the_same_files(graded):
    base, _ = graded
    first = sorted(p.relative_to(base / "first") for p in (base / "first").rglob("*") if p.is_file())
    second = sorted(p.relative_to(base / "second") for p in (base / "second").rglob("*") if p.is_file())
    assert first == second and len(first) == 1 + 2 * 4 + 1
    for rel in first:
        a, b = (base / "first" / rel).read_text(), (base / "second" / rel).read_text()
        if rel.name == "class.html":
            a, b = ([line for line in t.split("<p class='small'>generated at")] for t in (a, b))
            a, b = a[0] + a[1].split("</p>", 1)[1], b[0] + b[1].split("</p>", 1)[1]
        assert a == b, rel


def test_one_students_ddl_never_reaches_the_next(tmp_path):
    """In one process, as in a worker: a student who drops the view valid_trades, then one whose answer needs it."""
    from workbook.course import feedback

    solutions = gradekit.correct()
    eve = gradekit.write(tmp_path, "eve", {"filter_project": "DROP VIEW valid_trades;\n" + solutions["filter_project"]})
    fay = gradekit.write(tmp_path, "fay", {"filter_project": solutions["filter_project"]})
    scheme = grader.load_table()
    first = {g.exercise: g for g in grader.grade_submission(eve, scheme).graded}
    assert first["filter_project"].status == "failed"
    assert feedback.session().ddl == []  # forgotten after eve
    second = {g.exercise: g for g in grader.grade_submission(fay, scheme).graded}
    assert second["filter_project"].status == "passed", second["filter_project"].summary

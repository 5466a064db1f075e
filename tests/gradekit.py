"""Generated submissions for the grader's tests: a class of students with chosen answers (tests/test_grade.py)."""

from __future__ import annotations

import json
from pathlib import Path

from workbook.course import exercises, submission
from workbook.course.datasets import EXPECTED_DIR

ROOT = Path(__file__).resolve().parent.parent


def correct() -> dict:
    """Every exercise's instructor solution."""
    return {name: exercises.solution(name) for name in exercises.EXERCISES}


def values_answer() -> str:
    """tumble_counts answered by selecting the practice data's expected rows from a VALUES list: it passes the
    practice check, and fails on the grading data."""
    rows = json.loads((EXPECTED_DIR / "tumble_counts.json").read_text())["rows"]
    values = ",\n  ".join(f"('{a}', '{b}', '{pair}', {n})" for a, b, pair, n in rows)
    return (
        "SELECT CAST(ws AS TIMESTAMP(3)) AS window_start, CAST(we AS TIMESTAMP(3)) AS window_end,\n"
        "  currency_pair, CAST(n AS BIGINT) AS num_trades\n"
        f"FROM (VALUES\n  {values}\n) AS t(ws, we, currency_pair, n)\n"
    )


def manifest(student: str, hint_levels: dict | None = None) -> dict:
    data = submission.manifest(student, {n: {"hint_levels": v} for n, v in (hint_levels or {}).items()})
    data["created_at"] = "2026-01-15T10:00:00Z"
    return data


def write(folder: Path, student: str, answers: dict, hint_levels: dict | None = None, moved: str | None = None) -> Path:
    """submission-<student>.zip with `answers` (exercise -> text) in place of the handed-out cells and files;
    `moved`: an exercise whose cell is moved to the top of its notebook first."""
    files = submission.project_files(ROOT)
    if moved:
        nb_path = exercises.get(moved).student
        nb = json.loads(files[nb_path])
        cell = next(c for c in nb["cells"] if submission.cell_exercise(c) == moved)
        nb["cells"].remove(cell)
        nb["cells"].insert(0, cell)
        files[nb_path] = json.dumps(nb).encode()
    files = submission.with_answers(files, answers)
    folder.mkdir(parents=True, exist_ok=True)
    return submission.write_zip(files, folder / f"submission-{student}.zip", manifest(student, hint_levels))

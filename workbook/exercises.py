"""Exercises and their instructor solutions.

An exercise cell in a notebook holds only what the student writes: a SQL
string passed to `exercise(name, sql)`, or a file under `sql/` loaded with
`exercise_file(name)`. Solutions live in `solutions/` and are used instead of
the student's text only on purpose:

- the instructor sets `WORKBOOK_SOLUTIONS=1` before starting JupyterLab (CI
  does the same so every cell runs), or
- calls `reveal("name")` in a cell to show one solution in class.

The student release (`python -m workbook.release`) has no `solutions/`.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"
SOLUTIONS_DIR = PROJECT_ROOT / "solutions"


class SolutionsMissing(RuntimeError):
    pass


def solutions_enabled() -> bool:
    return os.environ.get("WORKBOOK_SOLUTIONS", "").strip().lower() in ("1", "true", "yes")


def solution_path(name: str) -> Path:
    path = SOLUTIONS_DIR / (name if name.endswith(".sql") else f"{name}.sql")
    if not path.exists():
        if not SOLUTIONS_DIR.exists():
            raise SolutionsMissing("this is a student release: it has no solutions/ folder.")
        raise SolutionsMissing(f"no solution named {name!r} in solutions/ (have: "
                               f"{', '.join(sorted(p.stem for p in SOLUTIONS_DIR.glob('*.sql')))})")
    return path


def solution(name: str) -> str:
    return solution_path(name).read_text()


def exercise(name: str, student_sql: str) -> str:
    """The student's SQL, or the instructor solution when WORKBOOK_SOLUTIONS=1."""
    if solutions_enabled():
        print(f"WORKBOOK_SOLUTIONS=1: using the instructor solution solutions/{solution_path(name).name}")
        return solution(name)
    return student_sql


def exercise_file(name: str) -> str:
    """The student's file sql/<name>, or its solution when WORKBOOK_SOLUTIONS=1."""
    if solutions_enabled():
        return exercise(name, "")
    return (SQL_DIR / name).read_text()


def reveal(name: str):
    """Show one solution, highlighted, for the instructor (on purpose, never by default)."""
    from IPython.display import Markdown

    return Markdown(f"**Instructor solution** `solutions/{solution_path(name).name}`\n\n```sql\n{solution(name)}\n```")

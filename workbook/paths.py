"""Where the project's files are, and where each student file's solution is.

Solutions mirror the student's path under `solutions/`: the student file
`sql/41_volumes.sql` has its solution at `solutions/sql/41_volumes.sql`; an
exercise cell NAME of `notebooks/05_candlesticks.ipynb` has its solution at
`solutions/notebooks/05_candlesticks/NAME.sql`. Every user of solutions (the
processor's --solutions, the checks, `reveal`, the student release) resolves
them through `solution_of`.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
SOLUTIONS_DIR = PROJECT_ROOT / "solutions"


def relative(path: Path | str) -> Path:
    """`path` relative to the project root (it may be given relative already)."""
    p = Path(path)
    return p.relative_to(PROJECT_ROOT) if p.is_absolute() else p


def solution_of(student: Path | str, cell: str | None = None) -> Path:
    """The solution's path of a student file, or of the exercise cell `cell` of a notebook."""
    rel = relative(student)
    if cell is not None:
        return SOLUTIONS_DIR / rel.with_suffix("") / f"{cell}.sql"
    return SOLUTIONS_DIR / rel


def has_solutions() -> bool:
    """False in a student release, which has no solutions/ folder."""
    return SOLUTIONS_DIR.is_dir()

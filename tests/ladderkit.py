"""Helpers of the exercise ladders' tests (tests/test_ladder_*.py): the exercise cells of a committed notebook.

A plain module, not a test file: tests/ is on sys.path (no __init__.py, pytest's default `prepend` import mode),
so the tests `from ladderkit import ...`."""

from __future__ import annotations

import json

from workbook.paths import PROJECT_ROOT


def skeletons(notebook: str) -> dict:
    """Exercise name -> the body (without its %%flinksql line) of each `%%flinksql --exercise NAME` cell of
    notebooks/`notebook`.ipynb as committed: what a student starts from."""
    out = {}
    for cell in json.loads((PROJECT_ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and src.startswith("%%flinksql --exercise"):
            first, _, body = src.partition("\n")
            out[first.split()[2]] = body
    return out


def exercise_cell(notebook: str, name: str) -> str:
    """The source of the cell of exercise `name` (its metadata's workbook.exercise) of notebooks/`notebook`.ipynb
    as committed."""
    for cell in json.loads((PROJECT_ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]:
        if cell.get("metadata", {}).get("workbook", {}).get("exercise") == name:
            return "".join(cell["source"])
    raise AssertionError(f"no exercise cell {name} in notebooks/{notebook}.ipynb")

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


def processor_plan(statements) -> str:
    """EXPLAIN of the processor's job made of `statements` (statements.load_statements), its sinks printing: the
    sources it reads are the tables its plan names ('default_database, trades')."""
    from workbook.config import load_config
    from workbook.pipeline.flink_env import create_table_env
    from workbook.pipeline.statements import define, sql_values

    t_env = create_table_env(parallelism=1)
    inserts = define(t_env, statements, sql_values(load_config()), dry_run=True)
    statement_set = t_env.create_statement_set()
    for _, text in inserts:
        statement_set.add_insert_sql(text)
    return statement_set.explain()


def exercise_cell(notebook: str, name: str) -> str:
    """The source of the cell of exercise `name` (its metadata's workbook.exercise) of notebooks/`notebook`.ipynb
    as committed."""
    for cell in json.loads((PROJECT_ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]:
        if cell.get("metadata", {}).get("workbook", {}).get("exercise") == name:
            return "".join(cell["source"])
    raise AssertionError(f"no exercise cell {name} in notebooks/{notebook}.ipynb")

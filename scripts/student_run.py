"""Store the notebooks' outputs of the STUDENT run: each notebook executed top to bottom in a fresh kernel, as a
student who has answered nothing yet runs it (the exercise files as committed, WORKBOOK_SOLUTIONS unset), and
written back with those outputs. `make notebook-outputs` runs it; the stack must be up (`python -m workbook up`).

The notebooks write to a database of their own, made afresh (STUDENT_DB, dropped at the end): as on a student's
new machine, no table holds rows an earlier solution run left. Kafka topics are filled by the notebooks themselves.

The instructor's solution run (nbval, `make test-notebooks`) compares the cells marked NBVAL_CHECK_OUTPUT with
these outputs, so a marked cell must print the same in both runs; its outputs are never stored.
tests/test_committed_outputs.py fails when a stored output comes from a solution run.

    python scripts/student_run.py [NOTEBOOK ...]     # default: every notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's packages, run from anywhere
from workbook.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STUDENT_DB = "workbook_student_run"
CELL_TIMEOUT_S = 300  # the longest cell is a bounded Flink job (about a minute on a busy machine)


def student_env() -> None:
    """The kernel inherits this process's environment: no instructor switches, the fresh database."""
    for name in ("WORKBOOK_SOLUTIONS", "WORKBOOK_GRADING"):
        os.environ.pop(name, None)
    os.environ["POSTGRES_DB"] = STUDENT_DB
    os.environ["WORKBOOK_STATIC_WIDGETS"] = "1"  # widgets hang nbclient now and then; stored, they show nothing


def _admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(**load_config().psycopg2_kwargs())  # the project's own database, to manage another
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def fresh_database() -> None:
    """STUDENT_DB, empty, with the processor's tables (sql/postgres/)."""
    import psycopg2

    from workbook.database import apply_ddl

    _admin(f"DROP DATABASE IF EXISTS {STUDENT_DB} WITH (FORCE)")
    _admin(f"CREATE DATABASE {STUDENT_DB}")
    apply_ddl(psycopg2.connect(**load_config(POSTGRES_DB=STUDENT_DB).psycopg2_kwargs()))


def run(path: Path) -> float:
    """Execute `path` in a fresh kernel from notebooks/ and store its outputs; the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    clock = {"start": time.monotonic()}
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,  # no wall-clock times in the stored notebook
        on_cell_execute=lambda cell, cell_index: clock.update(start=time.monotonic()),
        on_cell_executed=lambda cell, cell_index, execute_reply: print(
            f"  cell {cell_index}: {time.monotonic() - clock['start']:.1f} s", flush=True
        ),
    )
    started = time.monotonic()
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    path.write_text(nbformat.writes(nb) + "\n")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    fresh_database()
    student_env()
    for path in paths:
        print(f"running {path.name} as a student ...", flush=True)
        try:
            seconds = run(path)
        except CellExecutionError as exc:
            print(f"{path.name}: a cell failed in the student run; nothing stored for it.\n{exc}", file=sys.stderr)
            return 1
        print(f"  stored {path.name}'s outputs ({seconds:.0f} s)", flush=True)
    os.environ.pop("POSTGRES_DB")
    _admin(f"DROP DATABASE IF EXISTS {STUDENT_DB} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

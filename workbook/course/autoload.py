"""The workbook's extension, there from a kernel's start: the project's kernel (jupyter/kernels/python3/,
which `make lab` and the Docker JupyterLab use) runs `--ext workbook.course.autoload`, so `%%flinksql` and
`hint` exist even when a restarted kernel's first cell is an exercise, without `%load_ext workbook`.

Light on purpose: a kernel that never runs Flink SQL starts no JVM and imports nothing of the course. The
first `%%flinksql` loads the `workbook` extension (as `%load_ext workbook` does: the real magic replaces this
one, the warm-up starts) and runs the cell. A notebook's own `%load_ext workbook` loads it as before.
"""

from __future__ import annotations

EXTENSION = "workbook"


def hint(name: str, level: int | None = None) -> None:
    """Print a hint for exercise `name` (workbook.course.exercises.hint)."""
    from .exercises import hint as show  # deferred on purpose: a kernel starts without importing the course

    show(name, level)


def load_ipython_extension(ipython) -> None:
    def flinksql(line: str, cell: str | None = None):
        """Flink SQL in a notebook cell (the first use loads the workbook extension; %%flinksql? then lists the
        options)."""
        ipython.extension_manager.load_extension(EXTENSION)
        from .magic import run  # deferred on purpose: loaded by the line above, only when a cell uses it

        return run(line, cell, ipython)

    if ipython.find_cell_magic("flinksql") is None:  # the real one, if loaded, stays
        ipython.register_magic_function(flinksql, "line_cell", "flinksql")
    ipython.user_ns.setdefault("hint", hint)

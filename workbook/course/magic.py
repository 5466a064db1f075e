"""`%%flinksql`: Flink SQL in notebook cells, over the processor's tables and views.

    %load_ext workbook

    %%flinksql [--data check|sample|replayed|topic] [--limit N] [--changelog] [--out NAME] [--timeout S]
    SELECT currency_pair, COUNT(*) AS trades FROM valid_trades GROUP BY currency_pair

    %%flinksql --exercise candlesticks      (the cell is the answer; its check runs at once)
    %flinksql --exercise volumes --file     (the exercise's file of sql/ is the answer)
    %flinksql --restore                     (the workbook's tables and views again, after a cell dropped one)

The result is a pandas DataFrame, its rows sorted by every column (deterministic
output for nbval); `--changelog` shows the update stream instead, with each
row's kind (+I, -U, +U, -D) in arrival order. CREATE / DROP statements of a
cell stay in effect for the next cells. An error is one block (Flink's message,
the line and column, the cell with the place marked) and does not raise, so
Run All goes on; a check shows a CheckResult (passed in one line, otherwise a
box). With WORKBOOK_SOLUTIONS=1 (the instructor's and CI's run) an exercise
cell runs the solution instead, and a failing check raises, so CI sees it.
The options are IPython magic arguments: `%%flinksql?` lists them.
If the kernel's Flink session stopped (its JVM killed, ...), the next cell says so in one line and runs
in a new one; the checks use the workbook's tables and views as sql/ has them even after a cell dropped
one, and `--restore` brings them back in the cells.
"""

from __future__ import annotations

import argparse
import html

from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..config import SettingsError, load_config
from ..pipeline import sql_files, switches
from ..pipeline.errors import empty_topic_note
from ..pipeline.session import DEFAULT_TIMEOUT_S, MODULES, TOPIC, QueryTimeout, SessionLost, SqlError
from ..pipeline.sql_files import SqlFileError
from . import checks, exercises, feedback

DATA = ("check", "sample", "replayed", "topic")
CHANGELOG_SHOWN = 100  # rows of a changelog shown without --limit (--out NAME keeps them all)


def _more_than_zero(cast):
    """An argparse type: a number of `cast`'s kind, more than 0."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text}: expected a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text}: must be more than 0")
        return value

    return parse


@magic_arguments()
@argument("--data", choices=DATA, default="check", help="the trades the tables read (default: check)")
@argument("--limit", type=_more_than_zero(int), metavar="N", help="show the first N rows only")
@argument("--changelog", action="store_true", help="the update stream, each row's kind (+I, -U, +U, -D) first")
@argument("--out", metavar="NAME", help="also store the result frame in the variable NAME")
@argument("--exercise", metavar="NAME", help="the cell is exercise NAME's answer: its check runs at once")
@argument("--file", action="store_true", help="with --exercise: the exercise's file of sql/ is the answer")
@argument(
    "--restore",
    action="store_true",
    help="define the workbook's tables and views again as sql/ has them (after a cell dropped or changed one)",
)
@argument(
    "--timeout",
    type=_more_than_zero(float),
    default=DEFAULT_TIMEOUT_S,
    metavar="S",
    help=f"stop a query still running after S seconds (default: {DEFAULT_TIMEOUT_S:g})",
)
def flinksql(line: str, cell: str | None = None):
    """Flink SQL in a notebook cell, over the processor's tables and views (%%flinksql? for the options)."""
    return run(line, cell, get_ipython())


def parse_args(line: str) -> argparse.Namespace:
    """The magic's options; IPython's UsageError (argparse's message) when they are wrong."""
    return parse_argstring(flinksql, line)


class ErrorBlock:
    """A failed cell, shown as one block (no traceback)."""

    def __init__(self, title: str, text: str):
        self.title, self.body = title, text

    def __repr__(self) -> str:
        return f"{self.title}\n{self.body}"

    def _repr_html_(self) -> str:
        return (
            '<div style="border:2px solid #cf222e;border-radius:6px;padding:8px 12px">'
            f"<b>{html.escape(self.title)}</b><pre style='margin:4px 0'>{html.escape(self.body)}</pre></div>"
        )


def run(line: str, cell: str | None, shell=None):
    """The magic: a DataFrame, a CheckResult or an ErrorBlock."""
    try:
        opts = parse_args(line)
    except UsageError as exc:
        return ErrorBlock("Usage", f"%%flinksql: {exc}")
    if opts.restore:
        return restore()
    say_if_flink_is_starting()
    if opts.exercise:
        return run_exercise(opts, cell, shell)
    if not (cell or "").strip():
        return ErrorBlock("Nothing to run", "%%flinksql: write Flink SQL in the cell below the %%flinksql line.")
    try:
        result = feedback.session().run_cell(
            cell, data=opts.data, limit=opts.limit, changelog=opts.changelog, timeout_s=opts.timeout
        )
    except SqlError as exc:
        return ErrorBlock(f"Flink SQL error: {exc.message}", exc.marked() if exc.line else exc.text())
    except QueryTimeout as exc:
        return ErrorBlock("Query stopped", str(exc))
    except SessionLost as exc:
        return ErrorBlock("The Flink session stopped", str(exc))
    except Exception as exc:  # noqa: BLE001 (the stack is down, a dataset is missing, ...)
        return ErrorBlock("Could not run the cell", str(exc))
    if opts.out and shell is not None:
        shell.user_ns[opts.out] = result.frame
    if opts.data == TOPIC and not any(feedback.session().topic_ends.values()):
        config = feedback.session().config
        print(
            empty_topic_note(config.kafka_topic, config.kafka_bootstrap_servers, "no trades to query yet", "this cell")
        )
    if result.frame is None:  # only DDL: say what is now defined
        print("done: " + (", ".join(result.executed) or "nothing to run"))
        say_if_workbook_changed(cell)
        return None
    if opts.changelog and opts.limit is None and len(result.frame) > CHANGELOG_SHOWN:
        keep = f"--out NAME keeps all {len(result.frame)}" if not opts.out else f"{opts.out} has them all"
        print(f"the first {CHANGELOG_SHOWN} of {len(result.frame)} changelog rows (--limit N shows N; {keep})")
        return result.frame.head(CHANGELOG_SHOWN)
    return result.frame


STARTING = (
    "\u23f3 Flink is starting in this kernel (a JVM and a MiniCluster: about 20 s); this cell runs when it is ready."
)


def say_if_flink_is_starting() -> None:
    """A wait over 5 s says what it waits for: the first cells of a kernel wait for its Flink; a session that
    had stopped (its JVM killed, ...) is said once, in one line, and started again."""
    session = feedback.session()
    starting = session.starting  # before take_notice: a warm-up that ends meanwhile still made this cell wait
    notice = session.take_notice()
    if notice:
        print(notice, flush=True)
    elif starting or session.starting:
        print(STARTING, flush=True)


def say_if_workbook_changed(cell: str) -> None:
    """After a cell that dropped, changed or redefined a workbook table or view (or USE): what it means."""
    session = feedback.session()
    names = [n for _, raw in sql_files.split_statements(cell) if (n := session.touches_workbook(raw))]
    if names:
        what = {
            "USE": "USE changed the current catalog or database",
            MODULES: "LOAD/UNLOAD MODULE or USE MODULES changed the functions Flink knows",
        }.get(names[0], f"{names[0]} is the workbook's")
        print(
            f"note: {what}: the checks keep using the workbook's tables and views as sql/ has them; "
            "%flinksql --restore brings them back in your cells."
        )


def restore() -> None:
    """--restore: the workbook's tables and views again, in the cells too."""
    forgotten = feedback.session().restore()
    if not forgotten:
        print("restore: nothing to do, no cell changed the workbook's tables or views.")
        return
    said = "; ".join(" ".join(stmt.split())[:80] for stmt in forgotten)
    print(f"restored: the workbook's tables and views, as sql/ has them (forgotten: {said}).")


def run_exercise(opts: argparse.Namespace, cell: str | None, shell=None):
    name = opts.exercise
    try:
        ex = exercises.get(name)
    except KeyError as exc:
        return ErrorBlock("Unknown exercise", str(exc.args[0]))
    if opts.file:
        if ex.in_cell:
            return ErrorBlock("Not a file exercise", f"exercise {name!r} is written in a cell of {ex.notebook}")
        try:
            sql = exercises.exercise_file(name)
        except (OSError, SqlFileError) as exc:
            return ErrorBlock("Unreadable file", str(exc))
    else:
        sql = exercises.exercise(name, cell or "")
    if shell is not None:  # the answer, for the cells after the exercise
        shell.user_ns[f"{name}_sql"] = sql
    return checks.checked(name, sql, timeout_s=opts.timeout)


# What the kernel's session runs while the student reads on after `%load_ext workbook` (an example of
# notebook 03, not an exercise's answer): windows, aggregates and the views, so the first cell is warm.
WARM_UP_SQL = """SELECT window_start, window_end, direction, MAX(price) AS top_price
FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '10' MINUTE))
GROUP BY window_start, window_end, direction"""


def load_ipython_extension(ipython) -> None:
    try:  # bad settings: one message now, not a traceback from the first cell's session
        load_config()
    except SettingsError as exc:
        raise UsageError(f"the workbook's settings: {exc}") from None
    # a line magic too: `%flinksql --exercise volumes --file`
    ipython.register_magic_function(flinksql, "line_cell", "flinksql")
    ipython.user_ns.setdefault("hint", exercises.hint)
    if switches.enabled("WORKBOOK_WARM_UP"):
        feedback.session().warm_up(WARM_UP_SQL, data=("check", "sample"))  # the exercises' and notebook 03's

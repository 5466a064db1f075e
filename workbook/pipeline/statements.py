"""The processor's statements: the files of sql/ (or their solutions) as
CREATE and INSERT statements, their ${PLACEHOLDERS} filled in from the
configuration, defined in a TableEnvironment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..kafka import specific_offsets_option
from ..paths import has_solutions
from . import sql_files
from .errors import ProcessorError, flink_message

SOURCE_TABLE = "trades"
RATES_TABLE = "rates"  # the second source (sql/25_rates.sql): the assets' USD rates
# the exercise files of sql/ and the one table each may write (the course's file exercises; a test keeps them
# equal): anything else in them is refused, and that file skipped
EXERCISE_FILES = {"40_candlesticks.sql": "candlesticks", "41_volumes.sql": "volumes"}


@dataclass(frozen=True)
class Statement:
    path: Path
    text: str
    kind: str  # 'create', 'insert', 'skeleton' (an exercise file not done yet) or 'refused': both skipped
    name: str  # the table or view created, or the INSERT's target table
    reason: str = ""  # why a 'refused' exercise file is skipped

    @property
    def is_sink(self) -> bool:
        """A table the processor writes to PostgreSQL: JDBC, and not a lookup table (one with 'lookup.' options,
        which queries read: sql/27_assets.sql)."""
        options = sql_files.with_options(self.text) if self.kind == "create" else {}
        return options.get("connector") == "jdbc" and not any(key.startswith("lookup.") for key in options)

    @property
    def label(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def load_statements(solutions: bool = False) -> list:
    if solutions and not has_solutions():
        raise ProcessorError("--solutions: this is a student release, it has no solutions/ folder")
    out = []
    for path in sql_files.sql_paths(solutions):
        sink = EXERCISE_FILES.get(path.name)
        try:
            text = sql_files.read_sql_file(path)
        except sql_files.SqlFileError as exc:
            if sink is None:
                raise ProcessorError(str(exc)) from None
            out.append(Statement(path, "", "refused", sink, f"it {exc.problem}"))
            continue
        if sql_files.is_skeleton(text):  # an exercise not done yet: reported and skipped, never replaced
            out.append(Statement(path, text, "skeleton", sink or _skeleton_target(path, text)))
            continue
        problem = sql_files.own_sink_problem(text, sink) if sink else None
        if problem:  # a student file reaching beyond its exercise: skipped, the other statements run
            out.append(Statement(path, text, "refused", sink, problem))
            continue
        k = sql_files.kind(text)
        if k == "create":
            name = sql_files.table_name(text)
        elif k == "insert":
            name = sql_files.insert_target(text)
        else:
            raise ProcessorError(
                f"{path}: expected one CREATE TABLE/VIEW or INSERT INTO statement, "
                f"found {sql_files.code_of(text)[:60]!r}"
            )
        out.append(Statement(path, text, k, name))
    return out


def _skeleton_target(path: Path, text: str) -> str:
    """The table an exercise file writes: its INSERT's target, else the file's name without the number."""
    try:
        return sql_files.insert_target(text)
    except sql_files.SqlFileError:
        return path.stem.split("_", 1)[-1]


def skeleton_warnings(statements) -> list:
    """One warning per exercise file that is not done yet (it still has a TODO): skipped, so its table
    gets no rows."""
    return [
        f"{s.label} (exercise {s.name!r}) is not done yet: it still has a TODO, so it is skipped and the table "
        f"{s.name} gets no rows. Write the statement (and remove the TODO), check it with `python -m "
        f"workbook.course check {s.name} {s.label}`, or run with --solutions."
        for s in statements
        if s.kind == "skeleton"
    ] + [
        f"{s.label} (exercise {s.name!r}) is refused: {s.reason}. It is skipped and the table {s.name} gets no "
        f"rows; the other statements run. Fix it, then check it with `python -m workbook.course check {s.name} "
        f"{s.label}`."
        for s in statements
        if s.kind == "refused"
    ]


def sql_values(config: Config, topic: str | None = None, jdbc_url: str | None = None) -> dict:
    """The values of the ${PLACEHOLDERS} of the SQL files."""
    return {
        "KAFKA_TOPIC": topic or config.kafka_topic,
        "KAFKA_RATES_TOPIC": config.kafka_rates_topic,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap_servers,
        "JDBC_URL": jdbc_url or config.jdbc_url,
        "POSTGRES_HOST": config.postgres_host,
        "POSTGRES_PORT": config.postgres_port,
        "POSTGRES_DB": config.postgres_db,
        "POSTGRES_USER": config.postgres_user,
        "POSTGRES_PASSWORD": config.postgres_password,
        "MAX_AHEAD_SECONDS": config.max_ahead_seconds,
    }


def jdbc_url_with_schema(config: Config, schema: str) -> str:
    """The JDBC URL with a PostgreSQL schema first on the search path (tests isolate their tables so)."""
    return f"{config.jdbc_url.partition('?')[0]}?currentSchema={schema}"


def define(t_env, statements, values: dict, dry_run: bool = False, end_offsets: dict | None = None) -> list:
    """Run the CREATE statements; return the INSERT statements, rendered, in order.
    With `end_offsets` the source table is bounded right after it is created (a view
    captures the table's options when it is created, so later would be too late)."""
    inserts = []
    for st in statements:
        text = st.text
        if st.kind == "create":
            if dry_run and st.is_sink:
                text = sql_files.as_print_sink(text, st.name)
            try:
                t_env.execute_sql(sql_files.strip_sql(sql_files.render(text, values)))
            except Exception as exc:  # noqa: BLE001 - Py4J raises Flink errors as plain Exceptions
                raise ProcessorError(f"{st.label}: {flink_message(exc)}") from None
            if end_offsets is not None and st.name == SOURCE_TABLE:
                bound_source(t_env, end_offsets)
        elif st.kind == "insert":  # a skeleton (an exercise not done yet) is skipped: skeleton_warnings
            inserts.append((st, sql_files.strip_sql(sql_files.render(text, values))))
    return inserts


def bound_source(t_env, end_offsets: dict, table: str = SOURCE_TABLE) -> None:
    """Make the Kafka source stop at these offsets (a bounded job finishes there)."""
    t_env.execute_sql(
        f"ALTER TABLE {table} SET ('scan.bounded.mode' = 'specific-offsets', "
        f"'scan.bounded.specific-offsets' = '{specific_offsets_option(end_offsets)}')"
    )

"""The processor's Flink SQL files: listing, loading and filling in placeholders.

`sql/NN_name.sql` holds one statement each (no trailing `;` needed), run in
name order: CREATE TABLE / CREATE TEMPORARY VIEW statements first, then the
INSERT INTO statements, which run together as one Flink job. A student file's
solution (`solutions/sql/NN_name.sql`, see workbook.paths) replaces it when
solutions are asked for (`--solutions`, or WORKBOOK_SOLUTIONS=1 in the notebooks).

Placeholders `${NAME}` are filled in from the configuration; the values are
escaped for SQL string literals.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..paths import SQL_DIR, solution_of

_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


class SqlFileError(ValueError):
    def __init__(self, message: str, problem: str | None = None):
        super().__init__(message)
        self.problem = problem  # read_sql_file's: what is wrong, without the file's name ("is UTF-16 text, ...")


def sql_paths(solutions: bool = False) -> list:
    """The statements' files in run order; with `solutions`, each file that has a
    solution is replaced by it."""
    paths = sorted(SQL_DIR.glob("*.sql"))
    if solutions:
        paths = [solution_of(p) if solution_of(p).exists() else p for p in paths]
    return paths


def find(name: str, solutions: bool = False) -> Path:
    """A file by name: '40_candlesticks.sql', '40_candlesticks' or just 'candlesticks'."""
    stem = name[:-4] if name.endswith(".sql") else name
    matches = [p for p in sql_paths(solutions) if p.stem == stem or re.sub(r"^\d+_", "", p.stem) == stem]
    if not matches:
        have = ", ".join(p.stem for p in sql_paths())
        raise SqlFileError(f"no SQL file named {name!r} in sql/ (have: {have})")
    return matches[0]


def load_sql(name: str, solutions: bool = False) -> str:
    """The text of one statement file (the solution's text when `solutions` and there is one)."""
    return read_sql_file(find(name, solutions))


def read_sql_file(path: Path) -> str:
    """A SQL file's text, read as UTF-8; SqlFileError naming the file and the problem for anything else (UTF-16,
    binary data, a folder or an unreadable file in its place)."""
    path = Path(path)
    label = f"{path.parent.name}/{path.name}" if path.parent.name else str(path)

    def unreadable(problem: str) -> SqlFileError:
        return SqlFileError(f"{label} {problem}", problem)

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SqlFileError(f"{label}: no such file", "is missing (no such file)") from None
    except OSError as exc:  # a folder saved under the file's name, no permission
        raise unreadable(f"cannot be read ({exc.strerror or exc}): it must be a text file") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise unreadable("is UTF-16 text, not UTF-8: save it as UTF-8 (JupyterLab's editor does)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise unreadable(
            f"holds binary data (a NUL byte at byte {nul}), not SQL text: write the statement as UTF-8 text"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise unreadable(
            f"is not UTF-8 text ({exc.reason}: byte 0x{data[exc.start]:02x} at {exc.start}): "
            "save it as UTF-8 (JupyterLab's editor does)"
        ) from None


MAX_EXERCISE_FILE = 64 * 1024  # an exercise file holds one statement: more is not one


def own_sink_problem(text: str, sink: str) -> str | None:
    """Why an exercise file cannot run as the processor's `INSERT INTO sink` (it may write only its own table,
    and nothing else: one statement), or None."""
    one = f"an exercise file holds one statement, INSERT INTO {sink} SELECT ..., and only comments besides"
    if len(text) > MAX_EXERCISE_FILE:
        return f"it is {len(text) // 1024} KiB: {one}"
    statements = [t for _, t in split_statements(text)]
    if len(statements) != 1:
        return f"it holds {len(statements) or 'no'} statements: {one}"
    (statement,) = statements
    if kind(statement) != "insert" or code_of(statement).split()[0].upper() != "INSERT":
        first = " ".join(code_of(statement).split()[:3])
        first = first if len(first) <= 60 else first[:57] + "..."  # any file can be saved here: /etc/passwd
        return f"it is not an INSERT INTO {sink} statement (it starts {first!r}): the file may only write {sink}"
    target = insert_target(statement).split(".")[-1]
    if target.lower() != sink:
        return f"it writes {target}, but this exercise file may only write its own table, {sink}"
    return None


def strip_sql(text: str) -> str:
    """The statement without a trailing ';' (Flink's execute_sql wants none)."""
    text = text.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def _runs(text: str):
    """The runs of `text` as (start, end, kind): "code", "quoted" ('...', "..." or `...`; a doubled quote
    closes and opens again) or "comment" (`--` to the end of the line, `/* ... */`). Every statement
    scanner of the project (strip_comments, split_statements) reads SQL through here."""
    i, n, start = 0, len(text), 0
    while i < n:
        c = text[i]
        if c in "'`\"":
            end = text.find(c, i + 1)
            end = n if end < 0 else end + 1
            kind = "quoted"
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            kind = "comment"
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            kind = "comment"
        else:
            i += 1
            continue
        if start < i:
            yield start, i, "code"
        yield i, end, kind
        i = start = end
    if start < n:
        yield start, n, "code"


def strip_comments(text: str) -> str:
    """The text without its comments, `-- ...` and `/* ... */` (in quotes they are kept). A block comment
    becomes a blank that keeps its line breaks, so tokens stay apart and lines stay where they were."""
    out = []
    for start, end, kind in _runs(text):
        part = text[start:end]
        if kind != "comment":
            out.append(part)
        elif part.startswith("/*"):
            out.append(" " + "\n" * part.count("\n"))
    return "".join(out)


def code_of(text: str) -> str:
    """The statement without comments, whitespace collapsed (for inspecting it)."""
    return " ".join(strip_comments(text).split())


def kind(text: str) -> str:
    """'insert', 'create' or 'other', from the statement's first word."""
    words = code_of(text).split()
    first = words[0].upper() if words else ""
    if first in ("INSERT", "EXECUTE"):
        return "insert"
    if first == "CREATE":
        return "create"
    return "other"


def render(text: str, values: dict) -> str:
    """Fill in ${NAME} placeholders; every value is escaped for a '...' SQL literal."""
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise SqlFileError(
            f"unknown placeholder(s) {', '.join('${' + m + '}' for m in missing)}; known: {', '.join(sorted(values))}"
        )
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]).replace("'", "''"), text)


def is_skeleton(text: str) -> bool:
    """Still an exercise skeleton: its code (comments count too) has a TODO marker."""
    return "TODO" in text


_WITH = re.compile(r"\)\s*WITH\s*\((.*)\)\s*;?\s*$", re.DOTALL | re.IGNORECASE)


def with_options(ddl: str) -> dict:
    """The options of a CREATE TABLE ... WITH (...) statement, comments removed."""
    m = _WITH.search(strip_comments(ddl))
    if not m:
        return {}
    return dict(re.findall(r"'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'", m.group(1)))


def as_print_sink(ddl: str, identifier: str) -> str:
    """The same CREATE TABLE with its connector replaced by 'print' (--dry-run):
    rows are printed to standard output instead of written to PostgreSQL."""
    return _with_connector(ddl, identifier, f"'connector' = 'print', 'print-identifier' = '{identifier}'")


def as_blackhole_sink(ddl: str, identifier: str) -> str:
    """The same CREATE TABLE with its connector replaced by 'blackhole': the same columns and types, nothing
    written (the SQL cells' session plans students' INSERTs against it)."""
    return _with_connector(ddl, identifier, "'connector' = 'blackhole'")


def _with_connector(ddl: str, identifier: str, options: str) -> str:
    text = strip_comments(ddl)
    m = _WITH.search(text)
    if not m:
        raise SqlFileError(f"cannot find the WITH (...) options of sink {identifier!r}")
    return text[: m.start()] + f") WITH ({options})"


def table_name(ddl: str) -> str:
    m = re.search(
        r"CREATE\s+(?:TEMPORARY\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([\w.]+)`?", code_of(ddl), re.IGNORECASE
    )
    if not m:
        raise SqlFileError(f"not a CREATE TABLE/VIEW statement: {code_of(ddl)[:80]}")
    return m.group(1)


_DDL_TARGET = re.compile(
    r"^(CREATE|DROP|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?(?:TABLE|VIEW)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    r"([`\w.]+)",
    re.IGNORECASE,
)


def ddl_target(text: str) -> str | None:
    """The table or view a CREATE, DROP or ALTER TABLE/VIEW statement creates or changes: its own name
    (a qualified name's last part, lower case, without backquotes); None for any other statement."""
    m = _DDL_TARGET.match(code_of(text).strip())
    return m.group(2).split(".")[-1].strip("`").lower() if m else None


# `INSERT INTO t [(columns)]` at the start of a statement, after blanks and `--` comments: what is left is its query
INSERT_PREFIX = re.compile(
    r"^(?:\s|--[^\n]*\n)*INSERT\s+(?:INTO|OVERWRITE)\s+`?[\w.]+`?(\s*\([^)]*\))?\s*", re.IGNORECASE
)


def insert_target(text: str) -> str:
    m = re.match(r"\s*INSERT\s+(?:INTO|OVERWRITE)\s+`?([\w.]+)`?", code_of(text), re.IGNORECASE)
    if not m:
        raise SqlFileError(f"not an INSERT INTO statement: {code_of(text)[:80]}")
    return m.group(1)


def select_part(text: str) -> str:
    """The query of an `INSERT INTO t SELECT ...` (or the text itself if it is a query)."""
    code = strip_sql(strip_comments(text))
    return INSERT_PREFIX.sub("", code, count=1).strip()


def split_statements(text: str) -> list:
    """The statements of a cell or script, split at `;` outside quotes and comments, as
    (offset of the statement in `text`, its raw text): the offsets map Flink's line and
    column back to the cell. Statements that hold only comments and blanks are left out."""
    cuts = [i for start, end, kind in _runs(text) if kind == "code" for i in range(start, end) if text[i] == ";"]
    out, start = [], 0
    for cut in cuts:
        out.append((start, text[start:cut]))
        start = cut + 1
    out.append((start, text[start:]))
    return [(s, t) for s, t in out if code_of(t)]


_METADATA = re.compile(r"\s+METADATA\s+FROM\s+'[^']*'(\s+VIRTUAL)?", re.IGNORECASE)


def as_file_source(ddl: str, path: str) -> str:
    """The same CREATE TABLE over JSON lines in the folder `path` instead of Kafka: its
    metadata columns (kafka_partition, kafka_offset) become fields of the JSON records.
    The computed column and the WATERMARK stay as they are."""
    text = _METADATA.sub("", strip_comments(ddl))
    m = _WITH.search(text)
    if not m:
        raise SqlFileError("cannot find the WITH (...) options of the source table")
    return text[: m.start()] + (
        f") WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json', "
        "'json.ignore-parse-errors' = 'true')"
    )

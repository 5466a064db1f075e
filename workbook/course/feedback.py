"""What every check builds on, and imports no check: the verdict (`CheckResult`, shown as one
line when an answer passes and as a box when not), the one way a check fails (raise `Wrong`
anywhere; the check function, decorated with `judged`, returns it as the failed CheckResult),
one comparison of numbers (`close`), and running a student's answer in the kernel's warm
Flink session (`session`, `run_answer`).
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass, field

import pandas as pd

from ..pipeline import ProcessorError, SqlFileError, sql_files
from ..pipeline.errors import SinkMismatch
from ..pipeline.session import QueryTimeout, Session, SessionLost, SqlError
from .datasets import active, check_trades, dataset, rates_of, replayed_trades, sample_trades
from .hints import levels

# --- the verdict ---------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """What a check found: shown as one line when it passed, as a box when not; never raises.
    `bool(result)` is whether it passed (tests and CI assert it)."""

    exercise: str
    passed: bool
    summary: str  # one line
    problems: list = field(default_factory=list)  # what is wrong, most telling first
    got: dict | None = None  # an example row of the student's result ...
    expected: dict | None = None  # ... and the reference's row for the same window and pair
    hint: str | None = None  # the name to pass to hint(...)
    hint_level: int | None = None  # suggest hint(name, level) (levels 1 to N) rather than hint(name)

    def __bool__(self) -> bool:
        return self.passed

    def _hint_call(self, name: str) -> tuple[str, str]:
        """The hint(...) call to suggest, with `name` as written there, and what follows the call:
        the range of levels when the call names a level."""
        if self.hint_level is None:
            return f'hint("{name}")', ""
        count = len(levels(self.hint))
        return f'hint("{name}", {self.hint_level})', f" (levels 1 to {count})" if count else ""

    def text(self) -> str:
        if self.passed:
            return f"\u2705 {self.summary}"
        lines = [f"\u274c {self.summary}"] + [f"- {p}" for p in self.problems]
        if self.got is not None or self.expected is not None:
            lines.append(f"  example row, got:      {self.got}")
            lines.append(f"  example row, expected: {self.expected}")
        if self.hint:
            call, count = self._hint_call(self.hint)
            lines.append(f"  stuck? {call}{count}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        if self.passed:
            return f'<div style="color:#1a7f37">\u2705 {html.escape(self.summary)}</div>'
        items = "".join(
            f"<li><pre style='white-space:pre-wrap;margin:0'>{html.escape(p)}</pre></li>" for p in self.problems
        )
        rows = ""
        if self.got is not None or self.expected is not None:
            # one line per column (a candle has ten): the box stays narrow, the values side by side
            got, expected = self.got or {}, self.expected or {}
            cols = list(dict.fromkeys([*expected, *got]))

            def line(c) -> str:
                a, b = got.get(c, ""), expected.get(c, "")
                mark = " style='color:#cf222e;font-weight:bold'" if str(a) != str(b) else ""
                cells = f"<td{mark}>{html.escape(str(a))}</td><td>{html.escape(str(b))}</td>"
                return f"<tr><th style='text-align:left'>{html.escape(str(c))}</th>{cells}</tr>"

            rows = (
                "<p>An example row:</p><div style='overflow-x:auto'><table>"
                "<tr><th>column</th><th>got</th><th>expected</th></tr>"
                + "".join(line(c) for c in cols)
                + "</table></div>"
            )
        hint = ""
        if self.hint:
            call, count = self._hint_call(html.escape(self.hint))
            hint = f"<p>Stuck? Run <code>{call}</code>{count}.</p>"
        return (
            '<div style="border:2px solid #cf222e;border-radius:6px;padding:8px 12px;margin:4px 0">'
            f"<b>\u274c {html.escape(self.summary)}</b><ul>{items}</ul>{rows}{hint}</div>"
        )


def passed(exercise: str, text: str, title: str | None = None) -> CheckResult:
    """The verdict of an answer that passed: `<title>: <text>` (the title is the exercise's name by default)."""
    return CheckResult(exercise, True, f"{title or exercise}: {text}")


class Wrong(Exception):
    """A named mistake, raised anywhere in a check: what is wrong (most telling first), an example row got
    and expected, the verdict's summary (after `<title>: `) and the hint level to suggest."""

    def __init__(
        self,
        problems,
        got: dict | None = None,
        expected: dict | None = None,
        *,
        summary: str = "not yet.",
        title: str | None = None,
        hint_level: int | None = None,
    ):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.got, self.expected, self.summary, self.title, self.hint_level = got, expected, summary, title, hint_level
        super().__init__(self.problems[0] if self.problems else summary)

    def result(self, exercise: str) -> CheckResult:
        summary = f"{self.title or exercise}: {self.summary}"
        return CheckResult(
            exercise, False, summary, self.problems, self.got, self.expected, hint=exercise, hint_level=self.hint_level
        )


def judged(exercise: str):
    """Decorate a check of `exercise`: a Wrong raised inside becomes its failed CheckResult, so every check
    function returns a CheckResult."""

    def decorate(check):
        @functools.wraps(check)
        def run(*args, **kwargs) -> CheckResult:
            try:
                return check(*args, **kwargs)
            except Wrong as wrong:
                return wrong.result(exercise)

        return run

    return decorate


# --- comparing numbers ---------------------------------------------------------------------------


def close(a, b, rel: float = 1e-9):
    """Whether `a` is `b` within `rel` of b (an absolute `rel` below 1): two missing values (None, NaN) are the
    same, a missing value and a number are not, and text is no number. Element by element (a bool Series, by
    position) when either is a Series."""
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        a, b = (pd.to_numeric(pd.Series(v), errors="coerce").astype(float).reset_index(drop=True) for v in (a, b))
        return ((a - b).abs() <= rel * b.abs().clip(lower=1.0)) | (a.isna() & b.isna())
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return _missing(a) and _missing(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return abs(x - y) <= rel * max(abs(y), 1.0)


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is not one missing value
        return False


# --- running an answer ---------------------------------------------------------------------------

_SESSION = None


def session() -> Session:
    """The kernel's warm Flink session over the fixed datasets (created on first use)."""
    global _SESSION
    if _SESSION is None:
        names = {"check": check_trades, "sample": sample_trades, "replayed": replayed_trades}
        _SESSION = Session(names, rates={name: rates_of(name) for name in names})
    return _SESSION


def data_key(name: str) -> str:
    """The session's name of dataset `name` of the active data (PRACTICE's keep theirs), defined on first use."""
    key = name if active().name == "practice" else f"{active().name}-{name}"
    session().datasets.setdefault(key, dataset(name))
    session().rates.setdefault(key, rates_of(name))
    return key


def answer_sql(sql: str) -> str:
    """The student's answer as SQL: a statement file's name ('41_volumes') is that file's text."""
    words = sql_files.code_of(sql).split()
    if len(words) == 1 and not sql.strip().endswith(";"):
        try:
            return sql_files.load_sql(words[0])
        except SqlFileError:
            raise SqlError(
                f"your answer is the single word {words[0]!r}, not a query: write a SELECT ... "
                "FROM valid_trades (or the name of a file of sql/)",
                sql,
                1,
                1,
            ) from None
    return sql


def run_answer(
    sql: str,
    timeout_s: float | None = None,
    *,
    data: str = "check",
    changelog: bool = False,
    limit: int | None = None,
    known_errors=(),
    source: str | None = None,
) -> pd.DataFrame:
    """The result frame of the student's answer on a dataset, run in the kernel's session; Wrong when it does
    not run. `known_errors`: (words of Flink's message, summary, problem) triples that name the mistake behind
    an error; `source`: the file the answer is written in (the messages name it). Every check runs answers
    through here."""
    try:
        cell = session().run_cell(
            answer_sql(sql if isinstance(sql, str) else ""),
            data=data_key(data),
            changelog=changelog,
            limit=limit,
            timeout_s=timeout_s,
            protected=True,  # the workbook's tables and views as sql/ has them, whatever earlier cells did
        )
    except SqlError as exc:
        for words, summary, problem in known_errors:
            if words in exc.message:
                raise Wrong([problem, exc.text()], summary=summary) from None
        raise Wrong([exc.text()], summary="your query did not run.") from None
    except QueryTimeout as exc:
        raise Wrong([str(exc)], summary="your query did not finish.") from None
    except SessionLost as exc:
        raise Wrong([str(exc)], summary="the check could not run: the Flink session stopped.") from None
    except ProcessorError as exc:
        raise Wrong([str(exc)], summary="your query did not run.") from None
    if cell.frame is None:
        where = f" in {source}" if source else ""
        raise Wrong(
            [f"write the query of the exercise{where} (comments and CREATE statements alone return no rows)"],
            summary=f"there is no query (SELECT ...){where} to check yet.",
        )
    return cell.frame


def last_query(sql: str) -> str | None:
    """The last query of an answer (a SELECT, WITH ..., or the query of an INSERT INTO), or None."""
    queries = [
        text
        for _, text in sql_files.split_statements(answer_sql(sql if isinstance(sql, str) else ""))
        if sql_files.code_of(text).split()[0].upper().startswith(("SELECT", "WITH", "INSERT", "VALUES", "("))
    ]
    return queries[-1] if queries else None


def answer_plan(sql: str, data: str = "check"):
    """Flink's plan of the answer's last query over dataset `data` (planned only, nothing runs): a Plan, or None
    without a query or when it does not plan (running it says why, with the line)."""
    query = last_query(sql)
    if query is None:
        return None
    try:
        return session().plan(query, data_key(data))
    except Exception:  # noqa: BLE001 (Py4J raises plain exceptions)
        return None


def plan_operators(plan) -> str:
    """A plan's operators as a verdict names them, from the result down: without the Calc and Exchange steps."""
    return ", ".join(dict.fromkeys(op for op in plan.operators if op not in ("Calc", "Exchange")))


def require_operator(plan, operator: str, what: str, advice: str) -> None:
    """Wrong when an answer whose rows are right is not run as `operator` (`what` names it: "an OVER window"),
    or its result updates rows; `advice`: what to write instead, as hint level 2 shows it."""
    if plan is None or (operator in plan.operators and not plan.updating):
        return
    raise Wrong(
        f"your query gives the right rows, but not with {what} (Flink's plan: {plan_operators(plan)}; its rows: "
        f"{','.join(sorted(plan.kinds))}). {advice}",
        summary=f"not {what}.",
        hint_level=2,
    )


def require_windowed(sql: str, window: str, data: str = "check", hint_level: int = 2) -> None:
    """Wrong when the answer, which ran, is an updating aggregation instead of a windowed one: its plan (Flink's
    EXPLAIN, nothing runs) has a result that updates its rows. `window`: the window table function to use,
    as the message shows it; `hint_level`: the exercise's hint that shows it."""
    query = last_query(sql)
    plan = session().plan(query, data_key(data)) if query else None
    if plan is None or not plan.updating:
        return
    operators = plan_operators(plan)
    raise Wrong(
        [
            "your query is an updating aggregation, not a windowed one (Flink's plan: "
            f"{operators}; its result updates rows: {','.join(sorted(plan.kinds))}). A GROUP BY without a "
            "window table function never closes a window: it rewrites a row of its result with every trade, "
            "keeps state for every group forever (a minute that is over is still kept), and in the processor "
            "it would rewrite PostgreSQL rows on every trade. Its final rows can look right: its stream is not. "
            f"Group by window_start and window_end of {window} instead."
        ],
        summary="an updating aggregation, not a window.",
        hint_level=hint_level,
    )


def require_sink_columns(sql: str, table: str, data: str = "check") -> None:
    """Wrong when the processor's job would refuse the answer as `INSERT INTO table`: a column of a type the
    table cannot take (a BIGINT COUNT(*) for the INT num_trades), or another number of columns. Planned
    against a table with the sink's columns and types, in the kernel's session: nothing runs."""
    query = last_query(sql)
    if query is None:
        return
    try:
        session().plan_insert(table, query, data_key(data))
    except SinkMismatch as exc:
        problem = f"the processor would refuse it: {exc}."
        raise Wrong([problem], summary=f"the table {table} would not take your rows.") from None
    except ProcessorError as exc:
        problem = f"Flink cannot plan it as INSERT INTO {table}: {exc}"
        raise Wrong([problem], summary="your statement does not plan.") from None


# --- the rows of an answer and of the stored expected outputs -------------------------------------------


def example_row(frame: pd.DataFrame, i: int = 0, columns: list | None = None) -> dict | None:
    """Row `i` of `frame` (of its `columns`) as a dict for a verdict's example, timestamps as text; None if empty."""
    if not len(frame):
        return None
    row = (frame[columns] if columns else frame).iloc[i].to_dict()
    return {k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}


def naive_utc(values) -> pd.Series:
    """Times as naive UTC datetime64[ms] (a TIMESTAMP_LTZ column arrives zone-aware); TypeError or ValueError when
    they are no times."""
    ts = pd.to_datetime(values)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.astype("datetime64[ms]")


def cell_value(code: str, name: str, given: dict | None = None):
    """What the cell's `code` assigns to `name` (a value, a function), run with the names `given`, as a notebook's
    earlier cells would have defined them; what the code raises, raised."""
    namespace = dict(given or {})
    exec(compile(code, f"<{name}>", "exec"), namespace)  # noqa: S102 (the student's own cell)
    return namespace.get(name)


def require_types(got: pd.DataFrame, times: dict, numbers: dict | None = None) -> pd.DataFrame:
    """`got` with its `times` columns as naive UTC times and its `numbers` columns as numbers (column -> what it
    should be, as the verdict says it: "the trade's time"); Wrong naming the first column that is neither."""

    def wrong(col: str, what: str) -> Wrong:
        return Wrong(
            f"{col} should be {what}, got values like {got[col].iloc[0]!r}.", example_row(got), summary="wrong types."
        )

    for col, what in times.items():
        try:
            got[col] = naive_utc(got[col])
        except (TypeError, ValueError):
            raise wrong(col, what) from None
    for col, what in (numbers or {}).items():
        if got[col].map(lambda v: isinstance(v, str)).any():  # text that looks like a number is still text
            raise wrong(col, what)
        try:
            got[col] = pd.to_numeric(got[col])
        except (TypeError, ValueError):
            raise wrong(col, what) from None
    return got


def load_expected_csv(name: str, times: tuple = ()) -> pd.DataFrame:
    """The stored expected output `name`.csv of the active data (practice, or grading when graded), its `times`
    columns as naive datetime64[ms]."""
    frame = pd.read_csv(active().expected_dir / f"{name}.csv", parse_dates=list(times))
    for col in times:
        frame[col] = frame[col].astype("datetime64[ms]")
    return frame


def column_difference(have: list, columns: list) -> str:
    """What differs between an answer's columns and the expected ones, in a few words."""
    missing = [c for c in columns if c not in have]
    extra = [c for c in have if c not in columns]
    why = "; ".join(filter(None, [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]))
    return why or "same names, other order"


def require_rows(
    got: pd.DataFrame, expected: pd.DataFrame, columns: list, advice: str, no_rows: str = "your query returns no rows."
) -> None:
    """Wrong when the answer's columns are not `columns` (`advice`: what to do, after what differs) or it has no
    rows (`no_rows` says so); the example rows are the answer's first and the expected first."""
    have = list(got.columns)
    if have != columns:
        raise Wrong(
            f"your query returns {have}, expected {columns} ({column_difference(have, columns)}). {advice}",
            example_row(got),
            example_row(expected, columns=columns),
            summary="wrong columns.",
        )
    if not len(got):
        raise Wrong(no_rows, None, example_row(expected, columns=columns), summary="no rows.")

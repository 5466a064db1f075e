"""Grading a class (instructor-only): every submission of a folder checked on the held-out grading data, its
points from the grading table (`workbook/course/grading/points.toml`).

    python -m workbook.course grade SUBMISSIONS/ --out grades/ [--workers N]

A submission (a zip or an unpacked folder, workbook/course/submission.py) is graded in a worker process with
its own warm Flink session; with several submissions, one worker per core (2 by default). The SQL answers
run in the worker's session (each query with a time limit; a student's CREATE/DROP/SET is forgotten before
the next student); a Python answer runs in a limited process of its own (workbook/course/sandbox.py). An
exercise left as handed out is "not attempted" and not run. Whatever is wrong with a submission (a corrupt
zip, a missing cell or file, an unreadable notebook, another course version) is said in its row; grading goes
on. The reports are written by workbook/course/grade_report.py.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from . import (
    checks,
    checks_candles,
    checks_dashboard,
    checks_lookup,
    datasets,
    exercises,
    feedback,
    sandbox,
    submission,
)
from .grading import GRADING

GENERIC = {"not yet"}  # a verdict that names no mistake: its first problem does
TABLE_PATH = Path(__file__).resolve().parent / "grading" / "points.toml"
# SQL an answer never needs, refused before it runs: it would run code or load classes in the grader
FORBIDDEN_SQL = re.compile(r"\b(CREATE\s+(?:TEMPORARY\s+)?(?:SYSTEM\s+)?FUNCTION|ADD\s+JAR|LOAD\s+MODULE)\b", re.I)


@dataclass(frozen=True)
class PanelDb:
    """Where panel_sql's answers run: a PostgreSQL (`url`) and a schema holding the candles its check reads
    (references.dashboard.candles_schema, made by the grade command)."""

    url: object  # config.postgres_url: a SQLAlchemy URL (its str() hides the password)
    schema: str


PANEL_COLUMNS = ["ts_start", "ts_end", "currency_pair", "price_avg", "price_min", "price_max", "volume", "num_trades"]
NO_PANEL_DB = "no PostgreSQL to run the panel's query on: start it (`python -m workbook up`) and grade again"
NO_LOOKUP_DB = "no PostgreSQL for its lookups in the table assets: start it (`python -m workbook up`) and grade again"
# one SELECT (or WITH ... SELECT): nothing else may run on the instructor's PostgreSQL
_ONE_SELECT = re.compile(r"^\s*(SELECT|WITH)\b[^;]*;?\s*$", re.I | re.S)


@contextmanager
def panel_db(scheme: Scheme, url) -> Iterator[PanelDb | None]:
    """The PostgreSQL at `url` with a scratch schema of the candles panel_sql's check reads (dropped afterwards);
    None, and a warning, when it does not answer (panel_sql and trade_assets are then not graded) or the table
    leaves it out."""
    if checks_dashboard.EXERCISE in scheme.not_graded:
        yield None
        return
    import sqlalchemy  # deferred on purpose: only panel_sql needs PostgreSQL

    engine = sqlalchemy.create_engine(url)
    name = f"workbook_grading_{uuid.uuid4().hex[:8]}"
    try:
        fill_candles(engine, name)
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        left_out = f"panel_sql and {checks_lookup.NAME} are not graded"
        print(f"WARNING: {left_out}: PostgreSQL did not answer ({reason}). {NO_PANEL_DB}.")
        engine.dispose()
        yield None
        return
    try:
        yield PanelDb(url, name)
    finally:
        try:
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        except sqlalchemy.exc.OperationalError as exc:
            print(f"note: the scratch schema {name} could not be dropped ({exc.orig}): drop it by hand")
        engine.dispose()


def fill_candles(engine, schema: str) -> None:
    """`schema`.candlesticks: the sample's candles (what the notebook's processor run writes; panel_sql's
    grading pair and range are of these) and the same a day later, which a query without a time filter reads."""
    import pandas as pd
    import sqlalchemy  # deferred on purpose: only panel_sql needs PostgreSQL

    with datasets.using(datasets.PRACTICE):  # the sample's candles are shipped with the practice data
        candles = checks_candles.expected_frame("candlesticks", data="sample")
    candles = candles[[c for c in PANEL_COLUMNS if c in candles]]
    day = pd.Timedelta(days=1)
    rows = pd.concat([candles, candles.assign(ts_start=candles.ts_start + day, ts_end=candles.ts_end + day)])
    for col in ("ts_start", "ts_end"):
        rows[col] = rows[col].dt.tz_localize("UTC")  # TIMESTAMPTZ, as the processor's table
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        rows.to_sql("candlesticks", conn, schema=schema, index=False)


def panel_engine(panel: PanelDb):
    """A read-only engine with a 10 s statement limit and a new connection per check (no pool: a student's
    session settings never reach the next student)."""
    import sqlalchemy  # deferred on purpose: only panel_sql needs PostgreSQL
    from sqlalchemy.pool import NullPool

    options = "-c default_transaction_read_only=on -c statement_timeout=10000"
    return sqlalchemy.create_engine(panel.url, poolclass=NullPool, connect_args={"options": options})


def run_panel_answer(text: str, panel: PanelDb) -> tuple[bool, str, list]:
    code = feedback_code(text)
    if code.strip() and not _ONE_SELECT.match(code):
        return False, "panel_sql: a statement grading refuses.", ["a panel's query is one SELECT, nothing else"]
    engine = panel_engine(panel)
    try:
        with datasets.using(GRADING):
            result = checks_dashboard.check_panel_sql(text, engine=engine, schema=panel.schema)
    finally:
        engine.dispose()
    return result.passed, result.summary, [str(p) for p in result.problems]


@dataclass(frozen=True)
class Scheme:
    """The grading table: points, partial credit, the exercises left out, the time limits."""

    points: dict
    partial: dict  # exercise -> [(words, points)]
    not_graded: dict  # exercise -> why
    sql_timeout_s: float = 60.0
    python_timeout_s: float = 30.0
    flink_heap_mb: int = 3072  # the heap of each worker's Flink JVM (-Xmx)

    @property
    def max_score(self) -> float:
        return sum(p for name, p in self.points.items() if name not in self.not_graded)


def load_table(path: Path = TABLE_PATH) -> Scheme:
    table = tomllib.loads(path.read_text())
    rows = table.get("exercises", {})
    unknown = set(rows) - set(exercises.EXERCISES)
    if unknown:
        raise ValueError(f"{path.name}: no such exercises: {', '.join(sorted(unknown))}")
    points = {name: float(rows.get(name, {}).get("points", 1)) for name in exercises.EXERCISES}
    partial = {
        name: [(r["problem"], float(r["points"])) for r in rows.get(name, {}).get("partial", [])] for name in rows
    }
    not_graded = {name: r["not_graded"] for name, r in rows.items() if "not_graded" in r or not r.get("points", 1)}
    limits = table.get("limits", {})
    return Scheme(
        points,
        partial,
        {name: str(why or "0 points in the grading table") for name, why in not_graded.items()},
        float(limits.get("sql_timeout_s", 60)),
        float(limits.get("python_timeout_s", 30)),
        int(limits.get("flink_heap_mb", 3072)),
    )


@dataclass
class Graded:
    """One exercise of one submission."""

    exercise: str
    status: str  # passed, failed, not attempted, missing, not graded
    points: float
    max_points: float
    summary: str  # the verdict's line, in the practice feedback's words
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def mistake(self) -> str | None:
        """The named problem of a failed answer: the verdict without its `<exercise>: ` title."""
        if self.status != "failed":
            return None
        said = self.summary.split(": ", 1)[1] if ": " in self.summary else self.summary
        if said.strip(" .") in GENERIC and self.problems:  # "not yet.": the first problem names it
            said = str(self.problems[0]).split(": ", 1)[0].split(" (")[0].strip()
        return said if len(said) <= 90 else said[:87] + "..."


@dataclass
class StudentGrades:
    student: str
    source: str
    timestamp: str = ""
    course_version: str = ""
    graded: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # about the whole submission
    hint_levels: dict = field(default_factory=dict)  # exercise -> the levels the manifest lists
    seconds: float = 0.0  # how long grading took (not in the reports: they are the same each time) ...
    worker: int = 0  # ... in which process (bench/bench_grade.py)

    @property
    def score(self) -> float:
        return sum(g.points for g in self.graded)


def points_for(scheme: Scheme, name: str, passed: bool, words: str) -> float:
    if passed:
        return scheme.points[name]
    return next((p for needle, p in scheme.partial.get(name, []) if needle in words), 0.0)


def run_answer(name: str, text: str, scheme: Scheme, panel: PanelDb | None = None) -> tuple[bool, str, list]:
    """The verdict of an answer on the grading data: (passed, summary, problems). Never raises."""
    if name == checks_dashboard.EXERCISE:
        try:
            return run_panel_answer(text, panel)
        except Exception as exc:  # noqa: BLE001 (PostgreSQL gone mid-grading: a failed exercise, said so)
            return False, f"{name}: the check could not run your answer.", [f"{type(exc).__name__}: {exc}"]
    if exercises.get(name).answer == "python":
        out = sandbox.run(name, text, scheme.python_timeout_s)
        return bool(out["passed"]), str(out["summary"]), list(out["problems"])
    found = FORBIDDEN_SQL.search(feedback_code(text))
    if found:
        return False, f"{name}: a statement grading refuses.", [f"{found.group(1)} is not allowed in an answer"]
    try:
        with datasets.using(GRADING):
            result = checks.run_check(name, text, timeout_s=scheme.sql_timeout_s)
    except Exception as exc:  # noqa: BLE001 (a check that breaks on an answer: a failed exercise, said so)
        return False, f"{name}: the check could not run your answer.", [f"{type(exc).__name__}: {exc}"]
    return result.passed, result.summary, [str(p) for p in result.problems]


def feedback_code(text: str) -> str:
    """The SQL without its comments (a refused word in a comment is no statement)."""
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", text, flags=re.S)


def not_graded(scheme: Scheme, panel: PanelDb | None) -> dict:
    """The exercises left out, and why: the table's, and panel_sql and trade_assets (whose lookups read the table
    assets) when there is no PostgreSQL for them (no panel although the table grades panel_sql: it did not answer)."""
    if panel is None and checks_dashboard.EXERCISE not in scheme.not_graded:
        return {checks_dashboard.EXERCISE: NO_PANEL_DB, checks_lookup.NAME: NO_LOOKUP_DB, **scheme.not_graded}
    return dict(scheme.not_graded)


def max_score(scheme: Scheme, panel: PanelDb | None) -> float:
    return sum(p for name, p in scheme.points.items() if name not in not_graded(scheme, panel))


def grade_exercise(
    name: str, answer: submission.Answer, skeleton: submission.Answer, scheme: Scheme, panel: PanelDb | None = None
) -> Graded:
    notes = [answer.note] if answer.note else []
    full = scheme.points[name]
    left_out = not_graded(scheme, panel)
    if name in left_out:
        return Graded(name, "not graded", 0.0, 0.0, f"{name}: not graded ({left_out[name]}).", notes=notes)
    if answer.text is None:
        return Graded(name, "missing", 0.0, full, f"{name}: no answer found.", [answer.problem or "missing"], notes)
    if submission.same_answer(answer.text, skeleton.text):
        return Graded(name, "not attempted", 0.0, full, f"{name}: not attempted (as handed out).", notes=notes)
    ok, summary, problems = run_answer(name, answer.text, scheme, panel)
    points = points_for(scheme, name, ok, " ".join([summary, *problems]))
    return Graded(name, "passed" if ok else "failed", points, full, summary, problems, notes)


# Python answers whose check runs or plans a query in the grader's Flink session (the Table API answer's Table, the
# plan state_operator's name is judged against): graded in the main thread with the SQL answers, since a
# TableEnvironment is not for two threads (and Flink 2.0's planner misses its metadata provider on another Py4J
# thread, FLINK-36298, 'metadataHandlerProvider')
IN_SESSION = {"candles_table_api", "state_operator"}


def grade_all(found: dict, skeletons: dict, scheme: Scheme, unread: str, panel: PanelDb | None = None) -> list:
    """Every exercise, in the registry's order: the Python answers in their own processes (two threads wait for
    them) while the SQL answers, and the Python answers of IN_SESSION, run one after the other in the session."""
    answers = {name: found.get(name) or submission.Answer(None, unread) for name in exercises.EXERCISES}
    graded = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        waiting = {
            name: pool.submit(grade_exercise, name, answers[name], skeletons[name], scheme, panel)
            for name in exercises.EXERCISES
            if exercises.get(name).answer == "python" and name not in IN_SESSION
        }
        for name in exercises.EXERCISES:
            if name not in waiting:
                graded[name] = grade_exercise(name, answers[name], skeletons[name], scheme, panel)
        graded.update({name: future.result() for name, future in waiting.items()})
    return [graded[name] for name in exercises.EXERCISES]


def grade_submission(
    path: Path, scheme: Scheme, skeletons: dict | None = None, panel: PanelDb | None = None
) -> StudentGrades:
    """One submission, every exercise; never raises. Leaves the worker's session as it found it."""
    started = time.perf_counter()
    sub = submission.read(path)
    out = StudentGrades(sub.student, sub.source)
    manifest = sub.manifest if isinstance(sub.manifest, dict) else {}
    out.timestamp = str(manifest.get("created_at", ""))
    out.course_version = str(manifest.get("course_version", ""))
    if sub.error:
        out.notes.append(sub.error)
    elif not manifest:
        out.notes.append("no readable manifest.json (not made by `python -m workbook.course submit`?)")
    if out.course_version and out.course_version != submission.course_version():
        out.notes.append(
            f"made with course version {out.course_version}, graded with {submission.course_version()}: "
            "check the exercises that changed by hand"
        )
    per_exercise = manifest.get("exercises", {}) if isinstance(manifest.get("exercises"), dict) else {}
    out.hint_levels = {n: list(e.get("hint_levels", [])) for n, e in per_exercise.items() if isinstance(e, dict)}
    skeletons = skeletons if skeletons is not None else submission.answers(submission.project_files())
    found = submission.answers(sub.files) if not sub.error else {}
    out.graded = grade_all(found, skeletons, scheme, sub.error or "the submission could not be read", panel)
    session = feedback.session()
    if session.ddl:  # this student's CREATE/DROP/SET must not reach the next student
        session.forget_cells()
    out.seconds, out.worker = time.perf_counter() - started, os.getpid()
    return out


_WORKER: dict = {}


def limit_flink_heap(scheme: Scheme) -> None:
    """The worker's JVM (started by its first query) gets at most the table's heap, unless JVM_ARGS sets one."""
    args = os.environ.get("JVM_ARGS", "")
    if "-Xmx" not in args:
        os.environ["JVM_ARGS"] = f"{args} -Xmx{scheme.flink_heap_mb}m".strip()


def _grade_in_worker(path: str, table: str, panel: PanelDb | None) -> StudentGrades:
    if "scheme" not in _WORKER:
        _WORKER["scheme"] = load_table(Path(table))
        _WORKER["skeletons"] = submission.answers(submission.project_files())
        limit_flink_heap(_WORKER["scheme"])
    return grade_submission(Path(path), _WORKER["scheme"], _WORKER["skeletons"], panel)


def submissions_in(folder: Path) -> list[Path]:
    """The submissions of a folder: its zips and its folders, by name."""
    return sorted(p for p in folder.iterdir() if (p.is_dir() or p.suffix == ".zip") and not p.name.startswith("."))


def grade_folder(
    folder: Path, table: Path = TABLE_PATH, workers: int | None = None, say=print, panel: PanelDb | None = None
) -> list:
    """Every submission of `folder`, graded in `workers` processes (default: one per core, at most 2); the
    results in the submissions' order. panel_sql is graded on `panel` (none: not graded, said in every row)."""
    paths = submissions_in(folder)
    workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(paths) or 1))
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its own JVM and warm session
    results = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_grade_in_worker, str(p), str(table), panel) for p in paths]
        for path, future in zip(paths, futures, strict=True):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 (a worker that died: say so in the row, go on)
                result = StudentGrades(submission.student_of(path), path.name, notes=[f"grading failed: {exc!r}"])
            say(f"graded {path.name}: {result.score:g}")
            results.append(result)
    return results

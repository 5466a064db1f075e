"""The exercises from a terminal.

    python -m workbook.course list [--json]            every exercise: name, notebook, what the student writes
    python -m workbook.course check NAME FILE          run exercise NAME's check on the answer in FILE
    python -m workbook.course check NAME --solution    ... on the instructor's solution
    python -m workbook.course check NAME FILE --grading on the held-out grading data (instructors: the
                                                       student release has none)

    python -m workbook.course submit [--student ID]    pack submission-ID.zip: notebooks, sql/, manifest.json
    python -m workbook.course grade SUBMISSIONS/ --out grades/
                                                       grade a folder of submissions on the grading data
                                                       (instructors; docs/instructors.md, "Running a class")

`check` exits 0 when the answer passes, 1 when it does not (the feedback is printed), 2 on bad usage.
A SQL answer may keep its `INSERT INTO table` line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..config import load_config, stops_on_bad_settings
from ..paths import PROJECT_ROOT
from ..pipeline.sql_files import SqlFileError, read_sql_file
from . import datasets, exercises, submission


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def listing() -> list[dict]:
    return [
        {"name": e.name, "notebook": e.notebook, "student": e.student, "solution": _rel(e.solution), "writes": e.writes}
        for e in exercises.EXERCISES.values()
    ]


def submit_command(args) -> int:
    student = args.student or getpass.getuser()
    try:
        path = submission.submit(student, out=args.out)
    except submission.NothingToSubmit as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {_rel(path)}: {submission.packed(path)} (student {submission.safe_id(student)}); hand it in")
    return 0


def grade_command(args) -> int:
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    try:  # deferred on purpose: instructor-only (the grading data is not in the student release), and heavy
        from . import grade_report, grader
    except ImportError:
        print(
            "error: grading needs the held-out grading data, which the student release does not have", file=sys.stderr
        )
        return 2
    table = args.table or grader.TABLE_PATH
    try:
        scheme = grader.load_table(table)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: the grading table {table}: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with grader.panel_db(scheme, load_config().postgres_url) as panel:
        results = grader.grade_folder(args.submissions, table, workers=args.workers, panel=panel)
    names = list(exercises.EXERCISES)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    grade_report.write_reports(results, names, grader.max_score(scheme, panel), args.out, generated)
    took = time.perf_counter() - started
    print(f"graded {len(results)} submissions in {took:.0f} s: {_rel(args.out.resolve())}/class.html, grades.csv")
    return 0


@stops_on_bad_settings
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbook.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="every exercise, in the workbook's order")
    p_list.add_argument("--json", action="store_true", help="a JSON list of objects")
    p_check = sub.add_parser("check", help="run one exercise's check")
    p_check.add_argument("name")
    p_check.add_argument("file", nargs="?", type=Path)
    p_check.add_argument("--solution", action="store_true", help="check the instructor's solution")
    p_check.add_argument(
        "--grading", action="store_true", help="on the held-out grading data (instructor-only), not the practice data"
    )
    p_submit = sub.add_parser("submit", help="pack your work as submission-ID.zip to hand in")
    p_submit.add_argument("--student", help="your student id (default: your user name)")
    p_submit.add_argument("--out", type=Path, help="where to write the zip (default: the workbook's folder)")
    p_grade = sub.add_parser("grade", help="grade a folder of submissions on the held-out grading data (instructors)")
    p_grade.add_argument("submissions", type=Path, help="a folder of submission zips or unpacked folders")
    p_grade.add_argument("--out", type=Path, default=Path("grades"), help="where the reports go (default: grades/)")
    p_grade.add_argument("--table", type=Path, help="the grading table (default: workbook/course/grading/points.toml)")
    p_grade.add_argument("--workers", type=int, help="grading processes (default: one per core, at most 2)")
    args = parser.parse_args(argv)

    if args.command == "grade":
        return grade_command(args)

    if args.command == "submit":
        return submit_command(args)
    if args.command == "list":
        rows = listing()
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            width = max(len(r["name"]) for r in rows)
            for r in rows:
                print(f"{r['name']:<{width}}  {r['notebook']:<34}  {r['student']:<34}  {r['writes']}")
            print(f"{len(rows)} exercises")
        return 0

    try:
        exercises.get(args.name)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.solution == (args.file is not None):
        print("error: give either FILE or --solution", file=sys.stderr)
        return 2
    try:
        text = exercises.solution(args.name) if args.solution else read_sql_file(args.file)
    except (OSError, SqlFileError, exercises.SolutionsMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = datasets.PRACTICE
    if args.grading:
        try:
            from .grading import GRADING  # deferred on purpose: instructor-only, not in the student release
        except ImportError:
            print(
                "error: --grading needs the held-out grading data, which the student release does not have",
                file=sys.stderr,
            )
            return 2
        data = GRADING
    from . import checks  # deferred on purpose: the checks import pandas and the Flink pipeline, `list` needs none

    load_config()  # bad settings stop here with their message and status 2 (inside a check they are its verdict)
    with datasets.using(data):  # SQL answers may keep their INSERT INTO line: the session strips it
        result = checks.run_check(args.name, text)
    print(result.text())
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main())

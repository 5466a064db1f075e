"""Grading a class: 30 generated submissions (correct, skeleton, mixed, broken) graded by the grader as
`python -m workbook.course grade` does (workbook/course/grader.py: one worker process per core, at most 2, each
with its own warm Flink session), on the held-out grading data.

    python bench/bench_grade.py [--students 30] [--workers N] [--keep DIR]

Prints the wall time per submission (the whole run, JVM starts included) and the time each submission took in
its worker: the median of all, and of the warm ones (each worker's first submission left out). Goal (issue 21):
at most 10 s per submission warm on 2 cores."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from workbook.config import load_config
from workbook.course import exercises, grade_report, grader, submission
from workbook.paths import PROJECT_ROOT

KINDS = ("correct", "skeleton", "mixed", "broken")


def answers_of(kind: str, i: int) -> dict | None:
    """The answers of the i-th student of a kind (None: a corrupt zip)."""
    solutions = {name: exercises.solution(name) for name in exercises.EXERCISES}
    if kind == "correct":
        return solutions
    if kind == "skeleton":
        return {}
    if kind == "mixed":  # every other exercise right, the rest wrong in a named way
        names = list(solutions)
        out = {n: solutions[n] for n in names[i % 2 :: 2]}
        out.update({n: "SELECT 1 AS wrong" for n in names[1 - i % 2 :: 2] if exercises.get(n).answer == "sql"})
        return out
    broken = [
        None,
        {"stream_counts": "while True:\n    pass\n", "volumes": solutions["volumes"]},
        {"stream_counts": "import os\nos.system('true')\n", "candlesticks": "SELEC oops"},
        {
            "watermark_delay": "def watermark_delay(stream):\n    return 1 / 0\n",
            "tumble_counts": "DROP VIEW valid_trades",
        },
    ]
    return broken[i % len(broken)]


def make_class(folder: Path, students: int) -> None:
    files = submission.project_files(PROJECT_ROOT)
    for i in range(students):
        kind = KINDS[i % len(KINDS)]
        student = f"{kind}-{i:02d}"
        answers = answers_of(kind, i // len(KINDS))
        path = folder / f"submission-{student}.zip"
        if answers is None:
            path.write_bytes(b"PK\x03\x04 broken")
            continue
        manifest = submission.manifest(student, {})
        submission.write_zip(submission.with_answers(files, answers), path, manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--keep", type=Path, help="keep the submissions and the reports in DIR")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-grade-"))
    shutil.rmtree(base / "submissions", ignore_errors=True)
    (base / "submissions").mkdir(parents=True)
    make_class(base / "submissions", args.students)
    scheme = grader.load_table()
    started = time.perf_counter()
    with grader.panel_db(
        scheme, load_config().postgres_url
    ) as panel:  # panel_sql on the configured PostgreSQL, as the grade command does
        results = grader.grade_folder(base / "submissions", workers=args.workers, say=lambda *_: None, panel=panel)
    wall = time.perf_counter() - started
    max_score = grader.max_score(scheme, panel)
    grade_report.write_reports(results, list(exercises.EXERCISES), max_score, base / "grades", "bench")
    workers = args.workers or min(2, os.cpu_count() or 1)
    per = [r.seconds for r in results]
    firsts = {r.worker: id(r) for r in reversed(results)}  # each worker's first submission: a cold JVM
    warm = [r.seconds for r in results if id(r) not in firsts.values()] or per
    by_kind = {k: statistics.median([r.seconds for r in results if r.student.startswith(k)]) for k in KINDS}
    print(
        json.dumps(
            {
                "submissions": len(results),
                "workers": workers,
                "cores": os.cpu_count(),
                "wall_s": round(wall, 1),
                "wall_s_per_submission": round(wall / len(results), 2),
                "median_s_in_worker": round(statistics.median(per), 2),
                "median_s_in_worker_warm": round(statistics.median(warm), 2),
                "max_s_in_worker": round(max(per), 2),
                "median_s_by_kind": {k: round(v, 2) for k, v in by_kind.items()},
                "scores": sorted({r.student.split("-")[0]: r.score for r in results}.items()),
            },
            indent=1,
        )
    )
    if not args.keep:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()

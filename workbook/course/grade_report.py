"""The grader's reports (instructor-only), from the results of workbook/course/grader.py:

    OUT/grades.csv                  one row per student: nbgrader's export columns (student_id, timestamp,
                                    raw_score, score, max_score), the points of each exercise, the notes
    OUT/<student>/results.json      Gradescope's autograder results (score, tests[]: name, score, max_score,
                                    status, output, visibility); tests/gradescope_results.schema.json
    OUT/<student>/feedback.html     the student's feedback: per exercise the verdict and the named problem in
                                    the practice feedback's words (never an expected row, never a solution)
    OUT/class.html                  pass rate and most common named mistakes per exercise, hint levels used,
                                    students x exercises

Only class.html says when it was made: grading the same folder twice writes the same bytes otherwise.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections import Counter
from pathlib import Path

STATUS_COLORS = {
    "passed": "#dafbe1",
    "failed": "#ffebe9",
    "not attempted": "#eaeef2",
    "missing": "#fff8c5",
    "not graded": "#ffffff",
}
STYLE = (
    "<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}"
    "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #d0d7de;padding:4px 8px;"
    "text-align:left;vertical-align:top}th{background:#f6f8fa}pre{white-space:pre-wrap;margin:0}"
    ".small{color:#57606a;font-size:90%}</style>"
)


def fmt(points: float) -> str:
    return f"{points:g}"


def unique_ids(results: list) -> list[str]:
    """A folder name per result: the student id, with -2, -3 ... when two submissions name the same student."""
    seen: Counter = Counter()
    out = []
    for r in results:
        seen[r.student] += 1
        out.append(r.student if seen[r.student] == 1 else f"{r.student}-{seen[r.student]}")
    return out


def row_notes(r) -> str:
    notes = list(r.notes) + [f"{g.exercise}: {n}" for g in r.graded for n in g.notes]
    unread = any(n.startswith("could not read") for n in r.notes)  # then every exercise is missing: said once
    notes += [f"{g.exercise}: {g.problems[0]}" for g in r.graded if g.status == "missing" and g.problems and not unread]
    return "; ".join(notes)


def grades_csv(results: list, names: list[str], max_score: float) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", "timestamp", "raw_score", "score", "max_score", *names, "notes"])
    for sid, r in zip(unique_ids(results), results, strict=True):
        points = {g.exercise: g for g in r.graded}
        cells = [fmt(points[n].points) if n in points and points[n].status != "not graded" else "" for n in names]
        score = fmt(r.score)
        writer.writerow([sid, r.timestamp, score, score, fmt(max_score), *cells, row_notes(r)])
    return buf.getvalue()


def test_output(g) -> str:
    return "\n".join([g.summary, *[f"- {p}" for p in g.problems], *[f"note: {n}" for n in g.notes]])


def results_json(r) -> dict:
    """Gradescope's results.json of one student."""
    tests = [
        {
            "name": g.exercise,
            "score": g.points,
            "max_score": g.max_points,
            "status": "passed" if g.status == "passed" else "failed",
            "output": test_output(g),
            "visibility": "visible",
            "tags": [g.status],
        }
        for g in r.graded
    ]
    out = {"score": r.score, "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    if r.notes:
        out["output"] = "\n".join(r.notes)
    return out


def feedback_html(r, max_score: float) -> str:
    esc = html.escape
    rows = []
    for g in r.graded:
        problems = "".join(f"<li><pre>{esc(p)}</pre></li>" for p in g.problems)
        notes = "".join(f"<p class='small'>Note: {esc(n)}</p>" for n in g.notes)
        rows.append(
            f"<tr style='background:{STATUS_COLORS.get(g.status, '#fff')}'><td><b>{esc(g.exercise)}</b></td>"
            f"<td>{fmt(g.points)} / {fmt(g.max_points)}</td><td>{esc(g.status)}</td>"
            f"<td>{esc(g.summary)}<ul>{problems}</ul>{notes}</td></tr>"
        )
    notes = "".join(f"<p><b>Note:</b> {esc(n)}</p>" for n in r.notes)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {esc(r.student)}</title>{STYLE}</head>"
        f"<body><h1>Feedback for {esc(r.student)}</h1><p>Score: <b>{fmt(r.score)} / {fmt(max_score)}</b>"
        f" (submitted {esc(r.timestamp or 'unknown')}; {esc(r.source)}). Your answers were checked on the "
        "grading data, which you have not seen: an answer that fits the practice rows only does not pass.</p>"
        f"{notes}<table><tr><th>exercise</th><th>points</th><th>verdict</th><th>what the check found</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )


def exercise_stats(results: list, names: list[str]) -> str:
    esc = html.escape
    rows = []
    for name in names:
        graded = [g for r in results for g in r.graded if g.exercise == name]
        passed = sum(g.status == "passed" for g in graded)
        attempted = sum(g.status in ("passed", "failed") for g in graded)
        mistakes = Counter(g.mistake for g in graded if g.mistake)
        top = sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        listed = "".join(f"<li>{esc(m)} <b>&times;{n}</b></li>" for m, n in top) or "<li>none</li>"
        levels: Counter = Counter()
        for r in results:
            used = r.hint_levels.get(name, [])
            levels[max(used) if used else 0] += 1
        hints = ", ".join(f"level {lv}: {n}" for lv, n in sorted(levels.items()) if lv) or "none"
        rate = f"{passed}/{len(graded)} ({100 * passed / len(graded):.0f} %)" if graded else "-"
        rows.append(
            f"<tr><td>{esc(name)}</td><td>{rate}</td><td>{attempted}</td><td><ul>{listed}</ul></td>"
            f"<td>{esc(hints)}</td></tr>"
        )
    return (
        "<h2>Per exercise</h2><table><tr><th>exercise</th><th>passed</th><th>attempted</th>"
        "<th>most common named mistakes</th><th>students by highest hint level used</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def class_html(results: list, names: list[str], max_score: float, generated_at: str) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = []
    for sid, r in zip(unique_ids(results), results, strict=True):
        graded = {g.exercise: g for g in r.graded}
        cells = "".join(
            f"<td style='background:{STATUS_COLORS.get(graded[n].status, '#fff')}' title='{esc(graded[n].status)}'>"
            f"{fmt(graded[n].points) if graded[n].status != 'not graded' else ''}</td>"
            if n in graded
            else "<td></td>"
            for n in names
        )
        link = f"<a href='{esc(sid)}/feedback.html'>{esc(sid)}</a>"
        body.append(f"<tr><td>{link}</td><td>{fmt(r.score)}</td>{cells}<td class='small'>{esc(row_notes(r))}</td></tr>")
    legend = " ".join(f"<span style='background:{c};padding:2px 6px'>{esc(s)}</span>" for s, c in STATUS_COLORS.items())
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class grades</title>{STYLE}</head><body>"
        f"<h1>Class grades</h1><p>{len(results)} submissions, {fmt(max_score)} points.</p>"
        f"<p class='small'>generated at {esc(generated_at)}</p>"
        + exercise_stats(results, names)
        + f"<h2>Students &times; exercises</h2><p>{legend}</p><table><tr><th>student</th><th>score</th>{head}"
        "<th>notes</th></tr>" + "".join(body) + "</table></body></html>\n"
    )


def write_reports(results: list, names: list[str], max_score: float, out: Path, generated_at: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "grades.csv").write_text(grades_csv(results, names, max_score))
    for sid, r in zip(unique_ids(results), results, strict=True):
        folder = out / sid
        folder.mkdir(exist_ok=True)
        (folder / "results.json").write_text(json.dumps(results_json(r), indent=1) + "\n")
        (folder / "feedback.html").write_text(feedback_html(r, max_score))
    (out / "class.html").write_text(class_html(results, names, max_score, generated_at))

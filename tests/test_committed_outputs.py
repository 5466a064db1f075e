"""The committed notebooks carry the outputs of the STUDENT run (scripts/student_run.py: exercise files and cells
as committed, WORKBOOK_SOLUTIONS unset), never of the instructor's solution run. A clone shows no answer:

- no "instructor solution" line and no exercise's pass box (✅);
- no line of a solution (SQL or Python) in any output or text cell;
- no result of a solution: no table whose columns are an exercise's answer columns with rows in it, and no
  output (table, printed text or Plotly figure) holding two or more of the aggregates the exercises compute
  (VWAPs, summed volumes, price ranges ... as stored in workbook/course/expected/).
"""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from workbook.course import exercises

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ROOT / "workbook" / "course" / "expected"
SOLUTION_RUN_MARKS = ("instructor solution", "WORKBOOK_SOLUTIONS=1", "\u2705")
# columns that hold a trade's own value (shown anyway when a notebook lists trades), not a computed one
RAW_COLUMNS = {"price_open", "price_min", "price_max", "price_close", "open_arrival", "close_arrival", "price"}
NUMBER = re.compile(r"-?\d[\d,]*\.\d+")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _walk_numbers(value, out: list) -> None:
    """Every number of a JSON value (a Plotly figure), binary-encoded arrays ({"dtype", "bdata"}) included."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            out.extend(np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).ravel().tolist())
            return
        for v in value.values():
            _walk_numbers(v, out)
    elif isinstance(value, list):
        for v in value:
            _walk_numbers(v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append(value)
    elif isinstance(value, str):
        out.extend(float(n.replace(",", "")) for n in NUMBER.findall(value))


def _output_text(output: dict) -> str:
    text = output.get("text", "")
    data = output.get("data", {})
    parts = [text if isinstance(text, str) else "".join(text)]
    for kind in ("text/plain", "text/html", "text/markdown"):
        v = data.get(kind, "")
        parts.append(v if isinstance(v, str) else "".join(v))
    return "\n".join(parts)


def _output_numbers(output: dict) -> set:
    numbers: list = []
    _walk_numbers(_output_text(output), numbers)
    for kind, v in output.get("data", {}).items():
        if kind.endswith("json"):
            _walk_numbers(v, numbers)
    return {round(float(n), 4) for n in numbers if np.isfinite(n)}


def _outputs():
    for path in NOTEBOOKS:
        for i, cell in enumerate(_cells(path)):
            for output in cell.get("outputs", []):
                yield path.name, i, output


def _expected_tables() -> dict:
    """exercise file name -> (columns, rows as dicts) of every stored expected output with named columns."""
    tables = {}
    for path in sorted(EXPECTED.glob("*.json")):
        doc = json.loads(path.read_text())
        rows = doc.get("rows") if isinstance(doc, dict) else None
        if rows and isinstance(rows[0], dict):
            tables[path.stem] = (doc.get("columns") or list(rows[0]), rows)
        elif rows:  # positional rows: only their last value is computed (a count, a sum, a notional)
            tables[path.stem] = (None, [{"value": r[-1]} for r in rows])
    for path in sorted(EXPECTED.glob("*.csv")):
        with path.open() as f:
            rows = list(csv.DictReader(f))
        tables[path.stem] = (list(rows[0]), rows)
    return tables


def _trade_values() -> set:
    """Every price and volume of the datasets' trades: a notebook listing trades shows them (and a one-trade
    candle's VWAP or volume is one of them)."""
    from workbook.course import datasets

    values = set()
    for trades in (datasets.sample_trades(), datasets.check_trades()):
        for t in trades:
            values |= {round(float(t["price"]), 4), round(float(t["volume"]), 4)}
    return values


TRADE_VALUES = _trade_values()


def _computed_values(rows: list[dict]) -> set:
    """The aggregates of expected rows: non-integer numbers of computed columns that are no trade's own."""
    values = set()
    for row in rows:
        for col, v in row.items():
            try:
                x = float(v)
            except (TypeError, ValueError):
                continue
            if col not in RAW_COLUMNS and abs(x) >= 0.1 and round(x, 4) != round(x):
                values.add(round(x, 4))
    return values - TRADE_VALUES


def test_the_student_run_scans_see_outputs():
    """The scans below look at real outputs: the committed notebooks have them."""
    assert sum(1 for _ in _outputs()) > 50


@pytest.mark.parametrize("mark", SOLUTION_RUN_MARKS)
def test_no_solution_run_line_or_pass_box(mark):
    found = [f"{nb} cell {i}" for nb, i, out in _outputs() if mark in _output_text(out)]
    assert not found, f"{mark!r} in committed outputs (a solution run's): {found}; run scripts/student_run.py"


def _normalized_lines(text: str) -> set:
    return {" ".join(line.split()) for line in text.splitlines()}


def _given_lines() -> set:
    """Lines students are given anyway: the processor's files of sql/ and the dashboard's panel SQL."""
    given = set()
    for path in (ROOT / "sql").rglob("*.sql"):
        given |= _normalized_lines(path.read_text())
    strings: list = []

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            strings.append(value)

    for path in (ROOT / "grafana").rglob("*.json"):
        walk(json.loads(path.read_text()))
    for text in strings:
        given |= _normalized_lines(text)
    return given


GIVEN = _given_lines()


def _solution_lines(name: str) -> list[str]:
    """The solution's own long lines: not comments, not lines the students are given anyway."""
    lines = []
    for line in exercises.solution(name).splitlines():
        text = " ".join(line.split())
        if len(text) >= 30 and not text.startswith(("--", "#", '"""')) and text not in GIVEN:
            lines.append(text)
    return lines


@pytest.mark.parametrize("name", sorted(exercises.EXERCISES))
def test_no_solution_text_in_outputs_or_text_cells(name):
    """Half the solution's long lines (at least 2) in one cell is the solution; a single line may be taught
    (a TUMBLE clause, the processor's WATERMARK, a panel's macro)."""
    lines = _solution_lines(name)
    assert lines, f"{name}: no solution line long enough to look for"
    enough = min(len(lines), max(2, (len(lines) + 1) // 2))
    found = []
    for path in NOTEBOOKS:
        for i, cell in enumerate(_cells(path)):
            texts = ["".join(cell["source"])] if cell["cell_type"] == "markdown" else []
            texts += [_output_text(o) for o in cell.get("outputs", [])]
            flat = " ".join(" ".join(texts).split())
            hits = [line for line in lines if line in flat]
            if len(hits) >= enough:
                found.append(f"{path.name} cell {i}: {len(hits)} of {len(lines)} lines, e.g. {hits[0]}")
    assert not found, f"the solution of {name} shows in committed notebooks: {found}"


def _html_headers(output: dict) -> list[list[str]]:
    html = output.get("data", {}).get("text/html", "")
    html = html if isinstance(html, str) else "".join(html)
    heads = []
    for table in re.findall(r"<table.*?</table>", html, flags=re.S):
        head = re.search(r"<thead>(.*?)</thead>", table, flags=re.S)
        body = re.search(r"<tbody>(.*?)</tbody>", table, flags=re.S)
        if head and body and re.search(r"<tr", body.group(1)):
            last = re.findall(r"<tr.*?</tr>", head.group(1), flags=re.S)[-1]
            heads.append([re.sub(r"<.*?>", "", c).strip() for c in re.findall(r"<th.*?</th>", last, flags=re.S)])
    return heads


def test_no_table_of_an_answers_columns():
    found = []
    for name, (columns, _) in _expected_tables().items():
        if not columns:
            continue
        for nb, i, out in _outputs():
            for head in _html_headers(out):
                if [c for c in head if c] == list(columns):
                    found.append(f"{nb} cell {i}: a table of {name}'s columns {columns}")
    assert not found, found


def test_no_output_holds_the_exercises_computed_results():
    tables = {name: _computed_values(rows) for name, (_, rows) in _expected_tables().items()}
    tables = {name: values for name, values in tables.items() if values}  # counts only: the table scan's
    assert {"candlesticks", "candlesticks_sample", "volumes", "hop_vwap", "panel_sql"} <= set(tables)
    found = []
    for nb, i, out in _outputs():
        numbers = _output_numbers(out)
        for name, values in tables.items():
            hits = numbers & values
            if len(hits) >= 2:
                found.append(f"{nb} cell {i}: {len(hits)} values of the expected {name}, e.g. {sorted(hits)[:3]}")
    assert not found, found


def test_the_scan_finds_a_solution_runs_output():
    """The scan is not blind: a table of expected rows, as pandas shows it, is found."""
    import pandas as pd

    columns, rows = _expected_tables()["volumes"]
    html = pd.DataFrame(rows)[columns].head(3).to_html()
    output = {"output_type": "execute_result", "data": {"text/html": html, "text/plain": ""}}
    assert len(_output_numbers(output) & _computed_values(rows)) >= 2
    assert [c for c in _html_headers(output)[0] if c] == columns

"""The student release: no solutions/, notebooks without outputs, and no
solution text anywhere in the tree."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.course.release import build

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").rglob("*.sql"))


def norm(line: str) -> str:
    return re.sub(r"\s+", " ", line.split("--")[0]).strip().lower()


def secret_lines(solution: Path) -> set[str]:
    """Solution lines that the shipped SQL does not contain (the answer itself).
    Lines the processor's own sql/ files hold are not secret: they ship to students anyway."""
    shipped = {norm(l) for p in (ROOT / "sql").rglob("*.sql") for l in p.read_text().splitlines()}
    return {n for l in solution.read_text().splitlines() if len(n := norm(l)) >= 12 and n not in shipped}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    files = build(out)
    return out, files


def test_solutions_of_sql_skeletons_have_secret_lines():
    """A solution of a sql/ skeleton (41_volumes) must differ from everything shipped, or the grep
    below proves nothing. (solutions/notebooks/04_candlesticks/candlesticks.sql, notebook 4's, is the SELECT of the processor's
    own sql/40_candlesticks.sql, which ships on purpose: the exercise is about *why* it is written so.)"""
    skeleton_solutions = [s for s in SOLUTIONS if (ROOT / s.relative_to(ROOT / "solutions")).exists()]
    assert skeleton_solutions, "solutions/ holds the solution of the sql/ exercise"
    for s in skeleton_solutions:
        assert secret_lines(s), f"{s.name} has nothing that the student files do not already show"


def test_release_has_no_solutions_and_cleared_notebooks(release):
    out, files = release
    assert not (out / "solutions").exists() and not any(f.startswith("solutions/") for f in files)
    notebooks = list((out / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        for cell in json.loads(nb.read_text())["cells"]:
            assert not cell.get("outputs"), f"{nb.name} keeps outputs"
    assert (out / "sql" / "41_volumes.sql").exists() and (out / "README.md").exists()


def test_no_solution_text_in_release(release):
    out, _ = release
    secrets = {line: s.name for s in SOLUTIONS for line in secret_lines(s)}
    for path in out.rglob("*"):
        if path.is_file():
            text = {norm(l) for l in path.read_text(errors="replace").splitlines()}
            # notebooks: a JSON string per source line; normalize their quoted lines too
            if path.suffix == ".ipynb":
                for cell in json.loads(path.read_text())["cells"]:
                    text |= {norm(l) for l in "".join(cell["source"]).splitlines()}
            leaked = sorted(l for l in secrets if l in text)
            assert not leaked, f"{path.relative_to(out)} holds solution text of {secrets[leaked[0]]}: {leaked[0]!r}"


def test_release_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "workbook.course.release", "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "no solutions/" in out.stdout and (tmp_path / "r" / "notebooks").is_dir()

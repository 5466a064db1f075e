"""Students submit: progress recorded as they work (workbook/course/progress.py), `python -m workbook.course
submit` packing notebooks, sql/ and a manifest, and the grader finding the answers again by cell metadata."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbook.course import exercises, progress, submission
from workbook.course.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def test_progress_counts_attempts_verdicts_and_hints(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV_FILE, str(tmp_path / "p.json"))
    progress.record_check("volumes", False)
    progress.record_check("volumes", True)
    progress.record_hint("volumes", 2)
    progress.record_hint("volumes", 1)
    assert progress.load() == {"volumes": {"verdict": "passed", "attempts": 2, "hint_levels": [1, 2]}}


def test_a_failure_to_record_progress_never_breaks_the_work(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(progress.ENV_FILE, str(blocker / "p.json"))  # its folder is a file
    progress.record_check("volumes", True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("note: could not record your progress")


def test_a_check_and_a_hint_record_progress(tmp_path, monkeypatch, capsys):
    from workbook.course import checks

    monkeypatch.setenv(progress.ENV_FILE, str(tmp_path / "p.json"))
    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    assert not checks.checked("stream_counts", None)
    exercises.hint("stream_counts")
    exercises.hint("stream_counts", 3)
    capsys.readouterr()
    assert progress.load()["stream_counts"] == {"verdict": "failed", "attempts": 1, "hint_levels": [1, 3]}


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "notebooks").mkdir(parents=True)
    for nb in ("02_trade_stream.ipynb", "03_flink_sql_basics.ipynb"):
        shutil.copy(ROOT / "notebooks" / nb, root / "notebooks" / nb)
    shutil.copytree(ROOT / "sql", root / "sql")
    for junk in (".venv/bin/python", ".state/pgdata/PG_VERSION", "notes.txt", "notebooks/scratch.py"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("x")
    return root


def test_submit_packs_notebooks_sql_and_the_manifest_only(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV_FILE, str(tmp_path / "p.json"))
    progress.record_check("volumes", True)
    progress.record_hint("candlesticks", 2)
    root = _project(tmp_path)
    path = submission.submit("ada l", root=root, out=tmp_path / "out")
    assert path.name == "submission-ada-l.zip"
    names = zipfile.ZipFile(path).namelist()
    assert names[0] == "manifest.json"
    assert {n.split("/")[0] for n in names} == {"manifest.json", "notebooks", "sql"}
    assert "notebooks/scratch.py" not in names and "sql/41_volumes.sql" in names
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["student_id"] == "ada-l" and manifest["course_version"] == submission.course_version()
    assert manifest["created_at"].endswith("Z")
    assert manifest["exercises"]["volumes"] == {"public_check": "passed", "attempts": 1, "hint_levels": []}
    assert manifest["exercises"]["candlesticks"] == {"public_check": "not run", "attempts": 0, "hint_levels": [2]}
    assert list(manifest["exercises"]) == list(exercises.EXERCISES)


def test_submit_refuses_when_there_is_nothing_to_submit(tmp_path, capsys, monkeypatch):
    with pytest.raises(submission.NothingToSubmit, match="nothing to submit"):
        submission.submit("ada", root=tmp_path)
    monkeypatch.setattr(submission, "PROJECT_ROOT", tmp_path)  # the command packs the project it runs in
    assert main(["submit", "--student", "ada", "--out", str(tmp_path)]) == 2
    assert "nothing to submit" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.zip"))


def test_the_notebooks_last_cell_hands_in_and_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV_FILE, str(tmp_path / "p.json"))
    root = _project(tmp_path)
    submission.hand_in("ada l", root=root)
    said = capsys.readouterr().out
    assert said.startswith("wrote submission-ada-l.zip in the workbook's folder:") and "(student ada-l)" in said
    assert zipfile.ZipFile(root / "submission-ada-l.zip").testzip() is None
    submission.hand_in("", root=tmp_path / "empty")  # nothing there: said, not raised
    assert capsys.readouterr().out.startswith("nothing handed in: nothing to submit")


def test_the_submit_command_writes_the_zip(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "workbook.course", "submit", "--student", "s1", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "submission-s1.zip" in out.stdout
    assert zipfile.ZipFile(tmp_path / "submission-s1.zip").testzip() is None


def test_every_exercise_cell_has_its_id():
    out = subprocess.run([sys.executable, "scripts/tag_exercise_cells.py", "--check"], cwd=ROOT, capture_output=True)
    assert out.returncode == 0, out.stdout.decode()
    found = submission.answers(submission.project_files())
    assert all(a.text is not None and a.problem is None and a.note is None for a in found.values()), found
    assert "%%flinksql" not in found["candle_stats"].text
    assert "python_exercise" not in found["stream_counts"].text


def _files_with(notebook: str, change) -> dict:
    files = submission.project_files()
    nb = json.loads(files[notebook])
    change(nb["cells"])
    files[notebook] = json.dumps(nb).encode()
    return files


def test_a_moved_cell_is_found_and_a_duplicated_one_grades_the_last():
    nb = "notebooks/03_flink_sql_basics.ipynb"

    def move(cells):
        cell = next(c for c in cells if submission.cell_exercise(c) == "tumble_counts")
        cells.remove(cell)
        cells.insert(0, cell)
        cell["source"] = "%%flinksql --exercise tumble_counts\nSELECT 1 AS moved"
        dup = dict(cell, source="%%flinksql --exercise filter_project\nSELECT 2 AS last")
        dup["metadata"] = {"workbook": {"exercise": "filter_project"}}
        cells.append(dup)

    found = submission.answers(_files_with(nb, move))
    assert found["tumble_counts"].text == "SELECT 1 AS moved\n" and found["tumble_counts"].note is None
    assert found["filter_project"].text == "SELECT 2 AS last\n"
    assert "the last one is graded" in found["filter_project"].note


def test_missing_cells_files_and_unreadable_notebooks_are_named():
    files = _files_with("notebooks/08_more_windows.ipynb", lambda cells: cells.clear())
    del files["sql/41_volumes.sql"]
    files["notebooks/05_candlesticks.ipynb"] = b"{not json"
    del files["notebooks/02_trade_stream.ipynb"]
    found = submission.answers(files)
    assert "no cell of notebooks/08_more_windows.ipynb has the exercise id 'hop_vwap'" in found["hop_vwap"].problem
    assert found["volumes"].problem == "the file sql/41_volumes.sql is missing from the submission"
    assert "not a readable notebook" in found["candle_stats"].problem
    assert "missing from the submission" in found["stream_counts"].problem
    assert found["candlesticks"].text is not None


def test_a_corrupt_zip_and_a_folder_are_read_without_raising(tmp_path):
    bad = tmp_path / "submission-bob.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    sub = submission.read(bad)
    assert sub.student == "bob" and "could not read submission-bob.zip" in sub.error
    folder = _project(tmp_path) / ".."
    sub = submission.read(folder.resolve() / "work")
    assert sub.error is None and "sql/40_candlesticks.sql" in sub.files and ".venv/bin/python" not in sub.files


def test_a_file_too_big_unpacked_makes_the_submission_unreadable(tmp_path, monkeypatch):
    path = tmp_path / "submission-zed.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("notebooks/02_trade_stream.ipynb", "0" * 100)
    monkeypatch.setattr(submission, "MAX_FILE_BYTES", 50)
    sub = submission.read(path)
    assert "notebooks/02_trade_stream.ipynb is larger than" in sub.error and sub.files == {}

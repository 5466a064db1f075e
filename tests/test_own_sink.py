"""A student's exercise file reaches only its own table: the processor refuses anything else in it and skips
that file alone (the other statements run), files are read as UTF-8 with the file named, and the check refuses
what the processor would refuse, in the same words (sql_files.own_sink_problem)."""

from __future__ import annotations

import shutil

import pytest

from workbook import pipeline
from workbook.course import checks, exercises
from workbook.paths import SQL_DIR
from workbook.pipeline import sql_files, statements

CANDLES = exercises.solution("candlesticks")
VOLUMES = exercises.solution("volumes")


@pytest.fixture
def sql_dir(tmp_path, monkeypatch):
    """A copy of sql/ the processor reads instead, its exercise files written by the test."""
    folder = tmp_path / "sql"
    shutil.copytree(SQL_DIR, folder)
    monkeypatch.setattr(sql_files, "SQL_DIR", folder)
    return folder


def _loaded(sql_dir, candles: bytes | str):
    (sql_dir / "40_candlesticks.sql").write_bytes(candles if isinstance(candles, bytes) else candles.encode())
    (sql_dir / "41_volumes.sql").write_text(VOLUMES)
    loaded = pipeline.load_statements()
    return {s.path.name: s for s in loaded}, statements.skeleton_warnings(loaded)


@pytest.mark.parametrize(
    ("candles", "says"),
    [
        (CANDLES.replace("INSERT INTO candlesticks", "INSERT INTO volumes", 1), "it writes volumes, but"),
        (CANDLES + ";\nINSERT INTO volumes " + VOLUMES.split("INSERT INTO volumes", 1)[1], "it holds 2 statements"),
        ("DROP TEMPORARY VIEW valid_trades", "it is not an INSERT INTO candlesticks statement"),
        ("CREATE TEMPORARY VIEW valid_trades AS SELECT 1", "it is not an INSERT INTO candlesticks statement"),
        (CANDLES.encode("utf-16"), "it is UTF-16 text, not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "it holds binary data (a NUL byte at byte 8)"),
        (b"INSERT INTO candlesticks SELECT '\xff'", "it is not UTF-8 text (invalid start byte: byte 0xff at 33)"),
        ("-- junk\n" + "x" * 2_000_000, "it is 1953 KiB"),
        ("", "it holds no statements: an exercise file holds one statement, INSERT INTO candlesticks SELECT"),
        (
            "root:x:0:0:root:/root:/bin/bash\n" * 3,
            "it is not an INSERT INTO candlesticks statement (it starts 'root:x:0:0:root:/root:/bin/bash root:x:0:0:root:/root:/bi...')",
        ),
    ],
)
def test_a_file_reaching_beyond_its_exercise_is_refused_and_only_it_is_skipped(sql_dir, candles, says):
    by_file, warnings = _loaded(sql_dir, candles)
    refused = by_file["40_candlesticks.sql"]
    assert refused.kind == "refused" and refused.name == "candlesticks" and says in refused.reason, refused.reason
    assert by_file["41_volumes.sql"].kind == "insert" and by_file["41_volumes.sql"].name == "volumes"
    assert by_file["42_late_trades.sql"].kind == "insert"  # the workbook's own statements still run
    (warning,) = warnings
    assert warning.startswith("sql/40_candlesticks.sql (exercise 'candlesticks') is refused: " + says)
    assert "the other statements run" in warning


def test_a_folder_in_place_of_an_exercise_file_is_refused_by_name(sql_dir):
    """A folder (or an unreadable file) where sql/40_candlesticks.sql should be: that file is refused like an
    unreadable one, not an IsADirectoryError traceback from the processor."""
    (sql_dir / "40_candlesticks.sql").unlink()
    (sql_dir / "40_candlesticks.sql").mkdir()
    loaded = pipeline.load_statements()
    by_file = {s.path.name: s for s in loaded}
    assert by_file["40_candlesticks.sql"].kind == "refused" and by_file["42_late_trades.sql"].kind == "insert"
    (warning,) = [w for w in statements.skeleton_warnings(loaded) if w.startswith("sql/40_")]
    assert warning.startswith("sql/40_candlesticks.sql (exercise 'candlesticks') is refused: it cannot be read (Is a")


def test_the_solutions_and_a_trailing_semicolon_pass_the_rule(sql_dir):
    by_file, warnings = _loaded(sql_dir, CANDLES.rstrip() + ";\n")
    assert by_file["40_candlesticks.sql"].kind == "insert" and warnings == []


def test_a_workbook_file_that_is_not_utf8_stops_the_job_naming_it(sql_dir):
    (sql_dir / "21_valid_trades.sql").write_bytes("CREATE TEMPORARY VIEW x AS SELECT 1".encode("utf-16"))
    with pytest.raises(pipeline.ProcessorError, match="valid_trades.sql is UTF-16 text, not UTF-8"):
        pipeline.load_statements()


def test_the_registry_and_the_processor_agree_on_the_exercise_files():
    files = {e.student.split("/")[-1]: name for name, e in exercises.EXERCISES.items() if not e.in_cell}
    assert files == statements.EXERCISE_FILES


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (CANDLES.replace("INSERT INTO candlesticks", "INSERT INTO volumes", 1), "it writes volumes"),
        (CANDLES + ";\nDROP TEMPORARY VIEW valid_trades", "it holds 2 statements"),
    ],
)
def test_the_check_refuses_what_the_processor_would_skip(answer, says):
    result = checks.run_check("candlesticks", answer)  # refused before anything runs: no JVM
    assert not result and result.summary.startswith("candlesticks: the file may only write candlesticks")
    assert says in " ".join(str(p) for p in result.problems)


def test_the_check_command_names_a_file_that_is_not_utf8(tmp_path, capsys):
    from workbook.course.__main__ import main

    path = tmp_path / "40_candlesticks.sql"
    path.write_bytes(CANDLES.encode("utf-16"))
    assert main(["check", "candlesticks", str(path)]) == 2
    assert "40_candlesticks.sql is UTF-16 text, not UTF-8" in capsys.readouterr().err


def test_the_check_command_names_a_folder_or_a_missing_file(tmp_path, capsys):
    from workbook.course.__main__ import main

    assert main(["check", "candlesticks", str(tmp_path)]) == 2
    assert f"error: {tmp_path.parent.name}/{tmp_path.name} cannot be read (Is a directory)" in capsys.readouterr().err
    assert main(["check", "candlesticks", "/absent.sql"]) == 2
    assert "error: /absent.sql: no such file" in capsys.readouterr().err

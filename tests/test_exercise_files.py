"""Solutions are used only on purpose: WORKBOOK_SOLUTIONS=1 or reveal()."""
import pytest

from workbook import exercises


def test_student_text_by_default(monkeypatch):
    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    assert exercises.exercise("candlesticks", "SELECT 1") == "SELECT 1"
    assert "TODO" in exercises.exercise_file("41_volumes.sql")


def test_solution_when_enabled(monkeypatch, capsys):
    monkeypatch.setenv("WORKBOOK_SOLUTIONS", "1")
    assert "MIN(order_key)" in exercises.exercise("candlesticks", "SELECT 1")
    assert "instructor solution solutions/candlesticks.sql" in capsys.readouterr().out
    assert "CASE WHEN direction = 'buy'" in exercises.exercise_file("41_volumes.sql")


def test_reveal_and_missing_solutions(monkeypatch, tmp_path):
    assert "Instructor solution" in exercises.reveal("41_volumes").data
    with pytest.raises(exercises.SolutionsMissing, match="no solution named 'nope'"):
        exercises.solution("nope")
    monkeypatch.setattr(exercises, "SOLUTIONS_DIR", tmp_path / "absent")
    with pytest.raises(exercises.SolutionsMissing, match="student release"):
        exercises.solution("41_volumes")

"""Solutions are used only on purpose: WORKBOOK_SOLUTIONS=1 or reveal()."""

import pytest

from workbook.course import exercises


def test_student_text_by_default(monkeypatch):
    monkeypatch.delenv("WORKBOOK_SOLUTIONS", raising=False)
    assert exercises.exercise("candle_stats", "SELECT 1") == "SELECT 1"
    assert "TODO" in exercises.exercise_file("volumes") and "TODO" in exercises.exercise_file("candlesticks")


def test_solution_when_enabled(monkeypatch, capsys):
    monkeypatch.setenv("WORKBOOK_SOLUTIONS", "1")
    assert "MIN(price)" in exercises.exercise("candle_stats", "SELECT 1")
    assert "instructor solution solutions/notebooks/05_candlesticks/candle_stats.sql" in capsys.readouterr().out
    assert "MIN(order_key)" in exercises.exercise_file("candlesticks")
    assert "CASE WHEN direction = 'buy'" in exercises.exercise_file("volumes")


def test_reveal_and_missing_solutions(monkeypatch, tmp_path):
    assert "Instructor solution" in exercises.reveal("volumes").data
    with pytest.raises(KeyError, match="no exercise named 'nope'"):
        exercises.solution("nope")
    monkeypatch.setattr(exercises, "has_solutions", lambda: False)
    monkeypatch.setattr(exercises, "solution_of", lambda *a: tmp_path / "absent" / "x.sql")
    with pytest.raises(exercises.SolutionsMissing, match="student release"):
        exercises.solution("volumes")


def test_one_exercise_model():
    """Every exercise: one name, one student place that exists, one solution at the mirrored place."""
    from workbook.paths import PROJECT_ROOT, SOLUTIONS_DIR

    for ex in exercises.EXERCISES.values():
        assert ex.student_path.exists(), ex
        assert (PROJECT_ROOT / ex.notebook).exists(), ex
        assert ex.solution.exists(), ex
        rel = ex.solution.relative_to(SOLUTIONS_DIR)
        mirrored = ex.student.removesuffix(".ipynb") if ex.in_cell else ex.student
        assert str(rel).startswith(mirrored), (rel, ex.student)
    assert exercises.of_student_file("sql/41_volumes.sql").name == "volumes"
    assert exercises.of_student_file("sql/40_candlesticks.sql").name == "candlesticks"


def test_a_finished_exercise_file_is_no_longer_a_skeleton():
    """What the file asks for (write the statement, delete the marker word on the first line) is enough:
    the processor then runs the file instead of skipping it (a comment of the spec once said 'TODO' too)."""
    from workbook.pipeline import sql_files

    for ex in exercises.EXERCISES.values():
        if ex.in_cell:
            continue
        skeleton = ex.student_path.read_text()
        first, rest = skeleton.split("\n", 1)
        assert sql_files.is_skeleton(skeleton) and "TODO" in first, ex.name
        done = first.replace("TODO", "") + "\n" + rest + "\n" + ex.solution.read_text()
        assert not sql_files.is_skeleton(done), f"{ex.name}: the spec's comments still hold the marker word"

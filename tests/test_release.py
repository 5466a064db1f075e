"""The student release: no solutions/, notebooks without outputs, and no
solution text anywhere in the tree."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbook.course import exercises
from workbook.course.release import build, student_compose, student_markdown, student_notebook

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted(p for p in (ROOT / "solutions").rglob("*") if p.is_file())
# What the notebooks teach before the exercises (the window of a TUMBLE, its GROUP BY, the aliases of the window's
# columns): not an answer, so not a secret, although every windowed solution has these lines.
GENERIC = {
    "select",
    "window_start as ts_start,",
    "window_end as ts_end,",
    "currency_pair,",
    "from table(tumble(table valid_trades, descriptor(ts), interval '1' minute))",
    "group by window_start, window_end, currency_pair",
    "insert into candlesticks",
    "insert into volumes",
    "from valid_trades",  # every notebook's queries read it
    "select currency_pair, direction, price, volume, ts",  # the trade's columns, as notebook 03 selects them
    # rising_closes's skeleton gives its input, the closes CTE; MATCH_RECOGNIZE's clauses as notebook 10's example
    "with closes as (",
    "select currency_pair, window_start, window_end, window_time,",
    "cast(split_index(max(order_key), '|', 3) as double) as price_close",
    "group by currency_pair, window_start, window_end, window_time",
    "match_recognize (",
    "partition by currency_pair",
    "order by window_time",
    "one row per match",
    # upsert_sink: its skeleton gives the table, its topic and servers; notebook 12's example before it (last_prices)
    # the connector and the formats. The answer is the key: its PRIMARY KEY line stays secret
    "create table pair_direction_counts (",
    "'topic' = 'pair-direction-counts',",
    "'properties.bootstrap.servers' = '127.0.0.1:29092',",
    "'connector' = 'upsert-kafka',",
    "'key.format' = 'json',",
    "'value.format' = 'json'",
}
REFERENCES = ROOT / "workbook" / "course" / "references"


def norm(line: str) -> str:
    return re.sub(r"\s+", " ", line.split("--")[0]).strip().lower()


def secret_lines(solution: Path) -> set[str]:
    """Solution lines that the shipped SQL does not contain (the answer itself), but for GENERIC.
    Lines the processor's own sql/ files hold are not secret: they ship to students anyway."""
    shipped = {norm(line) for p in (ROOT / "sql").rglob("*.sql") for line in p.read_text().splitlines()}
    return {
        n
        for line in solution.read_text().splitlines()
        if len(n := norm(line)) >= 12 and n not in shipped and n not in GENERIC
    }


def reference_logic() -> set[str]:
    """The lines of the instructor-only references that compute the expected results."""
    return {
        line.strip()
        for p in REFERENCES.glob("*.py")
        for line in p.read_text().splitlines()
        if re.search(r"groupby|sort_values|\.first\(\)|\.last\(\)|^def |\.where\(", line.strip())
    }


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    files = build(out)
    return out, files


def test_every_solution_has_secret_lines():
    """Every solution (the candlesticks one included: sql/40_candlesticks.sql is a specification now) differs
    from everything shipped, or the grep below proves nothing."""
    assert {s.name for s in SOLUTIONS} >= {"40_candlesticks.sql", "41_volumes.sql", "candle_stats.sql"}
    for s in SOLUTIONS:
        if s.suffix == ".sql":
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


def _release_texts(out: Path):
    for path in out.rglob("*"):
        if path.is_file():
            lines = path.read_text(errors="replace").splitlines()
            # notebooks: a JSON string per source line; their cells' lines too
            if path.suffix == ".ipynb":
                for cell in json.loads(path.read_text())["cells"]:
                    lines += "".join(cell["source"]).splitlines()
            yield path, lines


def test_no_solution_text_in_release(release):
    out, _ = release
    secrets = {line: s.name for s in SOLUTIONS if s.suffix == ".sql" for line in secret_lines(s)}
    whole = {
        " ".join(re.sub(r"--[^\n]*", "", s.read_text()).split()).lower(): s.name
        for s in SOLUTIONS
        if s.suffix == ".sql"
    }
    assert secrets and whole
    for path, lines in _release_texts(out):
        text = {norm(line) for line in lines}
        leaked = sorted(line for line in secrets if line in text)
        assert not leaked, f"{path.relative_to(out)} holds solution text of {secrets[leaked[0]]}: {leaked[0]!r}"
        flat = " ".join(" ".join(lines).split()).lower()
        found = [name for code, name in whole.items() if code in flat]
        assert not found, f"{path.relative_to(out)} holds the whole solution {found[0]}"


def test_no_reference_logic_in_release(release):
    """The pandas references of the checks stay out (the checks read stored expected outputs)."""
    out, files = release
    assert not any(f.startswith("workbook/course/references/") for f in files)
    assert (out / "workbook" / "course" / "expected" / "candlesticks.json").exists()
    logic = reference_logic()
    assert len(logic) >= 8 and any("groupby" in line for line in logic)
    for path in out.rglob("*.py"):
        text = {line.strip() for line in path.read_text().splitlines()}
        leaked = sorted(logic & text)
        assert not leaked, f"{path.relative_to(out)} holds reference logic: {leaked[0]!r}"
        assert "def reference_candlesticks" not in path.read_text(), path
    for path in out.rglob("*.ipynb"):
        assert "reference_candlesticks" not in path.read_text() and "reference_volumes" not in path.read_text(), path


def test_release_command_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "workbook.course.release", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "no solutions/" in out.stdout and (tmp_path / "r" / "notebooks").is_dir()


# --- the release's README and its first screen work in the release --------------------------------

LEFT_OUT = re.compile(r"(?<![\w.-])(?:solutions|tests|bench|\.ci)/")


def first_screen(readme: str) -> str:
    """What a student reads first: up to the first horizontal rule (or 40 lines)."""
    lines = readme.splitlines()
    end = next((i for i, line in enumerate(lines) if line.strip() == "---"), min(len(lines), 40))
    return "\n".join(lines[:end])


def test_release_readme_first_screen_is_the_setup_and_the_first_notebook(release):
    out, _ = release
    readme = (out / "README.md").read_text()
    screen = first_screen(readme)
    commands = [
        line.split("#")[0].strip()
        for block in re.findall(r"```bash\n(.*?)```", screen, re.S)
        for line in block.splitlines()
        if line.strip()
    ]
    assert commands == ["make lab"], commands
    notebooks = re.findall(r"`(notebooks/[^`]+\.ipynb)`", screen)
    assert notebooks and (out / notebooks[0]).is_file(), notebooks


def test_release_readme_has_no_test_command_instructors_or_left_out_folders(release):
    out, _ = release
    readme = (out / "README.md").read_text()
    assert "make test" not in readme
    assert not re.search(r"instructor", readme, re.IGNORECASE), "the instructors' section is for the main repo"
    assert not re.search(r"^#+\s+tests\b", readme, re.IGNORECASE | re.MULTILINE)
    assert "--solutions" not in readme and "WORKBOOK_SOLUTIONS" not in readme and "reveal(" not in readme
    found = LEFT_OUT.findall(readme)
    assert not found, f"the release README names folders the release leaves out: {found}"
    # the project README did name them: the rewrite is what removed them
    project = (ROOT / "README.md").read_text()
    assert "make test" in project and LEFT_OUT.search(project)


def _path_like(token: str) -> bool:
    if not token or " " in token or "://" in token or re.search(r":\d", token) or token.startswith(("$", "-")):
        return False
    return "/" in token or bool(re.search(r"\.(py|sql|ipynb|md|json|ya?ml|txt|gz|jsonl|example|Dockerfile)$", token))


def _project_top_levels() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return {f.split("/", 1)[0] for f in files}


def test_release_readme_names_only_what_the_release_has(release):
    """Every relative path in backticks or in a link exists in the release (or is made by the set-up)."""
    out, _ = release
    top = _project_top_levels()
    readme = (out / "README.md").read_text()
    text = re.sub(r"```.*?```", "", readme, flags=re.S)
    tokens = re.findall(r"`([^`]+)`", text) + re.findall(r"\]\(([^)]+)\)", text)
    checked = []
    for word in (w.rstrip(".,;:") for token in tokens for w in token.split()):
        if not _path_like(word) or "(" in word:
            continue
        if "/" in word and word.split("/", 1)[0] not in top:
            continue  # not a path of the project: an image name (apache/kafka), a pair (bitcoin/tether)...
        if "/" not in word:  # a bare file name: somewhere in the release
            assert list(out.rglob(word)), f"README names {word}, which is not in the release"
        elif "*" in word:
            assert list(out.glob(word)), f"README names {word}, which matches nothing in the release"
        else:
            assert (out / word).exists(), f"README names {word}, which is not in the release"
        checked.append(word)
    assert len(checked) >= 20 and "notebooks/01_setup.ipynb" in checked and "docker-compose.yml" in checked


def test_release_make_lab_dry_run_needs_only_what_the_release_has(release):
    """`make -n lab` (the first-screen command, not run): every file and module it uses is in the release."""
    out, _ = release
    dry = subprocess.run(["make", "-n", "lab"], cwd=out, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "jupyter lab" in dry.stdout and "-m workbook up --stream" in dry.stdout
    top = _project_top_levels() - {".venv", ".state"}
    used = set()
    for line in dry.stdout.splitlines():
        for word in line.split():
            word = word.strip("'\";{}|&`").rstrip(".,)")
            if word.startswith("--") and "=" in word:
                word = word.split("=", 1)[1]
            if re.fullmatch(r"[\w.-]+(/[\w.-]+)*/?", word) and word.split("/")[0] in top:
                used.add(word.rstrip("/"))
        used |= {m.replace(".", "/") for m in re.findall(r"-m (workbook[\w.]*)", line)}
    assert {"scripts/bootstrap_venv.py", "notebooks/01_setup.ipynb", "workbook"} <= used, used
    used |= {"requirements.txt", "pyproject.toml"}  # what scripts/bootstrap_venv.py installs
    for path in sorted(used):
        assert (out / path).exists() or (out / f"{path}.py").exists(), f"`make lab` uses {path}: not in the release"


def test_release_workbook_command_line_runs_there(release):
    out, _ = release
    env = dict(os.environ, PYTHONPATH=str(out))  # the release's workbook/, not this checkout's
    for argv, expect in ((["--help"], "up"), (["up", "--help"], "--stream")):
        run = subprocess.run(
            [sys.executable, "-m", "workbook", *argv], cwd=out, env=env, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        assert expect in run.stdout
    imported = subprocess.run(
        [sys.executable, "-c", "import workbook; print(workbook.__file__)"],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.stdout.strip().startswith(str(out)), imported.stdout


def test_release_compose_file_mounts_no_solutions(release):
    out, _ = release
    import yaml

    doc = yaml.safe_load((out / "docker-compose.yml").read_text())
    for name, svc in doc["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            if source.startswith("./"):
                assert (out / source).exists(), f"{name} mounts {source}, which the release does not have"
    assert "./sql:/opt/app/sql:ro" in doc["services"]["processor"]["volumes"]


# --- instructor-only material, left out by its explicit markers -----------------------------------


def test_markdown_loses_its_instructor_only_spans_and_lines():
    text = (
        "keep\n\n<!-- instructor-only -->\n## Grading\n\nsecret\n<!-- /instructor-only -->\n\n"
        "a <!-- instructor-only -->hidden <!-- /instructor-only -->sentence\n"
        "| a | b |\n| --- | --- |\n| `solutions/` | x <!-- instructor-only line --> |\n| c | d |\n"
    )
    assert student_markdown(text) == "keep\n\na sentence\n| a | b |\n| --- | --- |\n| c | d |\n"


def test_notebook_loses_its_instructor_only_cells(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("for everyone"),
        nbformat.v4.new_code_cell("reveal('candlesticks')", metadata={"tags": ["instructor-only"]}),
        nbformat.v4.new_code_cell("1 + 1", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"})]),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    student_notebook(path)
    cells = nbformat.read(path, as_version=4).cells
    assert [c.source for c in cells] == ["for everyone", "1 + 1"] and cells[1].outputs == []


def test_compose_loses_its_instructor_only_lines():
    text = "    volumes:\n      - ./sql:/opt/app/sql:ro\n      - ./solutions:/opt/app/solutions:ro  # instructor-only\n    environment:\n"
    assert student_compose(text) == "    volumes:\n      - ./sql:/opt/app/sql:ro\n    environment:\n"


def test_project_files_mark_what_the_release_leaves_out(release):
    """The markers are where the instructor-only material is (the project README keeps it, the release not)."""
    out, _ = release
    project, student = (ROOT / "README.md").read_text(), (out / "README.md").read_text()
    assert project.count("<!-- instructor-only") >= 4 and "instructor-only" not in student
    assert "./solutions" in (ROOT / "docker-compose.yml").read_text()


def test_release_docker_doc_names_no_left_out_folder(release):
    """docs/docker.md ships to students: what it says about tests/ and solutions/ is marked instructor-only."""
    out, files = release
    assert "docs/docker.md" in files
    student, project = (out / "docs" / "docker.md").read_text(), (ROOT / "docs" / "docker.md").read_text()
    assert not LEFT_OUT.findall(student), LEFT_OUT.findall(student)
    assert "instructor-only" not in student
    assert "make test" not in student, "the release has no tests to run"
    assert LEFT_OUT.search(project) and "<!-- instructor-only -->" in project  # the markers did it
    # what students need of it is still there
    assert "## What is validated here, and what is not" in student and "Untested" in student


def test_release_students_submit_and_cannot_grade(release, tmp_path):
    """The release keeps the exercise cells' ids (the grader finds answers by them) and `submit`; it has no
    grading data, no grading table and no grader: `grade` says so."""
    out, files = release
    assert not any(f.startswith("workbook/course/grad") or f.endswith("sandbox.py") for f in files), files
    ids = [
        c["metadata"]["workbook"]["exercise"]
        for nb in sorted((out / "notebooks").glob("*.ipynb"))
        for c in json.loads(nb.read_text())["cells"]
        if "workbook" in c.get("metadata", {})
    ]
    assert len(ids) == sum(e.in_cell for e in exercises.EXERCISES.values()) == 21 and "stream_counts" in ids
    env = dict(os.environ, PYTHONPATH=str(out), WORKBOOK_PROGRESS_FILE=str(tmp_path / "p.json"))

    def course(*argv):
        return subprocess.run(
            [sys.executable, "-m", "workbook.course", *argv], cwd=out, env=env, capture_output=True, text=True
        )

    submitted = course("submit", "--student", "s1", "--out", str(tmp_path))
    assert submitted.returncode == 0, submitted.stderr
    assert (tmp_path / "submission-s1.zip").exists()
    graded = course("grade", str(tmp_path), "--out", str(tmp_path / "grades"))
    assert graded.returncode == 2 and "grading data" in graded.stderr

"""Build the student release: the committed tree without solutions/ (and without the tests, CI and
benchmarks that need them), every notebook cleared of outputs, so no solution text or solution result
reaches students.

What else is for instructors only is marked where it is written, and the release leaves it out:

- Markdown (README.md, docs/): a span between `<!-- instructor-only -->` and `<!-- /instructor-only -->`
  (a paragraph, a section, or words inside a line), and a line holding `<!-- instructor-only line -->`
  (a table row);
- notebooks: a cell tagged `instructor-only`;
- docker-compose.yml: a line ending in the comment `# instructor-only`.

The release's README.md opens with its own first screen (the set-up command and the notebook to open
first) in place of the project's (everything above its first `---` line but the title and the opening
paragraph).

    python -m workbook.course.release [--out build/student-release]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import nbformat

from ..paths import PROJECT_ROOT

# workbook/course/references/: the pandas references that compute the expected answers (the checks ship
# only their stored outputs, workbook/course/expected/)
EXCLUDED = (
    "solutions/",
    "tests/",
    ".ci/",
    "bench/",
    "docs/instructors.md",
    "workbook/course/references/",
    "workbook/course/grading/",  # the held-out grading data, its expected outputs and the grading table
    # grading a class (python -m workbook.course grade): instructor commands over the grading data
    "workbook/course/grader.py",
    "workbook/course/grade_report.py",
    "workbook/course/sandbox.py",
)
INSTRUCTOR_TAG = "instructor-only"  # a notebook cell's tag
_BLOCK = re.compile(r"^<!-- instructor-only -->\n.*?^<!-- /instructor-only -->\n?", re.DOTALL | re.MULTILINE)
_SPAN = re.compile(r"<!-- instructor-only -->.*?<!-- /instructor-only -->", re.DOTALL)
_LINE = re.compile(r"^.*<!-- instructor-only line -->.*\n?", re.MULTILINE)
_COMPOSE_LINE = re.compile(r"^.*#[ \t]*instructor-only[ \t]*\n?", re.MULTILINE)
FIRST_NOTEBOOK = "notebooks/01_setup.ipynb"


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    return [f for f in out.stdout.split("\0") if f]


def student_markdown(text: str) -> str:
    """A Markdown file without its instructor-only spans and lines."""
    text = _LINE.sub("", _SPAN.sub("", _BLOCK.sub("", text)))
    return re.sub(r"\n{3,}", "\n\n", text)


def student_notebook(path: Path) -> None:
    """The notebook without its instructor-only cells, every output cleared."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if INSTRUCTOR_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def student_readme(readme: str) -> str:
    """The student release's README.md from the project's: the title and the opening paragraph, a first
    screen that works in the release (`make lab`, then the first notebook), then the project README below its
    first `---` line, without its instructor-only material."""
    lines = readme.splitlines()
    title = lines[0] if lines and lines[0].startswith("# ") else "# Real-time crypto trade workbook"
    rule = next((i for i, line in enumerate(lines) if line.strip() == "---"), len(lines))
    intro = []
    for line in lines[1:rule]:  # the opening paragraph
        if not line.strip() and intro:
            break
        if line.strip():
            intro.append(line)
    lab = next((line.strip() for line in lines[1:rule] if line.strip().startswith("make lab")), "make lab")
    first_screen = [
        title,
        "",
        *intro,
        "",
        "## Start here",
        "",
        "One command, from this folder (Python 3.11 and `make`; no Docker, no Java needed):",
        "",
        "```bash",
        lab,
        "```",
        "",
        "It sets everything up and opens JupyterLab. Open the notebooks in order, starting with",
        f"`{FIRST_NOTEBOOK}`: it checks that everything runs and says how to fix what does not.",
        "",
        "---",
        "",
    ]
    body = student_markdown("\n".join(lines[rule + 1 :])).strip("\n")
    return "\n".join(first_screen) + body + "\n"


def student_compose(text: str) -> str:
    """docker-compose.yml without its instructor-only lines (the solutions/ mount: Docker would create an empty
    folder for it)."""
    return _COMPOSE_LINE.sub("", text)


def _rewrite(rel: str):
    """How a file of the release is rewritten for students (None: copied as it is)."""
    if rel == "README.md":
        return student_readme
    if rel == "docker-compose.yml":
        return student_compose
    if rel.endswith(".md"):
        return student_markdown
    return None


def build(out: Path, root: Path = PROJECT_ROOT) -> list[str]:
    if out.exists():
        shutil.rmtree(out)
    written = []
    for rel in tracked_files(root):
        if rel.startswith(EXCLUDED) or not (root / rel).exists():
            continue
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest)
        if rel.endswith(".ipynb"):
            student_notebook(dest)
        rewrite = _rewrite(rel)
        if rewrite is not None:
            dest.write_text(rewrite(dest.read_text()))
        written.append(rel)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "build" / "student-release")
    args = parser.parse_args()
    files = build(args.out)
    print(f"student release: {len(files)} files in {args.out} (no solutions/, notebook outputs cleared)")


if __name__ == "__main__":
    main()

"""Build the student release: the committed tree without solutions/ (and
without the tests and CI that need them), every notebook cleared of outputs,
so no solution text or solution result reaches students. Its README.md is the
project's, rewritten for students (student_readme): the first screen is the
set-up command and the notebook to open first; nothing that names a left-out
folder, `make test` or the instructors' material is kept.

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
EXCLUDED = ("solutions/", "tests/", ".ci/", "bench/", "docs/instructors.md", "workbook/course/references/")

# README units (paragraph, list item, table row, code line) that are dropped from the student README:
# anything naming a left-out folder, the test command, or the instructors' material.
_DROP = re.compile(
    r"(?<![\w.-])(?:solutions|tests|bench|\.ci)/|\bmake test\b|\binstructors?\b|--solutions"
    r"|WORKBOOK_SOLUTIONS|\breveal\(",
    re.IGNORECASE,
)
# ... after these are cut out of them: "(`pytest tests/...`)" asides and the "[--solutions]" option.
_CUT = (re.compile(r"\s*\(`[^`]*(?:solutions|tests|bench|\.ci)/[^`]*`\)"), re.compile(r"\s*\[--solutions\]"))
# sections left out as a whole (## or ### headings)
_DROP_SECTIONS = re.compile(r"^#{2,3}\s+(tests|instructors?)\b", re.IGNORECASE)
FIRST_NOTEBOOK = "notebooks/01_setup.ipynb"


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    return [f for f in out.stdout.split("\0") if f]


def clear_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def _units(block: list[str]) -> list[list[str]]:
    """A block's units: list items (with their continuation lines), table rows, code lines, or the paragraph."""
    if block[0].startswith("```") or block[0].startswith("|"):
        return [[line] for line in block]
    item = re.compile(r"^\s*(?:[-*]|\d+\.)\s")
    if not any(item.match(line) for line in block):
        return [block]
    units = []
    for line in block:
        if item.match(line) or not units:
            units.append([line])
        else:
            units[-1].append(line)
    return units


def _filter_blocks(lines: list[str]) -> list[str]:
    """Drop the units of a README body that _DROP matches, and a block whose lead-in is dropped."""
    blocks, current, fence = [], [], False
    for line in lines:
        if line.startswith("```"):
            if fence:  # closing fence: a code block is its own block
                current.append(line)
                blocks.append(current)
                current, fence = [], False
                continue
            if current:
                blocks.append(current)
            current, fence = [line], True
            continue
        if not fence and not line.strip():
            if current:
                blocks.append(current)
            blocks.append([""])
            current = []
            continue
        current.append(line)
    if current:
        blocks.append(current)
    out = []
    for block in blocks:
        if block == [""]:
            out.append("")
            continue
        if block[0].startswith("```"):
            body = [line for line in block[1:-1] if not _DROP.search(line)]
            if body:
                out += [block[0], *body, block[-1]]
            continue
        units = _units(_cut("\n".join(block)).split("\n"))
        if _DROP.search("\n".join(units[0])) and len(units) > 1 and not block[0].startswith("|"):
            continue  # the lead-in of a list ("Instructors: ...") goes with its list
        for unit in units:
            if not _DROP.search("\n".join(unit)):
                out += unit
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out))
    return text.split("\n")


def _cut(text: str) -> str:
    for pattern in _CUT:
        text = pattern.sub("", text)
    return text


def student_readme(readme: str) -> str:
    """The student release's README.md from the project's: the title and the opening paragraph, a first
    screen that works in the release (`make lab`, then the first notebook), then the project README's
    sections without what names solutions/, tests/, bench/, .ci/, `make test` or the instructors."""
    lines = readme.splitlines()
    title = lines[0] if lines and lines[0].startswith("# ") else "# Real-time crypto trade workbook"
    first_section = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    head = lines[1:first_section]
    intro = []
    for line in head:  # the opening paragraph
        if not line.strip() and intro:
            break
        if line.strip():
            intro.append(line)
    lab = next((line.strip() for line in head if line.strip().startswith("make lab")), "make lab")
    sections, current = [], []
    for line in lines[first_section:]:
        if line.startswith("## ") or line.startswith("### "):
            sections.append(current)
            current = []
        current.append(line)
    sections.append(current)
    body = []
    for section in sections:
        if section and not _DROP_SECTIONS.match(section[0]):
            body += section
    return (
        "\n".join(
            [
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
                *_filter_blocks(body),
            ]
        ).rstrip()
        + "\n"
    )


def student_compose(text: str) -> str:
    """docker-compose.yml without the solutions/ mount (Docker would create an empty folder for it)."""
    return "".join(line for line in text.splitlines(keepends=True) if not re.match(r"\s*- \./solutions[:/]", line))


# files of the release that are rewritten for students
REWRITE = {"README.md": student_readme, "docker-compose.yml": student_compose}


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
            clear_outputs(dest)
        if rel in REWRITE:
            dest.write_text(REWRITE[rel](dest.read_text()))
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

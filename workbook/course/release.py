"""Build the student release: the committed tree without solutions/ (and
without the tests and CI that need them), every notebook cleared of outputs,
so no solution text or solution result reaches students.

    python -m workbook.course.release [--out build/student-release]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import nbformat

from ..paths import PROJECT_ROOT

EXCLUDED = ("solutions/", "tests/", ".ci/", "bench/")


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

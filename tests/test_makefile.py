"""What `make lab` and `make release` run (make -n: printed, not run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dry(target: str) -> str:
    return subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_lab_serves_the_project_root_and_opens_notebook_01():
    text = _dry("lab").replace("\\\n", " ")
    lab = next(line for line in text.splitlines() if "jupyter lab" in line)
    assert "--ServerApp.root_dir=." in lab and "--notebook-dir" not in lab, lab
    assert lab.split()[-1] == "notebooks/01_setup.ipynb" and (ROOT / "notebooks" / "01_setup.ipynb").exists()
    assert "--LabApp.news_url=None" in lab  # no news pop-up over the notebook


def test_make_release_has_a_rule():
    assert "workbook.course.release" in _dry("release")

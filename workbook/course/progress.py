"""What a student has done so far, for the submission's manifest: per exercise the public check's last
verdict, the number of attempts (checks run) and the hint levels shown. Kept in `.state/progress.json`
(`WORKBOOK_PROGRESS_FILE` puts it elsewhere); the kernel's checks and hints record it as the student works.

Recording never breaks a check or a hint: a failure to write is one line on stderr, and the work goes on.
The instructor's run (WORKBOOK_SOLUTIONS=1) records nothing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..config import load_config

ENV_FILE = "WORKBOOK_PROGRESS_FILE"


def progress_file() -> Path:
    """Where the progress is kept: $WORKBOOK_PROGRESS_FILE, else <WORKBOOK_STATE_DIR>/progress.json."""
    if os.environ.get(ENV_FILE):
        return Path(os.environ[ENV_FILE])
    return load_config().workbook_state_dir / "progress.json"


def load(path: Path | None = None) -> dict:
    """exercise -> {"verdict": "passed"|"failed", "attempts": n, "hint_levels": [..]}; {} when none or unreadable."""
    path = path or progress_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _update(name: str, change) -> None:
    path = progress_file()
    try:
        data = load(path)
        entry = data.setdefault(name, {"verdict": "not run", "attempts": 0, "hint_levels": []})
        change(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)
    except Exception as exc:  # noqa: BLE001 (recording must never break a check or a hint)
        print(f"note: could not record your progress in {path} ({type(exc).__name__}: {exc})", file=sys.stderr)


def record_check(name: str, passed: bool) -> None:
    """A check of exercise `name` ran: one more attempt, and its verdict is the latest."""

    def change(entry: dict) -> None:
        entry["attempts"] = int(entry.get("attempts", 0)) + 1
        entry["verdict"] = "passed" if passed else "failed"

    _update(name, change)


def record_hint(name: str, level: int) -> None:
    """Hint `level` of exercise `name` was shown."""

    def change(entry: dict) -> None:
        entry["hint_levels"] = sorted({*entry.get("hint_levels", []), int(level)})

    _update(name, change)

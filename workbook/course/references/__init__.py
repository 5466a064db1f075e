"""Reference computations that find exercise answers: instructor material, left out of the
student release (the checks work from the values stored under workbook/course/expected/)."""

from __future__ import annotations

import json
from pathlib import Path


def write_json(path: Path, values, **dump_options):
    """Store `values` at `path` as JSON (json.dumps with `dump_options`) and a final newline, making its
    folder if needed; returns `values`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, **dump_options) + "\n")
    return values

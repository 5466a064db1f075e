"""Give every exercise cell of notebooks/*.ipynb its exercise id in the cell's metadata,
`{"workbook": {"exercise": NAME}}` (as nbgrader's grade_id): the grader finds a student's answer by it,
wherever the cell has moved (workbook/course/submission.py). Only cell metadata changes: sources and outputs
stay as they are (the file is written as Jupyter writes it: indent 1, no ASCII escapes, a final newline).

    .venv/bin/python scripts/tag_exercise_cells.py [--check]     (--check: exit 1 when a cell lacks its id)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbook.course import exercises  # noqa: E402 (after the path)
from workbook.course.submission import METADATA_KEY  # noqa: E402

SQL_CELL = re.compile(r"^%%flinksql\b.*--exercise\s+(\w+)")
PY_CELL = re.compile(r"^python_exercise\(\s*[\"'](\w+)[\"']", re.MULTILINE)


def exercise_of(source: str) -> str | None:
    m = SQL_CELL.match(source) or PY_CELL.search(source)
    name = m.group(1) if m else None
    return name if name in exercises.EXERCISES and exercises.get(name).in_cell else None


def tag(path: Path) -> list[str]:
    """Tag the exercise cells of one notebook; the names of the cells changed."""
    nb = json.loads(path.read_text())
    changed = []
    for cell in nb["cells"]:
        name = exercise_of("".join(cell["source"])) if cell["cell_type"] == "code" else None
        if name and cell.get("metadata", {}).get(METADATA_KEY) != {"exercise": name}:
            cell.setdefault("metadata", {})[METADATA_KEY] = {"exercise": name}
            changed.append(name)
    if changed:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    missing = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if check:
            nb = json.loads(path.read_text())
            missing += [
                f"{path.name}: {exercise_of(''.join(c['source']))}"
                for c in nb["cells"]
                if c["cell_type"] == "code"
                and exercise_of("".join(c["source"]))
                and c.get("metadata", {}).get(METADATA_KEY) is None
            ]
        else:
            for name in tag(path):
                print(f"{path.name}: {name}")
    if missing:
        print("exercise cells without their id:\n" + "\n".join(missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

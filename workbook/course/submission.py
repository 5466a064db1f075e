"""A student's submission: what `python -m workbook.course submit` packs, and how the grader finds the answers
in it again.

    submission-<ID>.zip
      manifest.json           student id, created at, course version, per exercise the public check's verdict,
                              the attempts and the hint levels used (workbook/course/progress.py)
      notebooks/*.ipynb       the notebooks as saved
      sql/...                 the sql/ folder (the file exercises: sql/40_candlesticks.sql, sql/41_volumes.sql)

Nothing else goes in (no .venv, no .state). The grader reads a zip or an unpacked folder of the same layout.
An exercise cell is found by its metadata, `{"workbook": {"exercise": NAME}}` (as nbgrader's grade_id): a
moved cell is still found; when the id is on several cells the last one wins (and the feedback says so). A
file exercise is found by its path.
"""

from __future__ import annotations

import getpass
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..paths import PROJECT_ROOT
from . import exercises, progress

METADATA_KEY = "workbook"  # a cell's metadata: {"workbook": {"exercise": NAME}}
MANIFEST = "manifest.json"
MAX_FILE_BYTES = 64 * 1024**2  # a file of a submission, unpacked: more is no notebook (a zip bomb?)
PACKAGE = "crypto-trade-workbook"
_ID = re.compile(r"[^A-Za-z0-9_.-]+")


class NothingToSubmit(RuntimeError):
    pass


def course_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        match = re.search(r'^version\s*=\s*"([^"]+)"', (PROJECT_ROOT / "pyproject.toml").read_text(), re.M)
        return match.group(1) if match else "unknown"


def safe_id(text: str) -> str:
    """A student id usable in a file name (letters, digits, `_.-`)."""
    return _ID.sub("-", text).strip("-.") or "student"


def submitted_files(root: Path) -> list[str]:
    """The files a submission holds, relative to `root`, sorted: notebooks/*.ipynb and everything under sql/."""
    files = [p for p in (root / "notebooks").glob("*.ipynb") if p.is_file()]
    files += [p for p in (root / "sql").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(str(p.relative_to(root)) for p in files)


def manifest(student: str, progress_data: dict) -> dict:
    per_exercise = {}
    for name in exercises.EXERCISES:
        entry = progress_data.get(name, {})
        per_exercise[name] = {
            "public_check": entry.get("verdict", "not run"),
            "attempts": int(entry.get("attempts", 0)),
            "hint_levels": sorted(entry.get("hint_levels", [])),
        }
    return {
        "student_id": student,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "course_version": course_version(),
        "exercises": per_exercise,
    }


def submit(student: str, root: Path | None = None, out: Path | None = None) -> Path:
    """Write submission-<student>.zip of the workbook at `root` (the project by default) in `out` (`root` by
    default); NothingToSubmit when there are no notebooks and no exercise file."""
    root = root or PROJECT_ROOT
    student = safe_id(student)
    files = submitted_files(root)
    has_exercise_file = any(e.student in files for e in exercises.EXERCISES.values() if not e.in_cell)
    if not any(f.startswith("notebooks/") for f in files) and not has_exercise_file:
        raise NothingToSubmit(
            f"nothing to submit in {root}: no notebooks/*.ipynb and no exercise file of sql/ "
            "(run the command in the workbook's folder)"
        )
    out = out or root
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"submission-{student}.zip"
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest(student, progress.load()), indent=1) + "\n")
        for rel in files:
            zf.write(root / rel, rel)
    tmp.replace(path)
    return path


def packed(path: Path) -> str:
    """What a submission zip holds, in words."""
    with zipfile.ZipFile(path) as zf:
        return f"{len(zf.namelist()) - 1} files and manifest.json"


def hand_in(student: str = "", root: Path | None = None) -> None:
    """The final notebook's last cell: submit(), then say what was written (the id defaults to the user name)."""
    student = safe_id(student or getpass.getuser())
    try:
        path = submit(student, root=root)
    except NothingToSubmit as exc:
        print(f"nothing handed in: {exc}")
        return
    print(f"wrote {path.name} in the workbook's folder: {packed(path)} (student {student}).")
    print("Hand that file in as your instructor asked; run this cell again after changing an answer.")


# --- reading a submission back (the grader) ------------------------------------------------------------


@dataclass
class Submission:
    """A submission as read: its files (relative path -> bytes), its manifest, and what made it unreadable."""

    student: str
    source: str  # the zip's or folder's name
    files: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    error: str | None = None  # the whole submission could not be read (a corrupt zip)


def student_of(path: Path) -> str:
    name = path.name[: -len(".zip")] if path.name.endswith(".zip") else path.name
    return safe_id(name.removeprefix("submission-"))


def read(path: Path) -> Submission:
    """A zip or an unpacked folder; never raises: a corrupt one comes back with `error` set."""
    sub = Submission(student_of(path), path.name)
    try:
        if path.is_dir():
            sub.files = {
                rel: (path / rel).read_bytes() for rel in [MANIFEST, *submitted_files(path)] if (path / rel).is_file()
            }
        else:
            with zipfile.ZipFile(path) as zf:
                wanted = [
                    info
                    for info in zf.infolist()
                    if not info.is_dir()
                    and (info.filename == MANIFEST or info.filename.startswith(("notebooks/", "sql/")))
                ]
                big = [i.filename for i in wanted if i.file_size > MAX_FILE_BYTES]
                if big:
                    raise ValueError(f"{big[0]} is larger than {MAX_FILE_BYTES // 1024**2} MiB unpacked")
                sub.files = {info.filename: zf.read(info) for info in wanted}
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, RuntimeError) as exc:
        sub.error = f"could not read {path.name}: {type(exc).__name__}: {exc}"
        return sub
    if MANIFEST in sub.files:
        try:
            sub.manifest = json.loads(sub.files[MANIFEST])
        except ValueError:
            sub.manifest = {}
    if isinstance(sub.manifest, dict) and sub.manifest.get("student_id"):
        sub.student = safe_id(str(sub.manifest["student_id"]))
    return sub


@dataclass(frozen=True)
class Answer:
    """An exercise's answer as found: its text (None when not found) and notes for the feedback."""

    text: str | None
    problem: str | None = None  # why there is no answer: a missing cell or file, an unreadable notebook
    note: str | None = None  # e.g. the id was on several cells


def cell_exercise(cell: dict) -> str | None:
    meta = cell.get("metadata", {}).get(METADATA_KEY, {})
    return meta.get("exercise") if isinstance(meta, dict) else None


def cell_answer(source: str, kind: str) -> str:
    """The answer of an exercise cell: SQL without its `%%flinksql` line; Python without the line that calls
    the check (`python_exercise(...)`) or asks for a hint."""
    lines = source.splitlines()
    if kind == "sql":
        lines = [line for line in lines if not line.lstrip().startswith("%%flinksql")]
    else:
        lines = [line for line in lines if not line.lstrip().startswith(("python_exercise(", "hint("))]
    return "\n".join(lines).strip("\n") + "\n"


def notebook_answers(files: dict, notebook: str) -> tuple[dict, str | None]:
    """exercise -> [cell sources with its id, in order] of one notebook, or the reason it cannot be read."""
    if notebook not in files:
        return {}, f"{notebook} is missing from the submission"
    try:
        nb = json.loads(files[notebook])
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        return {}, f"{notebook} is not a readable notebook ({type(exc).__name__})"
    found: dict = {}
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code" and cell_exercise(cell):
            source = cell.get("source", "")
            found.setdefault(cell_exercise(cell), []).append("".join(source) if isinstance(source, list) else source)
    return found, None


def answers(files: dict) -> dict[str, Answer]:
    """Every exercise's answer in a submission's files (see the module's docstring)."""
    out, notebooks = {}, {}
    for name, ex in exercises.EXERCISES.items():
        if not ex.in_cell:
            raw = files.get(ex.student)
            if raw is None:
                out[name] = Answer(None, f"the file {ex.student} is missing from the submission")
            else:
                out[name] = Answer(raw.decode("utf-8", errors="replace"))
            continue
        if ex.student not in notebooks:
            notebooks[ex.student] = notebook_answers(files, ex.student)
        found, problem = notebooks[ex.student]
        cells = found.get(name, [])
        if problem or not cells:
            out[name] = Answer(None, problem or f"no cell of {ex.student} has the exercise id {name!r} (deleted?)")
            continue
        note = (
            f"{len(cells)} cells of {ex.student} have the exercise id {name!r}: the last one is graded"
            if len(cells) > 1
            else None
        )
        out[name] = Answer(cell_answer(cells[-1], ex.answer), note=note)
    return out


def project_files(root: Path = PROJECT_ROOT) -> dict:
    """The project's own notebooks and sql/ as a submission's files (the skeletons the students start from)."""
    return {rel: (root / rel).read_bytes() for rel in submitted_files(root)}


def same_answer(a: str | None, b: str | None) -> bool:
    """Whether two answers are the same but for blank space (an untouched skeleton)."""
    return a is not None and b is not None and a.split() == b.split()


def with_answers(files: dict, new: dict) -> dict:
    """A copy of a submission's files with the answers `new` (exercise -> text) written where a student writes
    them: the last cell with the exercise's id (after its `%%flinksql` line; a Python cell keeps its check
    call), or the exercise's file. For dry runs of the grader and its tests."""
    files = dict(files)
    for name, text in new.items():
        ex = exercises.get(name)
        if not ex.in_cell:
            files[ex.student] = text.encode()
            continue
        nb = json.loads(files[ex.student])
        cell = [c for c in nb["cells"] if cell_exercise(c) == name][-1]
        if ex.answer == "sql":
            source = f"%%flinksql --exercise {name}\n{text}"
        else:
            source = f'{text}\npython_exercise("{name}", globals())\n'
        cell["source"] = source.splitlines(keepends=True)
        files[ex.student] = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
    return files


def write_zip(files: dict, path: Path, manifest_data: dict) -> Path:
    """A submission zip of `files` (relative path -> bytes) and its manifest."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest_data, indent=1) + "\n")
        for rel in sorted(files):
            if rel != MANIFEST:
                zf.writestr(rel, files[rel])
    return path

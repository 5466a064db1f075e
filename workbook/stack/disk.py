"""A full disk under the state folder, said as such: which folder, how much is free, what to do.

"Full" is less than one WAL file (16 MiB) free: below that PostgreSQL can fail any write, and the services'
logs and pid files may fail to be written.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

LOW_BYTES = 16 * 2**20
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def usage(path: Path):
    """shutil.disk_usage of `path`, or of its nearest folder that exists; None if none can be read."""
    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder)
        except OSError:
            continue
    return None


def full_note(path: Path) -> str | None:
    """'the disk holding PATH is full (...)' with what to do, or None if it has room (or cannot be read)."""
    found = usage(path)
    if found is None or found.free >= LOW_BYTES:
        return None
    return (
        f"the disk holding {path} is full ({found.free / 2**20:.1f} MiB free of {found.total / 2**20:.0f} MiB): "
        "free space on it, then run the command again (or set WORKBOOK_STATE_DIR in .env to a folder on "
        "another disk: a new state folder starts with an empty database)"
    )


def write_error(exc: OSError, state_dir: Path | None) -> str:
    """One line for an OSError of the stack's own files (state folder: logs, pid files, configuration)."""
    written = exc.filename2 or exc.filename  # a copy's error names the source first, the file written second
    where = Path(written) if written else state_dir
    if exc.errno in FULL_ERRNOS and where is not None:
        return full_note(where) or f"the disk holding {where} is full ({exc.strerror}): free space on it"
    folder = f" (the embedded stack keeps its files under WORKBOOK_STATE_DIR, {state_dir})" if state_dir else ""
    return f"{where or 'the stack'}: {exc.strerror or exc}{folder}"

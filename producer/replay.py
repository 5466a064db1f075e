"""Replay of recorded trade records, the recorder, and the clock for both
replayed and synthetic trades.

A replay file is JSON lines (optionally gzip-compressed, by the .gz suffix), one
trade record of the lab's format per line; blank lines are ignored, a line
that is not a valid record is skipped and counted.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from .record import JSONDecodeError, Rejected, Skip, loads, validate_record

log = logging.getLogger("producer.replay")


GZIP_MAGIC = b"\x1f\x8b"


class ReplayFileError(Exception):
    """The replay file ends early (truncated) or is corrupt after `lines` complete lines:
    raised by read_records after yielding every record before the damage."""

    def __init__(self, path, lines: int, what: str, cause: str):
        super().__init__(f"replay file {path} is {what} after {lines} complete lines ({cause})")
        self.path = path
        self.lines = lines
        self.what = what
        self.cause = cause
        self.tail = b""  # the incomplete bytes after the last complete line


def open_text(path, mode: str = "rb"):
    """Open plain or .gz files in binary mode (gzip written with mtime 0, so
    that the same records give the same bytes)."""
    path = Path(path)
    if path.suffix == ".gz":
        if "r" in mode:
            return io.BufferedReader(gzip.open(path, mode), 1 << 20)
        return gzip.GzipFile(path, mode, compresslevel=9, mtime=0)
    return open(path, mode)


def check_replay_file(path) -> None:
    """Raise ValueError with what to do if `path` is missing, unreadable, or its
    name and content disagree about gzip (checked before anything is sent)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"replay file {path} not found")
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError as e:
        raise ValueError(f"replay file {path} cannot be read: {e.strerror or e}") from None
    gz_name, gz_data = path.suffix == ".gz", head == GZIP_MAGIC
    if gz_name and head and not gz_data:
        raise ValueError(
            f"replay file {path} is not gzip-compressed (the name ends in .gz, the content does not "
            f"start with gzip's signature 1f 8b but with {head!r}). If it is plain JSON lines, rename "
            "it without .gz; otherwise record it again (--record FILE.jsonl.gz)"
        )
    if gz_data and not gz_name:
        raise ValueError(
            f"replay file {path} is gzip-compressed but its name does not end in .gz: rename it to {path.name}.gz"
        )


def _lines(path) -> Iterator[bytes]:
    """Lines of a plain or .gz file. A .gz file that ends before gzip's end
    marker, or whose data is damaged, raises ReplayFileError after every
    complete line before the damage (the incomplete rest is in `.tail`)."""
    if Path(path).suffix != ".gz":
        with open(path, "rb", buffering=1 << 20) as f:
            yield from f
        return
    n = 0
    tail = b""
    with gzip.GzipFile(path, "rb") as f:
        while True:
            try:
                chunk = f.read1(1 << 20)
            except EOFError as e:  # the file was cut short: a partial download or copy, a full disk
                err = ReplayFileError(path, n, "truncated", str(e))
            except (gzip.BadGzipFile, zlib.error) as e:  # damaged data, a bad CRC, trailing garbage
                err = ReplayFileError(path, n, "corrupt", str(e))
            else:
                if not chunk:
                    break
                lines = (tail + chunk).split(b"\n") if tail else chunk.split(b"\n")
                tail = lines.pop()
                n += len(lines)
                yield from lines
                continue
            err.tail = tail
            raise err
    if tail:
        yield tail


def read_records(path, loop: bool = False) -> Iterator:
    """Records of a JSON-lines file (dicts, or Skip for bad lines).

    With loop=True the file is read again and again; each pass is shifted in
    time to start one mean trade interval after the previous pass ended, so
    timestamps never go backwards.

    A truncated or corrupt .gz file gives every record before the damage, then
    the incomplete last line (a record if it is one whole, else a Skip), then
    raises ReplayFileError.
    """
    shift = 0
    passes = 0
    while True:
        first = last = None
        n = 0
        lineno = 0
        try:
            for line in _lines(path):
                lineno += 1
                if not line.strip():
                    continue
                try:
                    rec = validate_record(loads(line))
                except JSONDecodeError as e:
                    yield Skip("malformed JSON", f"line {lineno}: {str(e)[:80]}")
                    continue
                except Rejected as e:
                    yield Skip(e.reason, f"line {lineno}: {e.detail}")
                    continue
                ts = rec["timestamp"]
                if first is None:
                    first = ts
                last = ts
                n += 1
                if shift:
                    rec["timestamp"] = ts + shift
                yield rec
        except ReplayFileError as e:
            if e.tail.strip():
                try:  # cut exactly after a record's closing brace: the record is whole
                    rec = validate_record(loads(e.tail))
                except JSONDecodeError:
                    yield Skip(
                        f"incomplete last line of a {e.what} file",
                        f"line {lineno + 1}: {e.tail[:120].decode(errors='replace')}",
                    )
                except Rejected as r:
                    yield Skip(r.reason, f"line {lineno + 1}: {r.detail}")
                else:
                    rec["timestamp"] += shift
                    yield rec
            raise
        passes += 1
        if not loop:
            return
        if n == 0:
            log.error("%s holds no valid record: nothing to loop over", path)
            return
        gap = max(1, (last - first) // max(1, n - 1))
        shift += last - first + gap
        log.info("%s: pass %d done (%d records), looping", path, passes, n)


def paced(items: Iterable, speed: float | None, rebase: bool) -> Iterable:
    """Release records at `speed` x the pace of their timestamps (None = as fast
    as possible) and, with `rebase`, rewrite timestamps to look live: a record
    `dt` ms after the first one gets now + dt/speed (now + dt at max speed).
    Skips pass through untouched."""
    if speed is None and not rebase:
        return items
    return _paced(items, speed, rebase)


def _paced(items: Iterable, speed: float | None, rebase: bool) -> Iterator:
    t0 = None
    wall0 = time.monotonic()
    now_ms = int(time.time() * 1000)
    sleep = time.sleep
    monotonic = time.monotonic
    scale = 1.0 / speed if speed else 1.0
    for item in items:
        if type(item) is dict:
            ts = item["timestamp"]
            if t0 is None:
                t0 = ts
                wall0 = monotonic()
                now_ms = int(time.time() * 1000)
            dt = (ts - t0) * scale  # ms of wall time after the first record
            if speed is not None:
                wait = wall0 + dt / 1000.0 - monotonic()
                if wait > 0.001:
                    sleep(wait)
            if rebase:
                item["timestamp"] = now_ms + int(dt)
        yield item


def check_record_path(path, replay_file=None) -> None:
    """Raise ValueError with what to do if --record FILE cannot be written:
    checked before anything is sent. The folder is not created: a typo in it
    would otherwise scatter recordings into a new folder tree."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ValueError(
            f"--record {path}: the folder {folder} {what}; create it first (mkdir -p {folder}) "
            "or record into an existing folder"
        )
    if path.is_dir():
        raise ValueError(f"--record {path} is a folder: give a file name, e.g. {path / 'trades.jsonl.gz'}")
    if replay_file is not None and path.exists() and path.resolve() == Path(replay_file).resolve():
        raise ValueError(
            f"--record {path} is the replay file itself: recording would overwrite what is being "
            "replayed; record into another file"
        )
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"--record {path}: no permission to write in {folder}")


class Recorder:
    """--record FILE: writes every emitted record, one JSON line each (.gz compressed)."""

    def __init__(self, path):
        self.path = Path(path)
        self._f = open_text(self.path, "wb")
        self.count = 0

    def write(self, payload: bytes) -> None:
        self._f.write(payload)
        self._f.write(b"\n")
        self.count += 1

    def close(self) -> None:
        self._f.close()

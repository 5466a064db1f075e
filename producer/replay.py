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
import time
from pathlib import Path
from typing import Iterable, Iterator

from .record import JSONDecodeError, Rejected, Skip, loads, validate_record

log = logging.getLogger("producer.replay")


def open_text(path, mode: str = "rb"):
    """Open plain or .gz files in binary mode (gzip written with mtime 0, so
    that the same records give the same bytes)."""
    path = Path(path)
    if path.suffix == ".gz":
        if "r" in mode:
            return io.BufferedReader(gzip.open(path, mode), 1 << 20)
        return gzip.GzipFile(path, mode, compresslevel=9, mtime=0)
    return open(path, mode)


def read_records(path, loop: bool = False) -> Iterator:
    """Records of a JSON-lines file (dicts, or Skip for bad lines).

    With loop=True the file is read again and again; each pass is shifted in
    time to start one mean trade interval after the previous pass ended, so
    timestamps never go backwards.
    """
    shift = 0
    passes = 0
    while True:
        first = last = None
        n = 0
        with open_text(path) as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    rec = validate_record(loads(line))
                except JSONDecodeError as e:
                    yield Skip("malformed JSON", str(e)[:80])
                    continue
                except Rejected as e:
                    yield Skip.of(e)
                    continue
                ts = rec["timestamp"]
                if first is None:
                    first = ts
                last = ts
                n += 1
                if shift:
                    rec["timestamp"] = ts + shift
                yield rec
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


class Recorder:
    """--record FILE: writes every emitted record, one JSON line each (.gz compressed)."""

    def __init__(self, path):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open_text(self.path, "wb")
        self.count = 0

    def write(self, payload: bytes) -> None:
        self._f.write(payload)
        self._f.write(b"\n")
        self.count += 1

    def close(self) -> None:
        self._f.close()

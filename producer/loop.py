"""The producer's main loop: move records from a source into a sink (and the recorder),
counting what was received, skipped, ignored, sent and sent with a warning; the command
line (cli.py) sets it up and reports.

The per-record path of _move() is the hot loop at --speed max (150,000 trades/s is the
goal): everything it uses for each record is hoisted into local variables before the
loop (no attribute or global look-ups, no extra calls per record), and the rare paths
(a full client queue, re-reading the clock, progress lines) are helpers called only when
needed. Measure a change to it with bench/bench_producer.py.
"""

from __future__ import annotations

import collections
import logging
import signal
import time
from dataclasses import dataclass

from .record import dumps, ms_to_iso
from .sources import IGNORED

log = logging.getLogger("producer")  # the command line's logger: its lines read "producer: ..."


class Counts:
    def __init__(self):
        self.received = 0  # trades and rejected messages/trades that came from the source
        self.skipped: collections.Counter = collections.Counter()
        self.ignored = 0  # control messages (subscription acks, heartbeats, ...)
        self.emitted = 0  # handed to the sink
        self.warned: collections.Counter = collections.Counter()  # sent, but suspect (e.g. far in the future)
        self.first_warned: dict[str, dict] = {}  # an example record per warning
        self.started = None
        self.stopped = None

    def seconds(self) -> float:
        """From the start of run() to the stop (0 if run() did not start)."""
        return self.stopped - (self.started or self.stopped)


class _Guard:
    """Ctrl-C/SIGTERM raise KeyboardInterrupt at once (to break out of a blocking
    websocket read or a pause), except while a record is being handed to the
    sink and recorder: then the interrupt waits until the record is counted."""

    critical = False
    pending: str | None = None


def on_stop_signal(signum, frame):
    """The handler of SIGINT and SIGTERM (the command line installs it): KeyboardInterrupt at once,
    or, while a record is being handed over, once it is counted (see _Guard)."""
    name = signal.Signals(signum).name
    if _Guard.critical:
        _Guard.pending = name
        return
    raise KeyboardInterrupt(name)


@dataclass(frozen=True)
class LoopOptions:
    """How run() moves records."""

    max_trades: int | None = None  # stop after this many records sent
    progress_every: float = 30.0  # seconds between progress lines
    poll_every: int = 256  # records between polls of the sink for acknowledgements (a power of two)
    max_ahead_s: float | None = 60.0  # warn about timestamps more than this ahead of the wall clock
    label: str = "source"  # the source in log lines


def run(source, sink, counts: Counts, options: LoopOptions = LoopOptions(), recorder=None) -> None:
    """Move records from `source` into `sink` until the end, options.max_trades, or an
    interrupt (KeyboardInterrupt, also raised on SIGTERM). The sink is polled
    for acknowledgements every `options.poll_every` records. A record whose timestamp
    is more than `options.max_ahead_s` seconds ahead of the wall clock is sent, counted
    in counts.warned and logged (the first few) with `options.label`."""
    counts.started = time.monotonic()
    it = iter(source)
    try:
        if options.max_trades != 0:
            _move(it, sink, counts, options, recorder)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing a broken websocket
                pass


def _move(it, sink, counts: Counts, options: LoopOptions, recorder) -> None:
    """run()'s loop: what it uses for each record is in local variables (the hot path at --speed max)."""
    poll_mask = max(1, options.poll_every) - 1
    guard = _Guard
    send = sink.send
    poll = sink.poll
    write = recorder.write if recorder else None
    limit = options.max_trades if options.max_trades is not None else -1
    emitted = received = 0
    next_report = counts.started + options.progress_every
    # the clock is read only when a timestamp passes the last limit: a stale limit is only stricter
    ahead_ms = int(options.max_ahead_s * 1000) if options.max_ahead_s is not None else None
    ahead_limit = int(time.time() * 1000) + ahead_ms if ahead_ms is not None else float("inf")
    try:
        for item in it:
            if type(item) is dict:
                if item["timestamp"] > ahead_limit:
                    ahead_limit = _check_ahead(counts, item, ahead_ms, options)
                payload = dumps(item)
                key = (item["base"] + "/" + item["quote"]).encode()
                guard.critical = True
                received += 1
                try:
                    send(payload, key)
                except BufferError:  # the client's queue is full: wait for acknowledgements
                    _send_when_room(sink, payload, key)
                if write is not None:
                    write(payload)
                emitted += 1
                guard.critical = False
                if guard.pending:
                    raise KeyboardInterrupt(guard.pending)
                if emitted == limit:
                    break
                if emitted & poll_mask == 0:
                    poll()
                    if time.monotonic() >= next_report:
                        next_report = _progress(received, sink, counts, options)
            elif item is IGNORED:
                counts.ignored += 1
            else:
                guard.critical = True
                received += 1
                counts.skipped[item.reason] += 1
                guard.critical = False
                if guard.pending:
                    raise KeyboardInterrupt(guard.pending)
                log.log(
                    logging.WARNING if counts.skipped[item.reason] <= 3 else logging.DEBUG,
                    "%s: skipped (%s): %s",
                    options.label,
                    item.reason,
                    item.detail,
                )
    finally:
        guard.critical = False
        counts.received = received
        counts.emitted = emitted


def _progress(received: int, sink, counts: Counts, options: LoopOptions) -> float:
    """Log the progress; returns when to log it next."""
    lost = f" (lost since with a broker restart: {sink.lost})" if sink.lost else ""
    log.info("progress: received %d, sent %d%s, skipped %d", received, sink.acked, lost, sum(counts.skipped.values()))
    return time.monotonic() + options.progress_every


def _send_when_room(sink, payload: bytes, key: bytes) -> None:
    """Send again each time the sink made room; a stop requested meanwhile fails the record."""
    while True:
        if _Guard.pending:  # stop requested while the broker does not keep up
            sink.failed += 1
            sink.errors["interrupted while the client's queue was full"] += 1
            raise KeyboardInterrupt(_Guard.pending) from None
        sink.wait_room()
        try:
            sink.send(payload, key)
            return
        except BufferError:
            pass


AHEAD = "timestamp ahead of the clock"


def _check_ahead(counts: Counts, item: dict, ahead_ms: int, options: LoopOptions) -> int:
    """The clock read again: the new limit of timestamps, now + ahead_ms. A record still beyond it
    is counted in counts.warned and logged (the first few)."""
    now_ms = int(time.time() * 1000)
    limit = now_ms + ahead_ms
    if item["timestamp"] <= limit:
        return limit
    counts.warned[AHEAD] += 1
    n = counts.warned[AHEAD]
    if n > 3:  # the summary at the end counts them all; a synthetic market at --speed max has thousands
        return limit
    if n == 1:
        counts.first_warned[AHEAD] = dict(item)
    ahead = (item["timestamp"] - now_ms) / 1000
    log.warning(
        "%s: trade %.0f s ahead of this machine's clock (timestamp %s, clock %s, more than --max-ahead %g s): "
        "sent, but a processor reading it now rejects it to bad_records: %s",
        options.label,
        ahead,
        ms_to_iso(item["timestamp"]),
        ms_to_iso(now_ms),
        options.max_ahead_s,
        dumps(item).decode(),
    )
    return limit

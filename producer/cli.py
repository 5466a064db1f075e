"""Command line and main loop of the trade producer (see producer/README.md).

python -m producer --source NAME [--url URL] [--pairs ...] [--file F]
    [--speed S] [--loop] [--rebase-time] [--seed N] [--max-trades N] [--record F]
    [--dry-run] [--bootstrap-servers HOST:PORT] [--topic trades] [--client C]
    [--log-level LEVEL]

Exit status: 0 done; 1 some deliveries failed; 2 bad usage; 3 broker unreachable.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import signal
import sys
import time

from . import SAMPLE_FILE
from .record import dumps
from .settings import load_settings
from .sink import CLIENTS, BrokerUnreachable, StdoutSink, ensure_topic, make_sink
from .sources import IGNORED, LIVE_SOURCES

log = logging.getLogger("producer")

SOURCES = tuple(LIVE_SOURCES) + ("replay", "synthetic")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKER = 0, 1, 2, 3


def _speed(text: str) -> float | None:
    if text.lower() in ("max", "inf", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--speed {text!r}: a positive number (1 = real time) or 'max'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("--speed must be positive, or 'max'")
    return value


def build_parser(cfg) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m producer",
        description="Crypto trades (live exchange websockets, a replay file or a synthetic market) "
                    "into Kafka as the lab's JSON trade records.",
    )
    p.add_argument("--source", choices=SOURCES, default=cfg.producer_source,
                   help="where trades come from (default from .env PRODUCER_SOURCE: %(default)s)")
    p.add_argument("--url", help="websocket address of a live source (default: the exchange's)")
    p.add_argument("--pairs", nargs="+", metavar="PAIR",
                   help="pairs, e.g. BTC/USDT ETH/USDT (live sources: exchange tickers; synthetic: "
                        "[exchange:]base/quote in tickers or asset ids). Commas also separate.")
    p.add_argument("--file", default=str(SAMPLE_FILE),
                   help="replay: JSON-lines file of trade records, plain or .gz (default: %(default)s)")
    p.add_argument("--speed", type=_speed, default=1.0, metavar="S",
                   help="replay/synthetic: 1 = real time, 10 = ten times faster, max = no pauses (default 1)")
    p.add_argument("--loop", action="store_true", help="replay: start over at the end of the file")
    p.add_argument("--rebase-time", action="store_true",
                   help="replay/synthetic: shift timestamps so that the stream looks live")
    p.add_argument("--seed", type=int, default=42, help="synthetic: random seed (default %(default)s)")
    p.add_argument("--start-ms", type=int, default=None,
                   help="synthetic: epoch ms of the first simulated instant (default: now)")
    p.add_argument("--max-trades", type=int, default=None, metavar="N", help="stop after N trades")
    p.add_argument("--record", metavar="FILE", help="also write every emitted record to FILE (JSON lines; .gz ok)")
    p.add_argument("--dry-run", action="store_true", help="print records to stdout instead of sending to Kafka")
    p.add_argument("--bootstrap-servers", default=cfg.kafka_bootstrap_servers, metavar="HOST:PORT",
                   help="Kafka brokers (default from .env KAFKA_BOOTSTRAP_SERVERS: %(default)s)")
    p.add_argument("--topic", default=cfg.kafka_topic, help="Kafka topic (default: %(default)s)")
    p.add_argument("--partitions", type=int, default=cfg.kafka_topic_partitions,
                   help="partitions of the topic if it is created (default: %(default)s)")
    p.add_argument("--retention-ms", type=int, default=cfg.kafka_retention_ms,
                   help="retention.ms of the topic if it is created (default: %(default)s)")
    p.add_argument("--client", choices=CLIENTS, default="kafka-python",
                   help="Kafka client library (default: %(default)s)")
    p.add_argument("--broker-timeout", type=float, default=30.0, metavar="S",
                   help="how long to wait for an unreachable broker at start (default: %(default)s s)")
    p.add_argument("--flush-timeout", type=float, default=30.0, metavar="S",
                   help="at exit, wait up to S seconds for acknowledgements; the rest count as failed "
                        "(default: %(default)s)")
    p.add_argument("--ping-interval", type=float, default=20.0, metavar="S",
                   help="live: ping after S seconds without a message (default: %(default)s)")
    p.add_argument("--ping-timeout", type=float, default=10.0, metavar="S",
                   help="live: reconnect when the ping gets no answer within S seconds (default: %(default)s)")
    p.add_argument("--backoff", type=float, default=0.5, metavar="S",
                   help="live: first reconnect delay; doubles up to 30 s, with jitter (default: %(default)s)")
    p.add_argument("--log-level", default="info", type=str.upper,
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="(default: info)")
    return p


def build_source(args):
    """The iterator of records (dicts), Skip and IGNORED items for args.source."""
    from .replay import paced, read_records

    pairs = None
    if args.pairs:
        pairs = [x for p in args.pairs for x in p.split(",") if x.strip()]
    if args.source in LIVE_SOURCES:
        cls = LIVE_SOURCES[args.source]
        if args.source == "coincap" and not args.url:
            log.warning("CoinCap retired wss://ws.coincap.io on 2025-03-31: pass --url of a compatible feed")
        return cls(args.url, pairs, ping_interval=args.ping_interval, ping_timeout=args.ping_timeout,
                   backoff_base=args.backoff)
    if args.source == "replay":
        from pathlib import Path

        if not Path(args.file).is_file():
            raise ValueError(f"replay file {args.file} not found")
        return paced(read_records(args.file, loop=args.loop), args.speed, args.rebase_time)
    if args.source == "synthetic":
        from .synthetic import generate_trades

        start = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
        trades = generate_trades(seed=args.seed, start_ms=start, pairs=pairs, count=args.max_trades)
        return paced(trades, args.speed, args.rebase_time)
    raise ValueError(f"unknown source {args.source!r}")


class Counts:
    def __init__(self):
        self.received = 0  # trades and rejected messages/trades that came from the source
        self.skipped: collections.Counter = collections.Counter()
        self.ignored = 0  # control messages (subscription acks, heartbeats, ...)
        self.emitted = 0  # handed to the sink
        self.started = None
        self.stopped = None


class _Guard:
    """Ctrl-C/SIGTERM raise KeyboardInterrupt at once (to break out of a blocking
    websocket read or a pause), except while a record is being handed to the
    sink and recorder: then the interrupt waits until the record is counted."""

    critical = False
    pending: str | None = None


def _on_signal(signum, frame):
    name = signal.Signals(signum).name
    if _Guard.critical:
        _Guard.pending = name
        return
    raise KeyboardInterrupt(name)


def run(source, sink, counts: Counts, max_trades: int | None = None, recorder=None,
        progress_every: float = 30.0, poll_every: int = 256) -> None:
    """Move records from `source` into `sink` until the end, max_trades, or an
    interrupt (KeyboardInterrupt, also raised on SIGTERM). The sink is polled
    for acknowledgements every `poll_every` records (a power of two)."""
    poll_mask = max(1, poll_every) - 1
    guard = _Guard
    send = sink.send
    poll = sink.poll
    write = recorder.write if recorder else None
    limit = max_trades if max_trades is not None else -1
    emitted = received = 0
    skipped = counts.skipped
    monotonic = time.monotonic
    counts.started = monotonic()
    next_report = counts.started + progress_every
    it = iter(source)
    try:
        if limit == 0:
            return
        for item in it:
            if type(item) is dict:
                payload = dumps(item)
                key = (item["base"] + "/" + item["quote"]).encode()
                guard.critical = True
                received += 1
                try:
                    send(payload, key)
                except BufferError:  # the client's queue is full: wait for acknowledgements
                    while True:
                        if guard.pending:  # stop requested while the broker does not keep up
                            sink.failed += 1
                            sink.errors["interrupted while the client's queue was full"] += 1
                            raise KeyboardInterrupt(guard.pending)
                        sink.wait_room()
                        try:
                            send(payload, key)
                            break
                        except BufferError:
                            pass
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
                    if monotonic() >= next_report:
                        log.info("progress: received %d, sent %d, skipped %d", received, sink.acked,
                                 sum(skipped.values()))
                        next_report = monotonic() + progress_every
            elif item is IGNORED:
                counts.ignored += 1
            else:
                guard.critical = True
                received += 1
                skipped[item.reason] += 1
                guard.critical = False
                if guard.pending:
                    raise KeyboardInterrupt(guard.pending)
                log.log(logging.WARNING if skipped[item.reason] <= 3 else logging.DEBUG,
                        "skipped (%s): %s", item.reason, item.detail)
    finally:
        guard.critical = False
        counts.received = received
        counts.emitted = emitted
        close = getattr(it, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing a broken websocket
                pass


def main(argv=None) -> int:
    try:
        cfg = load_settings()
    except ValueError as e:
        print(f"producer: {e}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser(cfg).parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(asctime)s (%(levelname).1s) %(name)s: %(message)s")
    if args.log_level != "DEBUG":  # the clients' own per-attempt logs: our summaries say it once
        for noisy in ("kafka", "producer.librdkafka", "websocket"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    try:
        source = build_source(args)
    except ValueError as e:
        log.error("%s", e)
        return EXIT_USAGE
    where = "stdout (dry run)" if args.dry_run else \
        f"Kafka topic '{args.topic}' on {args.bootstrap_servers} via {args.client}"
    what = args.url or getattr(source, "url", None) or (args.file if args.source == "replay" else "")
    log.info("source %s%s -> %s", args.source, f" ({what})" if what else "", where)

    if args.dry_run:
        sink = StdoutSink()
    else:
        try:
            ensure_topic(args.bootstrap_servers, args.topic, args.partitions, args.retention_ms,
                         timeout_s=args.broker_timeout)
            sink = make_sink(args.client, args.bootstrap_servers, args.topic)
        except BrokerUnreachable as e:
            log.error("%s", e)
            return EXIT_BROKER
        except KeyboardInterrupt:
            return EXIT_OK

    recorder = None
    if args.record:
        from .replay import Recorder

        recorder = Recorder(args.record)
    counts = Counts()
    try:
        fast = args.source in ("synthetic", "replay") and args.speed is None
        run(source, sink, counts, args.max_trades, recorder, poll_every=256 if fast else 1)
        reason = "end of input" if args.max_trades is None or counts.emitted < args.max_trades else "--max-trades"
    except KeyboardInterrupt as e:
        reason = f"interrupted ({e or 'SIGINT'})"
    except BrokenPipeError:  # e.g. `... --dry-run | head`
        reason = "stdout closed"
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the final flush finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.info("stopping: %s; flushing", reason)
    sink.close(timeout=args.flush_timeout)
    if recorder is not None:
        recorder.close()
    counts.stopped = time.monotonic()
    seconds = counts.stopped - (counts.started or counts.stopped)
    summary = {
        "received": counts.received,
        "sent": sink.acked,
        "skipped": sum(counts.skipped.values()),
        "skipped_reasons": dict(counts.skipped),
        "failed": sink.failed,
        "failed_reasons": dict(sink.errors),
        "ignored": counts.ignored,
        "seconds": round(seconds, 3),
        "per_second": round(sink.acked / seconds, 1) if seconds > 0 else None,
    }
    if recorder is not None:
        summary["recorded"] = recorder.count
    print("counts: " + json.dumps(summary), file=sys.stderr, flush=True)
    if reason == "stdout closed":  # `--dry-run | head`: the reader had enough
        return EXIT_OK
    return EXIT_FAILED if sink.failed else EXIT_OK

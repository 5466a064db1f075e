"""Command line of the trade producer: options, the phases of a run, signals, reports
(the main loop that moves the records is loop.py; see producer/README.md).

python -m producer --source NAME [--url URL] [--pairs ...] [--file F]
    [--speed S] [--loop] [--rebase-time] [--seed N] [--max-trades N] [--record F]
    [--dry-run] [--bootstrap-servers HOST:PORT] [--topic trades] [--client C]
    [--log-level LEVEL]

Exit status: 0 done; 1 some deliveries failed; 2 bad usage; 3 broker unreachable or topic not created;
4 the source failed (a truncated or corrupt replay file: what was readable is sent;
a live source that delivered nothing before the stop).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import time

from . import SAMPLE_FILE, envfile
from .loop import AHEAD, Counts, LoopOptions, on_stop_signal, run
from .rates import RatesTap, derived_rates
from .rates import with_rates as merge_rates
from .record import Rejected, dumps, epoch_ms
from .replay import Recorder, ReplayFileError, check_record_path, check_replay_file, paced, read_records
from .settings import load_settings
from .sink import CLIENTS, BrokerUnreachable, StdoutSink, ensure_topic, make_sink
from .sources import LIVE_SOURCES

log = logging.getLogger("producer")

SOURCES = tuple(LIVE_SOURCES) + ("replay", "synthetic")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKER, EXIT_SOURCE = 0, 1, 2, 3, 4


def _speed(text: str) -> float | None:
    """--speed: 'max' (None: no pauses) or a finite positive factor."""
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number: give a positive number (1 = real time, 10 = ten times faster) "
            "or 'max' (no pauses)"
        ) from None
    if value == 0:  # refused rather than read as 'max': 0 reads as "stopped", the opposite of max
        raise argparse.ArgumentTypeError(
            "0 would mean no progress at all: for no pauses between trades "
            "give 'max', for slow motion a fraction such as 0.5"
        )
    if value == math.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: for no pauses between trades give 'max'")
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number (1 = real time) or 'max' (no pauses)")
    return value


def _count(minimum: int, hint: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}: {hint}")
        return value

    return parse


def _seconds(zero_ok: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            raise argparse.ArgumentTypeError(
                f"{text!r}: give a {'non-negative' if zero_ok else 'positive'} number of seconds"
            )
        return value

    return parse


def _start_ms(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of epoch milliseconds") from None
    try:
        epoch_ms(value)
    except Rejected as e:
        raise argparse.ArgumentTypeError(
            f"epoch milliseconds between 2009 and 2286 (1735689600000 = 2025-01-01T00:00Z), got {e.detail}"
        ) from None
    return value


def _retention_ms(text: str) -> int:
    value = _count(-1, "-1 keeps records forever, else milliseconds")(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 would delete records at once: milliseconds, or -1 for forever")
    return value


# The options that take a number of seconds: (flag, 0 allowed, default, help), in --help's order.
SECONDS_OPTIONS = (
    (
        "--broker-timeout",
        True,
        30.0,
        "how long to wait for an unreachable broker at start (default: %(default)s s)",
    ),
    (
        "--flush-timeout",
        True,
        30.0,
        "at exit, wait up to S seconds for acknowledgements; the rest count as failed (default: %(default)s)",
    ),
    ("--ping-interval", False, 20.0, "live: ping after S seconds without a message (default: %(default)s)"),
    (
        "--ping-timeout",
        False,
        10.0,
        "live: reconnect when the ping gets no answer within S seconds (default: %(default)s)",
    ),
    (
        "--backoff",
        False,
        0.5,
        "live: first reconnect delay; doubles up to 30 s, with jitter (default: %(default)s)",
    ),
    (
        "--max-ahead",
        False,
        60.0,
        "warn about (and count) trades sent with a timestamp more than S seconds ahead of this "
        "machine's clock: the processor rejects those (default: %(default)s)",
    ),
)


def build_parser(cfg) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m producer",
        description="Crypto trades (live exchange websockets, a replay file or a synthetic market) "
        "into Kafka as the lab's JSON trade records.",
    )
    _add_source_options(p, cfg)
    _add_output_options(p, cfg)
    return p


def _add_source_options(p: argparse.ArgumentParser, cfg) -> None:
    """Where trades come from, how fast, how many, and --record."""
    p.add_argument(
        "--source",
        choices=SOURCES,
        default=cfg.producer_source,
        help="where trades come from (default from .env PRODUCER_SOURCE: %(default)s)",
    )
    p.add_argument("--url", help="websocket address of a live source (default: the exchange's)")
    p.add_argument(
        "--pairs",
        nargs="+",
        metavar="PAIR",
        help="pairs, e.g. BTC/USDT ETH/USDT (live sources: exchange tickers; synthetic: "
        "[exchange:]base/quote in tickers or asset ids). Commas also separate.",
    )
    p.add_argument(
        "--file",
        default=str(SAMPLE_FILE),
        help="replay: JSON-lines file of trade records, plain or .gz (default: %(default)s)",
    )
    p.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="S",
        help="replay/synthetic: 1 = real time, 10 = ten times faster, 0.5 = half speed, "
        "max = no pauses (0 is refused: say max) (default 1)",
    )
    p.add_argument("--loop", action="store_true", help="replay: start over at the end of the file")
    p.add_argument(
        "--rebase-time", action="store_true", help="replay/synthetic: shift timestamps so that the stream looks live"
    )
    p.add_argument("--seed", type=int, default=42, help="synthetic: random seed (default %(default)s)")
    p.add_argument(
        "--start-ms",
        type=_start_ms,
        default=None,
        help="synthetic: epoch ms of the first simulated instant (default: now)",
    )
    p.add_argument(
        "--max-trades",
        type=_count(0, "a number of trades to send, or leave it out for no limit"),
        default=None,
        metavar="N",
        help="stop after N trades",
    )
    p.add_argument(
        "--record",
        metavar="FILE",
        help="also write every emitted record to FILE (JSON lines; .gz ok) in an existing folder; "
        "an existing FILE is replaced",
    )


def _of_kind(kind: envfile.Kind):
    """An argparse type checking an option as its setting is checked."""

    def check(text: str):
        try:
            return kind.check(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {kind.expected}") from None

    return check


def _add_output_options(p: argparse.ArgumentParser, cfg) -> None:
    """Where records go (stdout or Kafka), the options in seconds (SECONDS_OPTIONS), the log level."""
    p.add_argument("--dry-run", action="store_true", help="print records to stdout instead of sending to Kafka")
    p.add_argument(
        "--bootstrap-servers",
        default=cfg.kafka_bootstrap_servers,
        type=_of_kind(envfile.HOST_PORTS),
        metavar="HOST:PORT",
        help="Kafka brokers (default from .env KAFKA_BOOTSTRAP_SERVERS: %(default)s)",
    )
    p.add_argument("--topic", default=cfg.kafka_topic, help="Kafka topic (default: %(default)s)")
    p.add_argument(
        "--rates-topic",
        default=cfg.kafka_rates_topic,
        type=_of_kind(envfile.TOPIC),
        help="synthetic/replay: Kafka topic of the assets' USD rates, written beside the trades "
        "(default from .env KAFKA_RATES_TOPIC: %(default)s)",
    )
    p.add_argument("--no-rates", action="store_true", help="synthetic/replay: write no rates")
    p.add_argument(
        "--partitions",
        type=_count(1, "a topic needs at least one partition"),
        default=cfg.kafka_topic_partitions,
        help="partitions of the topic if it is created (default: %(default)s)",
    )
    p.add_argument(
        "--retention-ms",
        type=_retention_ms,
        default=cfg.kafka_retention_ms,
        help="retention.ms of the topic if it is created (default: %(default)s)",
    )
    p.add_argument(
        "--client", choices=CLIENTS, default="kafka-python", help="Kafka client library (default: %(default)s)"
    )
    for flag, zero_ok, default, text in SECONDS_OPTIONS:
        p.add_argument(flag, type=_seconds(zero_ok), default=default, metavar="S", help=text)
    p.add_argument(
        "--log-level",
        default="info",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="(default: info)",
    )


def build_source(args):
    """The iterator of records (dicts), Skip and IGNORED items for args.source."""
    pairs = None
    if args.pairs:
        pairs = [x for p in args.pairs for x in p.split(",") if x.strip()]
    if args.source in LIVE_SOURCES:
        cls = LIVE_SOURCES[args.source]
        if args.source == "coincap" and not args.url:
            log.warning("CoinCap retired wss://ws.coincap.io on 2025-03-31: pass --url of a compatible feed")
        return cls(
            args.url, pairs, ping_interval=args.ping_interval, ping_timeout=args.ping_timeout, backoff_base=args.backoff
        )
    if args.source == "replay":
        check_replay_file(args.file)
        trades = paced(read_records(args.file, loop=args.loop), args.speed, args.rebase_time)
        return derived_rates(trades) if with_rates(args) else trades  # rates from the trades' (rebased) times
    if args.source == "synthetic":
        from .synthetic import generate_rates, generate_trades  # deferred: numpy (~0.25 s to import)

        start = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
        trades = generate_trades(seed=args.seed, start_ms=start, pairs=pairs, count=args.max_trades)
        if with_rates(args):  # the model's rates merged in by time: paced (and rebased) with the trades
            trades = merge_rates(trades, generate_rates(seed=args.seed, start_ms=start, pairs=pairs))
        return paced(trades, args.speed, args.rebase_time)
    raise ValueError(f"unknown source {args.source!r}")


def with_rates(args) -> bool:
    """Whether this run writes the rates topic: synthetic and replay sources into Kafka, unless --no-rates."""
    return args.source in ("synthetic", "replay") and not args.dry_run and not getattr(args, "no_rates", False)


class _Exit(Exception):
    """Ends main() before the run, with an exit status (what went wrong is already said)."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def main(argv=None) -> int:
    try:
        args = _parse_args(argv)
        _configure_logging(args.log_level)
        _catch_signals()
        source = _open_source(args)
        label = _announce(args, source)
        sink = _open_sink(args)
        recorder = _open_recorder(args, sink)
        tap = _open_rates(args, source, sink, recorder)
    except _Exit as e:
        return e.status
    counts = Counts()
    reason, replay_error = _produce(args, tap or source, sink, counts, recorder, label)
    _stop(reason, sink, recorder, counts, args.flush_timeout)
    if tap is not None:
        tap.sink.close(timeout=args.flush_timeout)
        log.info("rates: %d sent to '%s' (%d failed)", tap.sink.acked, args.rates_topic, tap.sink.failed)
    source_failed = _report_source_failure(args, source, sink, counts, replay_error, label)
    _report_ahead(args, counts)
    _report_lost(sink)
    _print_counts(counts, sink, recorder, tap)
    failed = tap is not None and (tap.sink.failed or tap.sink.lost)
    return EXIT_FAILED if failed and reason != "stdout closed" else _exit_status(reason, sink, source_failed)


def _parse_args(argv) -> argparse.Namespace:
    """The options; a bad setting in .env or the environment ends the run (exit status 2), as bad usage does."""
    try:
        cfg = load_settings()
    except ValueError as e:
        print(f"producer: {e}", file=sys.stderr)
        raise _Exit(EXIT_USAGE) from None
    parser = build_parser(cfg)
    return parser.parse_args(argv)


def _configure_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s (%(levelname).1s) %(name)s: %(message)s")
    if level != "DEBUG":  # the clients' own per-attempt logs: our summaries say it once
        for noisy in ("kafka", "producer.librdkafka", "websocket"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)


def _catch_signals() -> None:
    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)


def _open_source(args):
    """The source, and --record's path checked before anything is sent; bad values end the run (exit status 2)."""
    try:
        source = build_source(args)
        if args.record:  # before anything is sent
            check_record_path(args.record, args.file if args.source == "replay" else None)
    except ValueError as e:
        log.error("%s", e)
        raise _Exit(EXIT_USAGE) from None
    return source


def _announce(args, source) -> str:
    """Log where records come from and go; returns the source's label for the other log lines."""
    where = (
        "stdout (dry run)"
        if args.dry_run
        else f"Kafka topic '{args.topic}' on {args.bootstrap_servers} via {args.client}"
    )
    what = args.url or getattr(source, "url", None) or (args.file if args.source == "replay" else "")
    label = f"{args.source} ({what})" if what else args.source
    log.info("source %s -> %s", label, where)
    return label


def _open_sink(args):
    """stdout (--dry-run), or Kafka once the topic exists; a broker unreachable ends the run
    (exit status 3), as does a stop meanwhile (0)."""
    if args.dry_run:
        return StdoutSink()
    try:
        ensure_topic(
            args.bootstrap_servers, args.topic, args.partitions, args.retention_ms, timeout_s=args.broker_timeout
        )
        return make_sink(args.client, args.bootstrap_servers, args.topic)
    except BrokerUnreachable as e:  # TopicNotCreated too
        log.error("%s", e)
        raise _Exit(EXIT_BROKER) from None
    except KeyboardInterrupt:
        raise _Exit(EXIT_OK) from None


def _open_rates(args, source, sink, recorder):
    """The rates' own sink on --rates-topic (created like the trades' topic), tapping the source's rate records
    (producer/rates.py); None when this run writes no rates. A broker that fails here ends the run (status 3)."""
    if not with_rates(args):
        return None
    try:
        ensure_topic(
            args.bootstrap_servers, args.rates_topic, args.partitions, args.retention_ms, timeout_s=args.broker_timeout
        )
        rates_sink = make_sink(args.client, args.bootstrap_servers, args.rates_topic, noun="rate record(s)")
    except BrokerUnreachable as e:
        log.error("rates topic: %s", e)
        sink.close(timeout=args.flush_timeout)
        if recorder is not None:
            recorder.close()
        raise _Exit(EXIT_BROKER) from None
    log.info("rates -> Kafka topic '%s'", args.rates_topic)
    return RatesTap(source, rates_sink)


def _open_recorder(args, sink):
    """--record's writer (None without it); a file that cannot be written ends the run before
    anything is sent (exit status 2)."""
    if not args.record:
        return None
    try:
        return Recorder(args.record)
    except OSError as e:
        log.error("--record %s: cannot write it (%s); nothing was sent", args.record, e.strerror or e)
        sink.close(timeout=args.flush_timeout)
        raise _Exit(EXIT_USAGE) from None


def _produce(args, source, sink, counts: Counts, recorder, label: str) -> tuple[str, ReplayFileError | None]:
    """run() with the options; why it stopped, and the damage of a replay file if that stopped it.
    Then Ctrl-C and SIGTERM are ignored: they would cut the final flush."""
    replay_error = None
    try:
        fast = args.source in ("synthetic", "replay") and args.speed is None
        options = LoopOptions(
            max_trades=args.max_trades, poll_every=256 if fast else 1, max_ahead_s=args.max_ahead, label=label
        )
        run(source, sink, counts, options, recorder)
        reason = "end of input" if args.max_trades is None or counts.emitted < args.max_trades else "--max-trades"
    except KeyboardInterrupt as e:
        reason = f"interrupted ({e or 'SIGINT'})"
    except BrokenPipeError:  # e.g. `... --dry-run | head`
        reason = "stdout closed"
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except ReplayFileError as e:  # every record before the damage was sent
        reason = f"replay file {e.what}"
        replay_error = e
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the final flush finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return reason, replay_error


def _stop(reason: str, sink, recorder, counts: Counts, flush_timeout: float) -> None:
    """Say why, flush the sink, close the recording, stop the clock."""
    log.info("stopping: %s; flushing", reason)
    sink.close(timeout=flush_timeout)
    if recorder is not None:
        recorder.close()
    counts.stopped = time.monotonic()


def _report_source_failure(args, source, sink, counts: Counts, replay_error, label: str) -> bool:
    """Whether the source failed (exit status 4), said in the log: a damaged replay file,
    or a live source that delivered nothing."""
    if replay_error is not None:
        log.error(
            "%s. Sent the %d records read before it (%d skipped, %d failed); the rest of the file is "
            "missing or unreadable: copy or download the file again, or record it again",
            replay_error,
            sink.acked,
            sum(counts.skipped.values()),
            sink.failed,
        )
    if args.source in LIVE_SOURCES and source.messages == 0 and args.max_trades != 0:
        log.error(
            "%s: nothing received in %.0f s (%d connection attempts, last: %s): the exchange or the "
            "network is unreachable, or --url is wrong",
            label,
            counts.seconds(),
            source.attempts,
            source.last_error or "none",
        )
        return True
    return replay_error is not None


def _report_ahead(args, counts: Counts) -> None:
    """The count of trades sent ahead of the clock, with the likely cause."""
    if not counts.warned[AHEAD]:
        return
    hint = {
        "synthetic": "faster than real time (--speed) the market runs ahead of the clock: give --start-ms "
        "in the past, or --speed 1",
        "replay": "the file's times are ahead of the clock: --rebase-time with --speed 1 replays them as "
        "live; otherwise check the file",
    }.get(args.source, "check this machine's clock and the exchange's times")
    log.warning(
        "%d trade(s) were sent more than %g s ahead of this machine's clock (the first: %s); a processor "
        "reading them now rejects them to bad_records: %s",
        counts.warned[AHEAD],
        args.max_ahead,
        dumps(counts.first_warned[AHEAD]).decode(),
        hint,
    )


def _report_lost(sink) -> None:
    if sink.lost:
        log.warning(
            "%d of the %d trades sent (acknowledged by the broker) were lost when it restarted without them "
            "(a memory-only broker keeps nothing across a restart): the topic holds at least %d of this producer's "
            "trades (the count comes from the offsets the broker acknowledged: one that numbers a topic's offsets "
            "anew without losing its records makes it too high)",
            sink.lost,
            sink.acked,
            sink.acked - sink.lost,
        )


def _print_counts(counts: Counts, sink, recorder, tap=None) -> None:
    """The summary line on stderr: `counts: {...}` (JSON; scripts and tests read it)."""
    seconds = counts.seconds()
    summary = {
        "received": counts.received,
        "sent": sink.acked,
        "skipped": sum(counts.skipped.values()),
        "skipped_reasons": dict(counts.skipped),
        "failed": sink.failed,
        "failed_reasons": dict(sink.errors),
        "lost": sink.lost,
        "ignored": counts.ignored,
        "warned": sum(counts.warned.values()),
        "warned_reasons": dict(counts.warned),
        "seconds": round(seconds, 3),
        "per_second": round(sink.acked / seconds, 1) if seconds > 0 else None,
    }
    if recorder is not None:
        summary["recorded"] = recorder.count
    if tap is not None:  # the rates topic's: handed to its client, acknowledged, failed
        summary["rates"] = {"received": tap.sent, "sent": tap.sink.acked, "failed": tap.sink.failed}
    print("counts: " + json.dumps(summary), file=sys.stderr, flush=True)


def _exit_status(reason: str, sink, source_failed: bool) -> int:
    if reason == "stdout closed":  # `--dry-run | head`: the reader had enough
        return EXIT_OK
    if sink.failed or sink.lost:
        return EXIT_FAILED
    return EXIT_SOURCE if source_failed else EXIT_OK

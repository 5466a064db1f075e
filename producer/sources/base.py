"""The websocket loop shared by the live sources: connect, subscribe, read,
heartbeat, reconnect with exponential backoff and jitter.

An exchange adapter subclasses WebsocketSource and supplies `default_url`,
`default_pairs`, `subscribe_messages()` and `parse()`. Iterating the source
yields, per received message, each trade it carries (a record dict), a Skip for
each rejected message or trade, or IGNORED for a control message (subscription
acks, heartbeats, status).
"""

from __future__ import annotations

import logging
import random
import time

import websocket  # websocket-client

from ..assets import UsdPricer, split_symbol
from ..record import JSONDecodeError, Rejected, Skip, dumps, loads

log = logging.getLogger("producer.ws")

IGNORED = object()  # marker: a control message, not a trade


class ReconnectRequested(Exception):
    """The exchange asked us to reconnect (e.g. Bitstamp's bts:request_reconnect)."""


class SilentConnection(Exception):
    """Nothing, not even a pong, arrived within the heartbeat timeout."""


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: uniformly in [d/2, d], d = min(cap, base*2^(attempt-1))."""
    d = min(cap, base * (2 ** max(0, attempt - 1)))
    return d * (0.5 + 0.5 * rng.random())


class WebsocketSource:
    name = "?"
    default_url = ""
    default_pairs: tuple[str, ...] = ()
    backoff_max = 30.0  # cap of the reconnect delay
    connect_timeout = 10.0
    # after this many connections in a row that delivered nothing, say that the exchange or the network
    # is unreachable (the source keeps retrying: a stream outlives outages)
    unreachable_after = 5

    def __init__(
        self,
        url: str | None = None,
        pairs=None,
        *,
        ping_interval: float = 20.0,
        ping_timeout: float = 10.0,
        backoff_base: float = 0.5,
        max_reconnects: int | None = None,
        seed=None,
    ):
        self.url = url or self.default_url
        self.pairs = list(pairs) if pairs else list(self.default_pairs)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.backoff_base = backoff_base
        self.max_reconnects = max_reconnects
        self.pricer = UsdPricer()
        self.connections = 0  # successful connects, for logs and tests
        self.messages = 0  # data messages received, over all connections
        self.attempts = 0  # connection attempts, over all
        self.last_error = ""  # why the last connection attempt failed or dropped
        self._rng = random.Random(seed)

    def ticker_pairs(self) -> list[tuple[str, str]]:
        """--pairs as (BASE, QUOTE) tickers, whatever the separator ("BTC/USDT", "btc-usdt", "BTCUSDT")."""
        out = []
        for pair in self.pairs:
            parts = split_symbol(pair)
            out.append((parts[0].upper(), parts[1].upper()) if parts else (pair.upper(), ""))
        return out

    # --- to be supplied by an exchange adapter ---------------------------------
    def subscribe_messages(self) -> list:
        """JSON-able objects to send after each (re)connect."""
        return []

    def parse(self, msg) -> list:
        """Trades in one decoded message: record dicts and/or Skip; [] = control message."""
        raise NotImplementedError

    # --- shared --------------------------------------------------------------
    def handle(self, data) -> list:
        """Decode + parse one raw message (str/bytes), never raising."""
        try:
            msg = loads(data)
        except (JSONDecodeError, ValueError, TypeError) as e:
            return [Skip("malformed JSON", _in_message(str(e)[:80], data))]
        try:
            items = self.parse(msg)
        except Rejected as e:
            return [Skip(e.reason, _in_message(e.detail, data))]
        except ReconnectRequested:
            raise
        except KeyError as e:
            return [Skip("missing field", _in_message(str(e), data))]
        except (IndexError, TypeError, ValueError, AttributeError) as e:
            return [Skip("malformed message", _in_message(f"{type(e).__name__}: {e}"[:80], data))]
        for i, item in enumerate(items):
            if type(item) is dict:
                pu = self.pricer(item["base"], item["quote"], item["price"])
                if item["priceUsd"] is None:
                    item["priceUsd"] = pu
            else:  # a rejected trade among others: say which message it came from
                items[i] = Skip(item.reason, _in_message(item.detail, data))
        return items

    def __iter__(self):
        attempt = 0
        while True:
            if attempt and not self._wait_to_reconnect(attempt):
                return
            self.attempts += 1
            ws = self._connect()
            if ws is not None:
                messages = self.messages
                try:
                    yield from self._stream(ws)
                except ReconnectRequested as e:
                    log.info("%s asked to reconnect: %s", self.name, e)
                    self.last_error = f"the exchange asked to reconnect: {e}"
                except SilentConnection as e:
                    log.warning("connection to %s is silent (%s): reconnecting", self.url, e)
                    self.last_error = f"silent connection: {e}"
                except (OSError, websocket.WebSocketException) as e:
                    log.warning("connection to %s dropped: %s", self.url, e or type(e).__name__)
                    self.last_error = f"connection dropped: {e or type(e).__name__}"
                finally:
                    try:
                        ws.close(timeout=0.2)
                    except Exception:  # noqa: BLE001 - best effort on a broken socket
                        pass
                if self.messages > messages:
                    attempt = 0  # the connection worked: this drop starts the backoff afresh
            attempt += 1
            self._say_unreachable(attempt)

    def _wait_to_reconnect(self, attempt: int) -> bool:
        """Sleep the backoff delay before reconnect `attempt`; False when max_reconnects are used up."""
        if self.max_reconnects is not None and attempt > self.max_reconnects:
            log.error("giving up on %s after %d reconnect attempts", self.url, attempt - 1)
            return False
        delay = backoff_delay(attempt, self.backoff_base, self.backoff_max, self._rng)
        log.warning("reconnecting to %s: attempt %d in %.2f s", self.url, attempt, delay)
        time.sleep(delay)
        return True

    def _connect(self):
        """A new connection, or None if it cannot be opened (last_error says why)."""
        try:
            ws = websocket.create_connection(
                self.url, timeout=self.connect_timeout, skip_utf8_validation=True, enable_multithread=False
            )
        except (OSError, websocket.WebSocketException) as e:
            self.last_error = f"cannot connect: {e or type(e).__name__}"
            log.warning("cannot connect to %s: %s", self.url, e or type(e).__name__)
            return None
        self.connections += 1
        log.info("connected to %s (connection %d)", self.url, self.connections)
        return ws

    def _stream(self, ws):
        """Subscribe, then the items of each message, until the connection fails (raises)."""
        for sub in self.subscribe_messages():
            text = sub if isinstance(sub, str) else _json_text(sub)
            log.debug("subscribe: %s", text)
            ws.send(text)
        ws.settimeout(self.ping_interval)
        pinged_at = None
        while True:
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                if pinged_at is not None:
                    raise SilentConnection(
                        f"no message nor pong for {self.ping_interval + self.ping_timeout:.1f} s"
                    ) from None
                ws.ping(b"hb")
                pinged_at = time.monotonic()
                ws.settimeout(self.ping_timeout)
                continue
            if pinged_at is not None:
                pinged_at = None
                ws.settimeout(self.ping_interval)
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                self.messages += 1
                items = self.handle(data)
                if not items:
                    yield IGNORED
                else:
                    yield from items
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                raise websocket.WebSocketConnectionClosedException("closed by the server")

    def _say_unreachable(self, failures: int) -> None:
        """Once `unreachable_after` connections in a row delivered nothing, and every 20 after."""
        n = self.unreachable_after
        if n and (failures == n or (failures > n and (failures - n) % 20 == 0)):
            where = (
                "the exchange or the network is unreachable"
                if self.last_error.startswith("cannot connect")
                else "the exchange accepts connections but sends nothing"
            )
            log.error(
                "%s: %d connection attempts in a row to %s delivered nothing (last: %s): %s. "
                "Check the internet connection (a proxy, a firewall) and --url; still retrying "
                "(Ctrl-C to stop)",
                self.name,
                failures,
                self.url,
                self.last_error,
                where,
            )


def _in_message(detail: str, data) -> str:
    """The detail of a rejection with the start of the message it came from (an example for the log)."""
    text = data.decode(errors="replace") if isinstance(data, (bytes, bytearray)) else str(data)
    return f"{detail} in {text[:160]}{'...' if len(text) > 160 else ''}"


def _json_text(obj) -> str:
    return dumps(obj).decode()

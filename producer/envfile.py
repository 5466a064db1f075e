"""Settings read once and checked by name: from the process environment, then a `.env` file, then defaults.

Each setting has a kind (a port, HOST:PORT list, whole number, one of some words, a URL, ...); a value of the
wrong form, or a `.env` line that cannot be read, stops the command with one message per problem:
`FILE line N: SETTING=VALUE: expected ...` (or `environment: SETTING=VALUE: ...`). Nothing falls back to a
default without saying so. The producer uses it for its own settings, workbook/config.py for all of them (the
producer stands alone: this module imports nothing of the workbook).

The file is parsed once, with python-dotenv's own parser (`dotenv.parser.parse_stream`, the parser of
`dotenv_values`): the line numbers and malformed lines reported are exactly those of the values used, and
`${NAME}` references are expanded as `dotenv_values` and Docker Compose do (`dotenv.main.resolve_variables`).
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shlex
import sys
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """One or more settings are malformed; the message names the file and line (or the environment), the
    setting, its value and what is expected. Commands print it and exit with status 2."""


EXIT_SETTINGS = 2  # as bad usage


@dataclass(frozen=True)
class Kind:
    """What a setting's value must look like: `check(text)` returns the value or raises ValueError."""

    expected: str  # said after "expected"
    check: Callable[[str], object]


def _whole(low: int | None = None, high: int | None = None, also: tuple[int, ...] = ()) -> Callable[[str], int]:
    def check(text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise ValueError
        n = int(text)
        if n not in also and ((low is not None and n < low) or (high is not None and n > high)):
            raise ValueError
        return n

    return check


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")  # [::1]:9092
    if not sep or not host or re.search(r"[\s/@,]", host):
        raise ValueError
    return host, _whole(1, 65535)(port)


def _host_ports(text: str) -> str:
    for part in text.split(","):
        _host_port(part)
    return text.strip()


def _address(text: str) -> str:
    """HOST:PORT, or a URL with both ('http://HOST:PORT/')."""
    _host_port(urllib.parse.urlsplit(text).netloc if "://" in text else text)
    return text.strip()


def _optional(check: Callable[[str], object]) -> Callable[[str], object]:
    return lambda text: text if not text.strip() else check(text)


def _words(*allowed: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text.strip() not in allowed:
            raise ValueError
        return text.strip()

    return check


def _matching(pattern: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not re.fullmatch(pattern, text):
            raise ValueError
        return text

    return check


def _url(text: str) -> str:
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.netloc.endswith(":"):
        raise ValueError  # 'http://host:' is what an unset ${GRAFANA_PORT} leaves
    _ = parts.port  # ValueError when the port is not a number or out of range
    return text.strip()


def _shell_words(text: str) -> str:
    shlex.split(text)  # ValueError: No closing quotation
    return text


PORT = Kind("a port number, 1-65535", _whole(1, 65535))
HOST_PORTS = Kind("HOST:PORT, or several separated by commas (e.g. 127.0.0.1:29092), ports 1-65535", _host_ports)
HOST_PORT_OR_EMPTY = Kind("HOST:PORT (e.g. 127.0.0.1:8081, port 1-65535), or nothing", _optional(_address))
# ':' only in an IPv6 address (two or more): 'db:5432' is a host with a port, which belongs in the port's setting
HOST = Kind(
    "a host name or IP address (no port, no spaces)",
    _matching(r"[\w.\-\[\]%]+|[\w.\-\[\]%]*:[\w.\-:\[\]%]*:[\w.\-:\[\]%]*"),
)
URL = Kind("an http:// or https:// URL with a host (e.g. http://127.0.0.1:23000)", _url)
TEXT = Kind("some text on one line, not empty", _matching(r"[^\r\n\x00]+"))
TEXT_OR_EMPTY = Kind("some text on one line", _matching(r"[^\r\n\x00]*"))
TOPIC = Kind("a Kafka topic name: 1-249 letters, digits, '.', '_' or '-'", _matching(r"[A-Za-z0-9._-]{1,249}"))
SHELL_WORDS = Kind("options as on a command line, every quote closed", _shell_words)
PATH = Kind("a folder path, not empty", _matching(r"[^\r\n\x00]+"))


def whole(low: int | None = None, high: int | None = None, also: tuple[int, ...] = (), what: str = "") -> Kind:
    """A whole number from `low` to `high` (either open), or one of `also`; `what` says what it means."""
    span = f"{low} or more" if high is None else f"{low}-{high}" if low is not None else f"{high} or less"
    extra = "".join(f" (or {a})" for a in also) + (f": {what}" if what else "")
    return Kind(f"a whole number, {span}{extra}", _whole(low, high, also))


def one_of(*words: str) -> Kind:
    return Kind("one of " + ", ".join(words), _words(*words))


def matching(pattern: str, expected: str) -> Kind:
    return Kind(expected, _matching(pattern))


@dataclass(frozen=True)
class Line:
    """A `.env` line as read: its setting's name (None for a line that is not NAME=VALUE), value (None when
    the line has no '='), line number and text."""

    name: str | None
    value: str | None
    number: int
    text: str


def read_env_file(path: Path) -> tuple[dict[str, str], list[Line]]:
    """(values, lines) of a `.env` file: values with `${NAME}` expanded (as Compose does), every line that
    sets something or cannot be read; ({}, []) when there is no such file. SettingsError if it is unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM would otherwise stick to the first name
    except FileNotFoundError:
        return {}, []
    except UnicodeDecodeError as e:
        raise SettingsError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise SettingsError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        from dotenv.main import resolve_variables
        from dotenv.parser import parse_stream
    except ImportError:  # the producer copied alone, without python-dotenv: plain NAME=VALUE lines
        return _read_plainly(text)
    bindings = [b for b in parse_stream(io.StringIO(text)) if b.key is not None or b.error]
    lines = [Line(None if b.error else b.key, b.value, b.original.line, b.original.string) for b in bindings]
    # what dotenv_values does with the same parse: ${NAME} expanded as Compose does, the environment winning
    resolved = resolve_variables(((b.key, b.value) for b in bindings if b.key is not None), override=True)
    return {k: v for k, v in resolved.items() if v is not None}, lines


def _read_plainly(text: str) -> tuple[dict[str, str], list[Line]]:
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key, sep, value = stripped.removeprefix("export ").partition("=")
            lines.append(Line(key.strip() or None, value.strip().strip("'\"") if sep else None, number, line))
    return {ln.name: ln.value for ln in lines if ln.name and ln.value is not None}, lines


def _where(path: Path, number: int) -> str:
    return f"{path} line {number}"


def _file_problems(path: Path, lines: list[Line], known: dict[str, Kind] | None) -> tuple[list[str], list[str]]:
    """(errors, warnings) of the file's lines: malformed lines, lines without '=', unknown names (when
    `known` lists every setting), names set twice."""
    errors, warnings, seen = [], [], {}
    for ln in lines:
        first = ln.text.strip().splitlines()[0] if ln.text.strip() else ""
        if ln.name is None:
            errors.append(
                f"{_where(path, ln.number)}: {first[:80]!r}: expected NAME=VALUE (a quote left open, or a "
                "line that is not a setting: comment lines start with #)"
            )
        elif ln.value is None:
            errors.append(f"{_where(path, ln.number)}: {ln.name}: expected {ln.name}=VALUE (the line has no '=')")
        elif "\n" in ln.value:
            errors.append(
                f"{_where(path, ln.number)}: {ln.name}: the quote opened on this line closes only on line "
                f"{ln.number + ln.value.count(chr(10))}: expected the value on one line (a quote left open?)"
            )
        if ln.name is None:
            continue
        if known is not None and ln.name not in known:
            close = difflib.get_close_matches(ln.name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "see .env.example for the settings"
            warnings.append(f"{_where(path, ln.number)}: {ln.name} is not a setting of this project (ignored): {hint}")
        if ln.name in seen and ln.value is not None:
            warnings.append(
                f"{_where(path, ln.number)}: {ln.name} is set again (first on line {seen[ln.name]}): "
                f"this line's value is used"
            )
        seen[ln.name] = ln.number
    return errors, warnings


def _check(where: str, name: str, text: str, kind: Kind) -> tuple[object, str | None]:
    """(value, None) or (None, the error message)."""
    try:
        return kind.check(text), None
    except ValueError:
        return None, f"{where}: {name}={text}: expected {kind.expected}"


def _unset_references(raw: str, from_file: dict, environ) -> list[str]:
    """The `${NAME}` of a raw `.env` value (those without a `:-default`) that nothing sets: expanded to ''."""
    names = re.findall(r"\$\{(\w+)\}", raw)
    return [f"${{{n}}}" for n in dict.fromkeys(names) if n not in from_file and n not in environ]


def _line_number(message: str) -> int:
    found = re.match(r".*? line (\d+): ", message)
    return int(found.group(1)) if found else sys.maxsize


_said: set[str] = set()  # warnings already printed by this process (settings are read many times)


def load(
    spec: dict[str, tuple[str, Kind]],
    env_files: list[Path],
    all_known: bool = False,
    environ=None,
    warn=None,
    chosen: Path | None = None,
) -> dict[str, object]:
    """The settings of `spec` (name -> (default, kind)) as checked values (an int for a whole number, text
    otherwise), from `environ` (os.environ), then the first of `env_files` that exists, then the file `chosen`
    (the ports `python -m workbook up` chose, if it exists), then the defaults.
    `all_known`: `spec` lists every setting of the project, so other names in the file are warned about.
    Warnings go to `warn` (stderr), each once per process. SettingsError names every problem."""
    environ = os.environ if environ is None else environ
    path = next((p for p in env_files if p.is_file()), env_files[0] if env_files else Path(".env"))
    from_file, lines = read_env_file(path)
    errors, warnings = _file_problems(path, lines, spec if all_known else None)
    line_of = {ln.name: ln.number for ln in lines if ln.name}
    chosen_values, chosen_lines = read_env_file(chosen) if chosen else ({}, [])
    chosen_line_of = {ln.name: ln.number for ln in chosen_lines if ln.name}
    raw_of = {ln.name: ln.value for ln in lines if ln.name}
    values = {}
    for name, (default, kind) in spec.items():
        value = None
        if name in from_file and "\n" not in from_file[name]:  # checked even when the environment wins
            value, error = _check(_where(path, line_of.get(name, 0)), name, from_file[name], kind)
            unset = _unset_references(raw_of.get(name) or "", from_file, environ)
            if error and unset:  # `${GRAFANA_PORT}` left empty: say so, the expanded value alone puzzles
                error += f" ({', '.join(unset)} is set neither in {path.name} nor in the environment, so it is empty)"
            errors += [error] if error else []
        if name in environ:
            value, error = _check("environment", name, environ[name], kind)
            errors += [error] if error else []
        elif name in chosen_values and name not in from_file:  # a file the workbook writes: checked all the same
            value, error = _check(_where(chosen, chosen_line_of.get(name, 0)), name, chosen_values[name], kind)
            errors += [error] if error else []
        elif name not in from_file:
            value = kind.check(default)
        values[name] = value
    for message in warnings:
        if message not in _said:
            _said.add(message)
            (warn or (lambda m: print(f"warning: {m}", file=sys.stderr)))(message)
    if errors:  # in the file's order, the environment's last
        raise SettingsError("\n".join(sorted(dict.fromkeys(errors), key=_line_number)))
    return values


CHOSEN_PORTS = "ports.env"  # in the state folder: the ports `python -m workbook up` chose (the defaults were taken)


def chosen_ports_file(project_root: Path, env_files: list[Path], environ=None) -> Path | None:
    """The file of the ports `python -m workbook up` chose for this project (`<WORKBOOK_STATE_DIR>/ports.env`),
    read between `.env` and the defaults; None under STACK=docker and STACK=shared, whose ports are the published
    ones and the class's. The two settings that say where it is are read unchecked here: `load` checks them."""
    environ = os.environ if environ is None else environ
    path = next((p for p in env_files if p.is_file()), None)
    from_file = read_env_file(path)[0] if path else {}

    def setting(name: str, default: str) -> str:
        return (environ.get(name) or from_file.get(name) or default).strip()

    if setting("STACK", "embedded") in ("docker", "shared"):  # fixed ports: the published ones, the class's
        return None
    state = Path(setting("WORKBOOK_STATE_DIR", ".state"))
    return (state if state.is_absolute() else project_root / state) / CHOSEN_PORTS

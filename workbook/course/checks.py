"""Exercise checks' engine: the fixed check dataset, the warm session that runs a
student's query on it, the comparison with an expected result, and the CheckResult
box. The checks themselves are in the modules of CHECK_MODULES (their expected
outputs are stored: the references that compute them are not in the student release).

The dataset arrives out of order (within the watermark delay) and has
same-millisecond ties, so that open/close by arrival order is caught.
"""

from __future__ import annotations

import functools
import html
import random
from dataclasses import dataclass, field

import pandas as pd

from ..pipeline import ProcessorError, SqlFileError, sql_files
from ..pipeline.session import QueryTimeout, Session, SqlError
from .datasets import sample_trades

WINDOW_MS = 60_000
CANDLE_COLUMNS = [
    "ts_start",
    "ts_end",
    "currency_pair",
    "price_avg",
    "price_open",
    "price_min",
    "price_max",
    "price_close",
    "volume",
    "num_trades",
]
VOLUME_COLUMNS = ["ts_start", "ts_end", "currency_pair", "volume_buy", "volume_sell"]
KEY = ["ts_start", "ts_end", "currency_pair"]


class CheckFailed(AssertionError):
    """The student's query does not match the reference; the message says how."""


# --- the fixed dataset --------------------------------------------------------------------------


def check_trades(minutes: int = 8, max_disorder_ms: int = 2_000, seed: int = 7) -> list[dict]:
    """Synthetic trades in *arrival* order: event time shuffled by up to max_disorder_ms
    (less than the source's watermark delay, so no trade is late), plus same-millisecond ties,
    a window without buys, one without sells, and a pair that trades in one window only.
    Made once per process (every check uses them): a new list of new dicts each call."""
    return [dict(t) for t in _check_trades(minutes, max_disorder_ms, seed)]


@functools.lru_cache(maxsize=4)
def _check_trades(minutes: int, max_disorder_ms: int, seed: int) -> tuple:
    trades = [dict(t) for t in sample_trades(minutes=minutes)]
    rng = random.Random(seed)
    for i in range(0, len(trades) - 1, 17):  # ties: the next trade of the list gets the same timestamp
        if trades[i + 1]["base"] == trades[i]["base"] and trades[i + 1]["quote"] == trades[i]["quote"]:
            trades[i + 1]["timestamp"] = trades[i]["timestamp"]
    start = trades[0]["timestamp"] // WINDOW_MS * WINDOW_MS
    # windows without buys and without sells: a NULL instead of 0 shows there
    for (base, quote), minute, direction in ((("tether", "euro"), 2, "sell"), (("ethereum", "bitcoin"), 1, "buy")):
        for t in trades:
            if (t["base"], t["quote"]) == (base, quote) and (t["timestamp"] - start) // WINDOW_MS == minute % minutes:
                t["direction"] = direction
    # a pair in one window only (four trades, the last two in the same millisecond)
    t0 = start + min(3, minutes - 1) * WINDOW_MS + 12_345
    for dt, price, volume, direction in (
        (0, 0.3141, 1500.0, "buy"),
        (20_000, 0.3127, 800.0, "sell"),
        (41_000, 0.3135, 2500.0, "buy"),
        (41_000, 0.3152, 700.0, "buy"),
    ):
        trades.append(
            {
                "exchange": "binance",
                "base": "dogecoin",
                "quote": "tether",
                "direction": direction,
                "price": price,
                "volume": volume,
                "timestamp": t0 + dt,
                "priceUsd": None,
            }
        )
    trades.sort(key=lambda t: t["timestamp"])  # stable: the ties keep their order
    # Arrival order: sort by event time plus a random delay in [0, max_disorder_ms).
    delayed = sorted(trades, key=lambda t: t["timestamp"] + rng.randrange(max_disorder_ms))
    # Sanity: nothing arrives later than the delay allows.
    newest = 0
    for t in delayed:
        assert t["timestamp"] > newest - max_disorder_ms
        newest = max(newest, t["timestamp"])
    return tuple(delayed)


# --- comparison with feedback --------------------------------------------------------------------


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in ("ts_start", "ts_end"):
        if col in df:
            ts = pd.to_datetime(df[col])
            if ts.dt.tz is not None:
                ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
            df[col] = ts.astype("datetime64[ms]")
    return df.sort_values([c for c in KEY if c in df]).reset_index(drop=True)


def _close(a: pd.Series, b: pd.Series) -> pd.Series:
    a, b = a.astype(float), b.astype(float)
    return ((a - b).abs() <= 1e-9 * b.abs().clip(lower=1.0)) | (a.isna() & b.isna())


# --- the result of a check ----------------------------------------------------------------------


@dataclass
class CheckResult:
    """What a check found: shown as one line when it passed, as a box when not; never raises.
    `bool(result)` is whether it passed (tests and CI assert it)."""

    exercise: str
    passed: bool
    summary: str  # one line
    problems: list = field(default_factory=list)  # what is wrong, most telling first
    got: dict | None = None  # an example row of the student's result ...
    expected: dict | None = None  # ... and the reference's row for the same window and pair
    hint: str | None = None  # the name to pass to hint(...)
    hint_level: int | None = None  # suggest hint(name, level) (levels 1 to N) rather than hint(name)

    def __bool__(self) -> bool:
        return self.passed

    def _hint_call(self, name: str) -> tuple[str, str]:
        """The hint(...) call to suggest, with `name` as written there, and what follows the call:
        the range of levels when the call names a level."""
        if self.hint_level is None:
            return f'hint("{name}")', ""
        from .hints import levels

        count = len(levels(self.hint))
        return f'hint("{name}", {self.hint_level})', f" (levels 1 to {count})" if count else ""

    def text(self) -> str:
        if self.passed:
            return f"\u2705 {self.summary}"
        lines = [f"\u274c {self.summary}"] + [f"- {p}" for p in self.problems]
        if self.got is not None or self.expected is not None:
            lines.append(f"  example row, got:      {self.got}")
            lines.append(f"  example row, expected: {self.expected}")
        if self.hint:
            call, levels = self._hint_call(self.hint)
            lines.append(f"  stuck? {call}{levels}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        if self.passed:
            return f'<div style="color:#1a7f37">\u2705 {html.escape(self.summary)}</div>'
        items = "".join(
            f"<li><pre style='white-space:pre-wrap;margin:0'>{html.escape(p)}</pre></li>" for p in self.problems
        )
        rows = ""
        if self.got is not None or self.expected is not None:
            cols = list((self.expected or self.got or {}).keys())
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)

            def row(label, values):
                values = values or {}
                return (
                    f"<tr><th>{label}</th>"
                    + "".join(f"<td>{html.escape(str(values.get(c, '')))}</td>" for c in cols)
                    + "</tr>"
                )

            rows = (
                f"<p>An example row:</p><table><tr><th></th>{head}</tr>{row('got', self.got)}"
                f"{row('expected', self.expected)}</table>"
            )
        hint = ""
        if self.hint:
            call, levels = self._hint_call(html.escape(self.hint))
            hint = f"<p>Stuck? Run <code>{call}</code>{levels}.</p>"
        return (
            '<div style="border:2px solid #cf222e;border-radius:6px;padding:8px 12px;margin:4px 0">'
            f"<b>\u274c {html.escape(self.summary)}</b><ul>{items}</ul>{rows}{hint}</div>"
        )


def example_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> tuple:
    """The first (window, pair) whose row differs: (got, expected) as dicts (None where absent)."""
    if list(actual.columns) != list(expected.columns) or not set(KEY) <= set(actual.columns):
        got = actual.iloc[0].to_dict() if len(actual) else None
        return got, (expected.iloc[0].to_dict() if len(expected) else None)
    try:
        a, e = normalize(actual), normalize(expected)
    except (ValueError, TypeError):
        return (actual.iloc[0].to_dict() if len(actual) else None), expected.iloc[0].to_dict()
    keyed_a = {tuple(map(str, r[KEY])): r for _, r in a.iterrows()}
    for _, row in e.iterrows():
        mine = keyed_a.get(tuple(map(str, row[KEY])))
        if mine is None:
            return None, _plain(row)
        if not all(
            _close(pd.Series([mine[c]]), pd.Series([row[c]])).all() if c not in KEY else True for c in e.columns
        ):
            return _plain(mine), _plain(row)
    return None, None


def _plain(row) -> dict:
    return {k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in row.to_dict().items()}


# --- the checks the notebooks call ---------------------------------------------------------------

_SESSION = None


def session() -> Session:
    """The kernel's warm Flink session over the fixed datasets (created on first use)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session({"check": check_trades, "sample": sample_trades})
    return _SESSION


def answer_sql(sql: str) -> str:
    """The student's answer as SQL: a statement file's name ('41_volumes') is that file's text."""
    words = sql_files.code_of(sql).split()
    if len(words) == 1 and not sql.strip().endswith(";"):
        try:
            return sql_files.load_sql(words[0])
        except SqlFileError:
            raise SqlError(
                f"your answer is the single word {words[0]!r}, not a query: write a SELECT ... "
                "FROM valid_trades (or the name of a file of sql/)",
                sql,
                1,
                1,
            ) from None
    return sql


# Modules of workbook/course/ that hold checks of more exercises, each in a dict CHECKS
# {exercise name: function(answer, timeout_s=None) -> result with a bool() and an HTML box}.
CHECK_MODULES = ("watermarks", "checks_basics", "checks_candles", "checks_windows", "checks_dashboard")


def find_check(name: str):
    """The check function of exercise `name` (from the CHECKS of CHECK_MODULES)."""
    import importlib

    for module in CHECK_MODULES:
        found = importlib.import_module(f"{__package__}.{module}").CHECKS
        if name in found:
            return found[name]
    raise KeyError(f"no check for exercise {name!r}")


def run_check(name: str, sql: str, timeout_s: float | None = None) -> CheckResult:
    """Run exercise `name`'s check on `sql` (or the exercise's answer); a result, whatever went wrong."""
    return find_check(name)(sql, timeout_s)


def run_answer(
    name: str,
    sql: str,
    timeout_s: float | None = None,
    data: str = "check",
    changelog: bool = False,
    limit: int | None = None,
    known_errors=(),
):
    """Run the student's answer on a dataset in the kernel's session: (its result frame, None), or (None, a
    failed CheckResult saying why it did not run). `known_errors`: (words of Flink's message, summary,
    problem) triples that name the mistake behind an error. Every check runs answers through here."""

    def failed(summary: str, problems: list):
        return None, CheckResult(name, False, f"{name}: {summary}", problems, hint=name)

    try:
        cell = session().run_cell(
            answer_sql(sql if isinstance(sql, str) else ""),
            data=data,
            changelog=changelog,
            limit=limit,
            timeout_s=timeout_s,
        )
    except SqlError as exc:
        for words, summary, problem in known_errors:
            if words in exc.message:
                return failed(summary, [problem, exc.text()])
        return failed("your query did not run.", [exc.text()])
    except QueryTimeout as exc:
        return failed("your query did not finish.", [str(exc)])
    except ProcessorError as exc:
        return failed("your query did not run.", [str(exc)])
    if cell.frame is None:
        return failed(
            "there is no query (SELECT ...) to check yet.",
            ["write the query of the exercise (comments and CREATE statements alone return no rows)"],
        )
    return cell.frame, None


def check(name: str, sql: str) -> CheckResult:
    """Run the check of exercise `name` on `sql`: a CheckResult (shown as a box in a notebook)."""
    return run_check(name, sql)

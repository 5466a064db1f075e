"""Checks of the first rungs of the ladder (part L1): notebooks 02 and 03.

    stream_counts     (02, pandas)  trades and volume per pair and direction of the records read back from Kafka
    source_table      (03, DDL)     CREATE TABLE with the event-time column ts and a 5-second WATERMARK
    filter_project    (03)          the valid trades of 'bitcoin / tether' with their notional value
    changelog_counts  (03)          trades per pair without a window: an updating result (-U/+U)
    tumble_counts     (03)          trades per pair and 1-minute tumbling window

The SQL checks run the student's query in the kernel's warm session over the `basics` dataset: three
minutes of the synthetic market out of order (by up to 2 s), with a few bad records and late trades
(so that leaving out the filter of valid_trades shows). The expected results are stored in
workbook/course/expected/<name>.json, made by the instructor's references (not in the release):
`python -m workbook.course.references.basics`. Each check names the usual mistakes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from ..pipeline import SqlFileError, sql_files
from . import checks
from .checks import CheckResult

EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
BASICS = "basics"  # the dataset of the SQL checks
PROBE = "source_probe"  # the dataset of the source_table check: one pair, stragglers of known lags
PAIR = "bitcoin / tether"  # the pair of filter_project
PROBE_START_MS = 1_735_776_000_000  # 2025-01-02 00:00:00 UTC
PROBE_LAGS_MS = (300, 1_000, 2_500, 4_000, 4_999, 5_000, 5_001, 7_000, 12_000, 30_000, 49_000, 50_500, 70_000)
DELAY_MS = 5_000

# --- the datasets ----------------------------------------------------------------------------------


def injected(trades: list[dict]) -> dict[int, str]:
    """Where basics_trades puts its bad and late records: arrival index -> what is wrong."""
    n = len(trades)
    return {
        n // 8: "negative price",
        n // 4: "unknown direction",
        3 * n // 8: "volume 0",
        n // 2: "missing base",
        5 * n // 8: "late",
        3 * n // 4: "late",
        7 * n // 8: "late",
    }


def basics_records() -> list[tuple[dict, str | None]]:
    """Three minutes of the check market (arrival order, disorder up to 2 s, same-ms ties), with bad records
    and trades 12 s behind the newest one (late with a 5-second watermark) put in at fixed places: each
    record with what is wrong with it (None for a good one)."""
    trades = checks.check_trades(minutes=3)
    out = [(dict(t), None) for t in trades]
    for i, what in sorted(injected(trades).items(), reverse=True):
        base = dict(trades[i])
        newest = max(t["timestamp"] for t in trades[: i + 1])
        if what == "negative price":
            base["price"] = -base["price"]
        elif what == "unknown direction":
            base["direction"] = "hold"
        elif what == "volume 0":
            base["volume"] = 0.0
        elif what == "missing base":
            base["base"] = None
        else:  # late: a valid bitcoin / tether trade 12 s behind the newest trade read
            base.update(
                base="bitcoin",
                quote="tether",
                price=93_000.5 + i % 7,
                volume=0.5,
                timestamp=newest - 12_000,
                direction="sell",
            )
        out.insert(i + 1, (base, what))
    return out


def basics_trades() -> list[dict]:
    return [t for t, _ in basics_records()]


def probe_trades() -> list[dict]:
    """One pair, a trade a second, and after every 8th one a straggler PROBE_LAGS_MS behind the newest:
    which stragglers are late tells the watermark's delay."""
    out, newest = [], PROBE_START_MS
    lags = list(PROBE_LAGS_MS)
    for k in range(8 * len(lags) + 80):
        newest = PROBE_START_MS + 1_000 * k + 123
        out.append(
            {
                "base": "bitcoin",
                "quote": "tether",
                "direction": "buy",
                "price": 100.0 + k,
                "volume": 1.0,
                "timestamp": newest,
            }
        )
        if k % 8 == 7 and lags:
            lag = lags.pop(0)
            out.append(
                {
                    "base": "bitcoin",
                    "quote": "tether",
                    "direction": "sell",
                    "price": 1.0 * lag,
                    "volume": 2.0,
                    "timestamp": newest - lag,
                }
            )
    return out


def _session():
    session = checks.session()
    session.datasets.setdefault(BASICS, basics_trades)
    session.datasets.setdefault(PROBE, probe_trades)
    return session


def expected(name: str) -> dict:
    return json.loads((EXPECTED_DIR / f"{name}.json").read_text())


# --- shared -----------------------------------------------------------------------------------------


def _fail(name: str, problems, got=None, exp=None, summary: str | None = None) -> CheckResult:
    problems = [problems] if isinstance(problems, str) else list(problems)
    return CheckResult(name, False, summary or f"{name}: not yet.", problems, got, exp, hint=name)


def _run(
    name: str,
    sql: str,
    data: str = BASICS,
    changelog: bool = False,
    limit: int | None = None,
    timeout_s: float | None = None,
):
    """The student's query's rows, or a failed CheckResult saying why it did not run (checks.run_answer)."""
    _session()  # the basics' datasets are registered
    frame, failed = checks.run_answer(name, sql, timeout_s, data=data, changelog=changelog, limit=limit)
    return failed if failed is not None else frame


def _columns(name: str, frame: pd.DataFrame, columns: list[str], why: dict | None = None):
    got = list(frame.columns)
    if got == columns:
        return None
    missing = [c for c in columns if c not in got]
    extra = [c for c in got if c not in columns]
    problems = [
        f"columns: your result has {got}, expected {columns}"
        + (f" (missing {missing})" if missing else "")
        + (f" (unexpected {extra})" if extra else "")
        + ("" if missing or extra else " (same names, other order)")
        + ". Name each column with AS."
    ]
    for col, text in (why or {}).items():
        if col in missing or col in extra:
            problems.append(text)
    return _fail(name, problems)


def _close(a, b, rel: float = 1e-9) -> bool:
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return abs(a - b) <= rel * max(abs(b), 1.0)


def _times(series: pd.Series) -> pd.Series:
    ts = pd.to_datetime(series)
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]


def _nospace(pair) -> str:
    return str(pair).replace(" ", "").lower()


def _pair_problems(got_pairs, expected_pairs) -> list[str]:
    got_pairs, expected_pairs = set(map(str, got_pairs)), set(expected_pairs)
    if got_pairs == expected_pairs:
        return []
    if {_nospace(p) for p in got_pairs} == {_nospace(p) for p in expected_pairs}:
        return [
            f"currency_pair is written without the spaces, e.g. {sorted(got_pairs)[0]!r}: expected "
            f"'base / quote' with a space on each side of the slash, e.g. {sorted(expected_pairs)[0]!r}."
        ]
    problems = []
    if expected_pairs - got_pairs:
        problems.append(f"missing currency pairs: {sorted(expected_pairs - got_pairs)[:4]}")
    if got_pairs - expected_pairs:
        problems.append(f"unexpected currency pairs: {sorted(got_pairs - expected_pairs)[:4]}")
    return problems


def _passed(name: str, text: str) -> CheckResult:
    return CheckResult(name, True, f"{name}: correct: {text}")


# --- stream_counts (pandas) -----------------------------------------------------------------------

STREAM_COLUMNS = ["currency_pair", "direction", "trades", "volume"]


def stream_frame(answer):
    """The student's DataFrame: given as it is, or the code of the cell run on the sample's records."""
    if isinstance(answer, str):
        from .datasets import sample_trades

        namespace = {"pd": pd, "records": sample_trades()}
        exec(compile(answer, "<stream_counts>", "exec"), namespace)  # noqa: S102 (the student's own cell)
        return namespace.get("stream_counts")
    return answer


def check_stream_counts(answer, timeout_s: float | None = None) -> CheckResult:
    name = "stream_counts"
    try:
        frame = stream_frame(answer)
    except Exception as exc:  # noqa: BLE001 (the student's code: say what it raised)
        return _fail(name, f"your code raised {type(exc).__name__}: {exc}")
    if frame is None or frame is Ellipsis:
        return _fail(name, "stream_counts is not set yet: assign it a pandas DataFrame built from `records`.")
    if isinstance(frame, pd.Series):
        return _fail(
            name,
            "stream_counts is a Series: make it a DataFrame with the columns "
            f"{STREAM_COLUMNS} (name the aggregates, and .reset_index()).",
        )
    if not isinstance(frame, pd.DataFrame):
        return _fail(name, f"stream_counts is a {type(frame).__name__}, not a pandas DataFrame.")
    if any(n in STREAM_COLUMNS for n in frame.index.names if n):  # groupby without reset_index
        frame = frame.reset_index()
    exp = pd.DataFrame(expected(name)["rows"], columns=STREAM_COLUMNS)
    if (
        "direction" not in frame.columns
        and "currency_pair" in frame.columns
        and len(frame) == exp["currency_pair"].nunique()
    ):
        return _fail(
            name,
            [
                f"one row per pair ({len(frame)} rows): count per pair AND direction "
                f"(expected {len(exp)} rows, a buy and a sell row for each pair)."
            ],
        )
    bad = _columns(name, frame, STREAM_COLUMNS)
    if bad is not None:
        return bad
    problems = _pair_problems(frame["currency_pair"], set(exp["currency_pair"]))
    if problems:
        return _fail(name, problems)
    directions = set(frame["direction"].astype(str))
    if directions != {"buy", "sell"}:
        return _fail(
            name,
            f"direction has the values {sorted(directions)}: expected the records' own 'buy' and "
            "'sell' (the side of the taker).",
        )
    keys = frame[["currency_pair", "direction"]].astype(str)
    if keys.duplicated().any():
        dup = keys[keys.duplicated()].iloc[0].tolist()
        return _fail(
            name,
            f"duplicate rows: {dup} appears more than once; one row per pair and direction "
            "(group by exactly those two).",
        )
    if len(frame) != len(exp):
        return _fail(name, f"{len(frame)} rows, expected {len(exp)} (every pair has buys and sells).")
    if not pd.api.types.is_integer_dtype(frame["trades"]):
        return _fail(name, f"trades should be a whole number (a count), got type {frame['trades'].dtype}.")
    m = exp.merge(frame, on=["currency_pair", "direction"], suffixes=("", "_got"))
    swapped = exp.assign(direction=exp["direction"].map({"buy": "sell", "sell": "buy"})).merge(
        frame, on=["currency_pair", "direction"], suffixes=("", "_got")
    )
    if (swapped["trades"] == swapped["trades_got"]).all() and not (m["trades"] == m["trades_got"]).all():
        return _fail(
            name,
            "buy and sell are swapped: the 'buy' row must count the records whose direction is 'buy'.",
            _row(m, "_got"),
            _row(m, ""),
        )
    pair_totals = exp.groupby("currency_pair")["trades"].transform("sum")
    if (m["trades_got"].values == pair_totals.loc[m.index].values).all():
        return _fail(
            name,
            "trades counts every trade of the pair, buy and sell together: count per pair AND direction.",
            _row(m, "_got"),
            _row(m, ""),
        )
    wrong = m[m["trades"] != m["trades_got"]]
    if len(wrong):
        return _fail(
            name,
            f"trades: {len(wrong)} of {len(m)} rows differ (a count of the records of the pair and direction).",
            _row(wrong, "_got"),
            _row(wrong, ""),
        )
    ok = [_close(g, e, 1e-6) for g, e in zip(m["volume_got"], m["volume"], strict=True)]
    if not all(ok):
        wrong = m[[not o for o in ok]]
        r = wrong.iloc[0]
        problem = f"volume: {len(wrong)} of {len(m)} rows differ: it is the SUM of the records' volume."
        if _close(r["volume_got"], r["trades"]):
            problem += " Yours is the number of trades."
        elif _close(r["volume_got"], r["volume"] / r["trades"], 1e-6):
            problem += " Yours is the mean."
        return _fail(name, problem, _row(wrong, "_got"), _row(wrong, ""))
    return _passed(
        name, f"{len(exp)} rows ({exp['currency_pair'].nunique()} pairs x buy/sell), {int(exp['trades'].sum())} trades."
    )


def _row(m: pd.DataFrame, suffix: str) -> dict:
    r = m.iloc[0]
    return {
        "currency_pair": r["currency_pair"],
        "direction": r["direction"],
        "trades": r[f"trades{suffix}"],
        "volume": r[f"volume{suffix}"],
    }


# --- source_table (DDL) ---------------------------------------------------------------------------

_CREATE = re.compile(r"CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[\w.]+)", re.IGNORECASE)
_SCRATCH = "source_table_check"


def _probe_delay(late_by_lag: dict[int, bool]) -> str:
    late = sorted(lag for lag, is_late in late_by_lag.items() if is_late)
    on_time = sorted(lag for lag, is_late in late_by_lag.items() if not is_late)
    if not late:
        return f"more than {max(on_time) / 1000:g} s"
    low = max([lag for lag in on_time if lag < late[0]], default=0)
    return f"between {low / 1000:g} and {late[0] / 1000:g} s"


def check_source_table(sql, timeout_s: float | None = None) -> CheckResult:
    name = "source_table"
    if not isinstance(sql, str):
        return _fail(name, "the answer is the CREATE TABLE statement (SQL text).")
    creates = [t for _, t in sql_files.split_statements(sql) if _CREATE.search(sql_files.code_of(t) or "")]
    if not creates:
        return _fail(name, "there is no CREATE TABLE statement in your answer: complete the CREATE TABLE of the cell.")
    ddl = sql_files.strip_comments(creates[0])
    if not re.search(r"\bWATERMARK\b", ddl, re.IGNORECASE):
        return _fail(
            name,
            "no WATERMARK: without one, ts is a plain timestamp, not an event-time (rowtime) "
            "attribute, and windows over it cannot close. Declare WATERMARK FOR <column> AS ...",
        )
    session = _session()
    try:
        text = sql_files.as_file_source(
            _CREATE.sub(f"CREATE TEMPORARY TABLE {_SCRATCH}", ddl, count=1), str(session.dataset_file(PROBE))
        )
    except SqlFileError:
        return _fail(
            name, "cannot find the WITH (...) options of your table: keep the connector options of the skeleton."
        )
    t_env = session.env("check")
    t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {_SCRATCH}")
    try:
        t_env.execute_sql(text)
    except Exception as exc:  # noqa: BLE001 (Py4J raises plain exceptions)
        from ..pipeline.session import short_message

        message = short_message(exc)
        problems = [f"your CREATE TABLE does not run: {message}"]
        if re.search(
            r"time field|rowtime|TIMESTAMP\(3\)|TIMESTAMP_LTZ\(3\)|<BIGINT> - <INTERVAL", message, re.IGNORECASE
        ):
            problems.insert(
                0,
                "the WATERMARK must be declared on a column of type TIMESTAMP(3) or "
                "TIMESTAMP_LTZ(3) (an event time), not on the BIGINT `timestamp`: compute such a "
                "column from `timestamp` first.",
            )
        return _fail(name, problems)
    try:
        schema = t_env.from_path(_SCRATCH)._j_table.getResolvedSchema()
        specs = list(schema.getWatermarkSpecs())
        if not specs:
            return _fail(name, "no WATERMARK in the table's schema.")
        rowtime = specs[0].getRowtimeAttribute()
        wm_expr = specs[0].getWatermarkExpression().asSummaryString()
        if rowtime != "ts":
            return _fail(
                name,
                f"the event-time column is {rowtime!r}: name it ts (the views and windows of the workbook use ts).",
            )
        ts_type = str(schema.getColumn("ts").get().getDataType())
        if "TIMESTAMP" not in ts_type.upper():
            return _fail(name, f"ts has type {ts_type}: it must be a TIMESTAMP(3)/TIMESTAMP_LTZ(3).")
        # ts as text: a year beyond 9999 (seconds read as milliseconds) does not fit a Python datetime
        query = (
            f"SELECT `timestamp` AS ms, CAST(ts AS STRING) AS ts, "
            f"COALESCE(ts <= CURRENT_WATERMARK(ts), FALSE) AS late FROM {_SCRATCH}"
        )
        frame = _run(name, query, data="check", changelog=True, timeout_s=timeout_s)  # arrival order
    finally:
        t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {_SCRATCH}")
    if isinstance(frame, CheckResult):
        if any("RowTime field should not be null" in p for p in frame.problems):
            # the table is fine as DDL; reading it failed on its data: Flink's message is about the check's own
            # query, which the student never wrote, so only the explanation is shown
            return _fail(
                name,
                "ts is NULL for a trade, and an event time must never be NULL: e.g. "
                "milliseconds read as SECONDS (precision 0) are a date beyond the year 9999, "
                "which is NULL. `timestamp` counts milliseconds: precision 3.",
            )
        return frame
    exp = expected(name)
    got_ms = pd.to_datetime(frame["ts"], errors="coerce")
    exp_ms = pd.Series(exp["timestamps"])
    if len(frame) != len(exp_ms):
        return _fail(name, f"the query over your table returned {len(frame)} rows, expected {len(exp_ms)}.")
    if got_ms.isna().all():
        return _fail(
            name,
            "ts is NULL (or out of range) in every row: compute it from `timestamp`, which holds "
            "MILLISECONDS since 1970 (TO_TIMESTAMP_LTZ takes the precision: 0 for seconds, 3 for "
            "milliseconds).",
            {"timestamp": int(exp_ms[0]), "ts": str(frame["ts"].iloc[0])},
            {"timestamp": int(exp_ms[0]), "ts": str(pd.Timestamp(int(exp_ms[0]), unit="ms"))},
        )
    got = (got_ms.astype("datetime64[ms]").astype("int64")).reset_index(drop=True)
    if not (got == exp_ms).all():
        example = (
            {"timestamp": int(exp_ms[0]), "ts": str(got_ms.iloc[0])},
            {"timestamp": int(exp_ms[0]), "ts": str(pd.Timestamp(int(exp_ms[0]), unit="ms"))},
        )
        if (got == exp_ms // 1000 * 1000).all():
            return _fail(
                name, "ts loses the milliseconds: `timestamp` is in milliseconds; keep them (precision 3).", *example
            )
        if (got == exp_ms * 1000).all() or (got_ms.dt.year > 3000).all():
            return _fail(
                name,
                "ts is read as SECONDS (precision 0): `timestamp` holds milliseconds, so the precision is 3.",
                *example,
            )
        return _fail(
            name,
            "ts is not the trade's time: TO_TIMESTAMP_LTZ(`timestamp`, <precision>) of the "
            "timestamp field, in milliseconds.",
            *example,
        )
    late_by_lag = {
        lag: bool(frame["late"].iloc[i]) for lag, i in zip(exp["lags_ms"], exp["straggler_rows"], strict=True)
    }
    want = {int(k): v for k, v in exp["late_by_lag"].items()}
    if late_by_lag != want:
        got_delay = _probe_delay(late_by_lag)
        problem = (
            f"the watermark trails the newest event time by {got_delay} (judged by which trades of a "
            f"test stream come late), expected exactly 5 s: a trade 5 s or more behind the newest one "
            f"is late, one 4.999 s behind is not. Your watermark: {wm_expr}."
        )
        if all(late_by_lag.values()):
            problem = (
                f"a watermark of 0 s: every trade behind the newest one is late. Let it trail the newest "
                f"event time by 5 seconds. Your watermark: {wm_expr}."
            )
        wrong = next(lag for lag in sorted(want) if late_by_lag[lag] != want[lag])
        return _fail(
            name,
            problem,
            {"behind the newest": f"{wrong} ms", "late": late_by_lag[wrong]},
            {"behind the newest": f"{wrong} ms", "late": want[wrong]},
        )
    return _passed(name, f"ts is the event time (rowtime) and the watermark trails it by 5 s ({wm_expr}).")


# --- filter_project -------------------------------------------------------------------------------

FILTER_COLUMNS = ["ts", "direction", "price", "volume", "notional"]


def check_filter_project(sql, timeout_s: float | None = None) -> CheckResult:
    name = "filter_project"
    frame = _run(name, sql, timeout_s=timeout_s)
    if isinstance(frame, CheckResult):
        return frame
    bad = _columns(
        name,
        frame,
        FILTER_COLUMNS,
        {"notional": "notional is the value of the trade in the quote currency: price * volume, named notional."},
    )
    if bad is not None:
        return bad
    exp = expected(name)
    rows = pd.DataFrame(exp["rows"], columns=["ms", "direction", "price", "volume"])
    got = frame.copy()
    got["ts"] = _times(got["ts"])
    rows["ts"] = _times(pd.to_datetime(rows["ms"], unit="ms"))
    key = ["ts", "direction", "price", "volume"]

    def keyset(df):
        return df[key].astype(str).apply("|".join, axis=1)

    got_keys, exp_keys = keyset(got), keyset(rows)
    records = basics_records()
    every = pd.DataFrame([dict(t, problem=what) for t, what in records])
    every["pair"] = every["base"].fillna("") + " / " + every["quote"].fillna("")
    every["ts"] = _times(pd.to_datetime(every["timestamp"], unit="ms"))
    lookup = dict(zip(keyset(every), zip(every["pair"], every["problem"], strict=True), strict=True))
    extra = got_keys[~got_keys.isin(set(exp_keys))]
    if len(extra):
        found = [lookup.get(k) for k in extra]
        invalid = sorted({p for _, p in filter(None, found) if p})
        other_pairs = sorted({pair for pair, _ in filter(None, found) if pair != PAIR})
        if other_pairs and not (set(got_keys) & set(exp_keys)):
            return _fail(
                name,
                f"these are the trades of {other_pairs[:3]}, not of {PAIR!r}: filter on "
                f"currency_pair = '{PAIR}' (with the spaces).",
            )
        if other_pairs:
            return _fail(name, f"{len(extra)} rows of other pairs ({other_pairs[:3]}): keep only {PAIR!r}.")
        if invalid:
            return _fail(
                name,
                f"{len(extra)} invalid trades are included ({', '.join(invalid)}): the valid "
                "trades are those without a problem and not late, the rows of valid_trades.",
            )
        return _fail(name, f"{len(extra)} unexpected rows, e.g. {extra.iloc[0]}.")
    if got_keys.duplicated().any():
        return _fail(name, f"{int(got_keys.duplicated().sum())} duplicate rows: each trade once.")
    if len(frame) == 0:
        return _fail(name, f"no rows: the pair is written '{PAIR}' (lower case, a space each side of /).")
    missing = exp_keys[~exp_keys.isin(set(got_keys))]
    if len(missing):
        return _fail(
            name,
            f"{len(missing)} of {len(rows)} trades of {PAIR!r} are missing, e.g. one at "
            f"{rows.loc[missing.index[0], 'ts']}.",
        )
    notional = got["price"].astype(float) * got["volume"].astype(float)
    ok = [_close(g, e, 1e-9) for g, e in zip(got["notional"], notional, strict=True)]
    if not all(ok):
        r = got[[not o for o in ok]].iloc[0]
        problem = "notional is not price * volume"
        if _close(r["notional"], float(r["volume"]) ** 2):
            problem += ": yours is volume * volume"
        elif _close(r["notional"], float(r["price"]) / float(r["volume"])):
            problem += ": yours is price / volume"
        example = {k: r[k] for k in FILTER_COLUMNS}
        return _fail(name, problem + ".", example, dict(example, notional=float(r["price"]) * float(r["volume"])))
    return _passed(name, f"the {len(rows)} valid trades of {PAIR!r} with their notional value.")


# --- changelog_counts -----------------------------------------------------------------------------

COUNT_COLUMNS = ["currency_pair", "num_trades"]


def check_changelog_counts(sql, timeout_s: float | None = None) -> CheckResult:
    name = "changelog_counts"
    frame = _run(name, sql, timeout_s=timeout_s)
    if isinstance(frame, CheckResult):
        return frame
    if "window_start" in frame.columns or "window_end" in frame.columns:
        return _fail(
            name,
            "this is a windowed query: its result is append-only (one final row per window, "
            "never updated). The exercise is a GROUP BY without a window: one running count per "
            "pair, updated with every trade.",
        )
    bad = _columns(name, frame, COUNT_COLUMNS)
    if bad is not None:
        return bad
    exp = pd.DataFrame(expected(name)["rows"], columns=COUNT_COLUMNS)
    problems = _pair_problems(frame["currency_pair"], set(exp["currency_pair"]))
    if problems:
        return _fail(name, problems)
    if frame["currency_pair"].duplicated().any():
        return _fail(
            name,
            f"{len(frame)} rows for {frame['currency_pair'].nunique()} pairs: a pair appears more "
            "than once, so you group by more than the pair (e.g. the direction or a window). One "
            "row per pair: GROUP BY currency_pair only.",
        )
    m = exp.merge(frame, on="currency_pair", suffixes=("", "_got"))
    wrong = m[m["num_trades"] != m["num_trades_got"]]
    if len(wrong):
        r = wrong.iloc[0]
        return _fail(
            name,
            f"num_trades: {len(wrong)} of {len(m)} pairs differ: the number of valid trades of the "
            "pair (COUNT(*) over valid_trades; not COUNT(DISTINCT ...), which counts values).",
            {"currency_pair": r["currency_pair"], "num_trades": r["num_trades_got"]},
            {"currency_pair": r["currency_pair"], "num_trades": r["num_trades"]},
        )
    log = _run(name, sql, changelog=True, limit=200, timeout_s=timeout_s)
    if isinstance(log, CheckResult):
        return log
    kinds = set(log["op"])
    if not {"-U", "+U"} <= kinds:
        return _fail(
            name,
            f"the changelog of your query has only {sorted(kinds)}: an append-only result. A "
            "GROUP BY without a window updates its rows (-U, +U) with every trade.",
        )
    return _passed(name, f"{len(exp)} pairs; the changelog updates each count (-U/+U) with every trade.")


# --- tumble_counts --------------------------------------------------------------------------------

TUMBLE_COLUMNS = ["window_start", "window_end", "currency_pair", "num_trades"]


def check_tumble_counts(sql, timeout_s: float | None = None) -> CheckResult:
    name = "tumble_counts"
    frame = _run(name, sql, timeout_s=timeout_s)
    if isinstance(frame, CheckResult):
        return frame
    if list(frame.columns) == ["currency_pair", "num_trades"]:
        return _fail(
            name,
            "one count per pair over all time: count per pair AND 1-minute window (add "
            "window_start and window_end from the TUMBLE table function).",
        )
    bad = _columns(name, frame, TUMBLE_COLUMNS)
    if bad is not None:
        return bad
    exp = pd.DataFrame(expected(name)["rows"], columns=TUMBLE_COLUMNS)
    if not len(frame):
        return _fail(name, "no rows.")
    got = frame.copy()
    try:
        start, end = pd.to_datetime(got["window_start"]), pd.to_datetime(got["window_end"])
    except (ValueError, TypeError):
        return _fail(name, "window_start and window_end should be timestamps (those of the TUMBLE table function).")
    sizes = set((end - start).dt.total_seconds())
    if sizes != {60.0}:
        size = sorted(sizes)[0]
        return _fail(name, f"your windows last {size:g} s: they should last 1 minute (INTERVAL '1' MINUTE).")
    starts = start.sort_values().drop_duplicates()
    if len(starts) > 1 and (starts.diff().dropna().dt.total_seconds() < 60).any():
        return _fail(
            name,
            "your windows overlap (they start less than a minute apart): that is a sliding (HOP) "
            "window; each trade must count in exactly one window: TUMBLE.",
        )
    problems = _pair_problems(got["currency_pair"], set(exp["currency_pair"]))
    if problems:
        return _fail(name, problems)
    got["window_start"], got["window_end"] = _times(start), _times(end)
    exp["window_start"], exp["window_end"] = _times(exp["window_start"]), _times(exp["window_end"])
    key = ["window_start", "window_end", "currency_pair"]
    dup = got[key].astype(str).duplicated()
    if dup.any():
        return _fail(
            name,
            f"duplicate keys: {int(dup.sum())} (window, pair) appear more than once: you group by "
            "more than the window and the pair (e.g. the direction).",
        )
    if not pd.api.types.is_integer_dtype(got["num_trades"]):
        return _fail(name, f"num_trades should be a whole number (COUNT(*)), got type {got['num_trades'].dtype}.")
    m = exp.merge(got, on=key, how="outer", suffixes=("", "_got"), indicator=True)
    if (m["_merge"] != "both").any():
        missing, extra = m[m["_merge"] == "left_only"], m[m["_merge"] == "right_only"]
        return _fail(name, f"(window, pair) rows: {len(missing)} missing, {len(extra)} unexpected.")
    wrong = m[m["num_trades"] != m["num_trades_got"]]
    if len(wrong):
        r = wrong.iloc[0]
        problem = f"num_trades: {len(wrong)} of {len(m)} rows differ."
        if (wrong["num_trades_got"] < wrong["num_trades"]).all():
            problem += (
                " Yours are all too small: count every trade (COUNT(*)), not distinct values (COUNT(DISTINCT ...))."
            )
        row = {k: r[k] for k in key}
        return _fail(name, problem, dict(row, num_trades=r["num_trades_got"]), dict(row, num_trades=r["num_trades"]))
    return _passed(
        name, f"{len(exp)} rows ({exp['currency_pair'].nunique()} pairs x {exp['window_start'].nunique()} minutes)."
    )


CHECKS = {
    "stream_counts": check_stream_counts,
    "source_table": check_source_table,
    "filter_project": check_filter_project,
    "changelog_counts": check_changelog_counts,
    "tumble_counts": check_tumble_counts,
}

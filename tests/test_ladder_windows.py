"""Part L3 of the exercise ladder, notebook 08 (optional): HOP, CUMULATE and window Top-N.
Each check fails on the notebook's skeleton, passes on the solution, and names known wrong answers;
the stored expected outputs are up to date and equal what Flink computes for the solutions."""

import json

import pandas as pd
import pytest

from workbook.course import checks, checks_windows, exercises
from workbook.course.references import windows as reference
from workbook.paths import PROJECT_ROOT

pytestmark = pytest.mark.integration

NOTEBOOK = PROJECT_ROOT / "notebooks" / "08_more_windows.ipynb"
NAMES = ["hop_vwap", "cumulate_volume", "top_pairs"]
TIMEOUT_S = 180  # the first query starts the MiniCluster: slow on a busy 2-core machine

HOP = """SELECT window_start, window_end, currency_pair, {value} AS vwap
FROM TABLE({window})
GROUP BY window_start, window_end, currency_pair{extra}"""
HOP_OK = dict(
    value="SUM(price * volume) / SUM(volume)",
    extra="",
    window="HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTES)",
)

CUM = """SELECT window_start, window_end, currency_pair, SUM(volume) AS volume
FROM TABLE({window})
GROUP BY window_start, window_end, currency_pair"""

TOP = """SELECT window_start, window_end, currency_pair, volume, pair_rank FROM (
  SELECT *, {number}() OVER ({partition} ORDER BY volume {order}) AS pair_rank FROM (
    SELECT window_start, window_end, currency_pair, SUM(volume) AS volume
    FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
    GROUP BY window_start, window_end, currency_pair{extra}))
WHERE pair_rank <= {n}"""
TOP_OK = dict(number="ROW_NUMBER", partition="PARTITION BY window_start, window_end", order="DESC", extra="", n=3)


def hop(**kw):
    return HOP.format(**{**HOP_OK, **kw})


def cum(step="1' MINUTE", size="1' HOUR"):
    return CUM.format(window=f"CUMULATE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '{step}, INTERVAL '{size})")


def top(**kw):
    return TOP.format(**{**TOP_OK, **kw})


def skeletons() -> dict:
    """The exercise cells of the committed notebook (what a student starts from)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    out = {}
    for cell in cells:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and src.startswith("%%flinksql --exercise"):
            first, _, body = src.partition("\n")
            out[first.split()[2]] = body
    return out


def test_expected_outputs_are_up_to_date():
    for name, make in reference.REFERENCES.items():
        stored = checks_windows.load_expected(name)
        fresh = make()
        assert list(stored.columns) == list(fresh.columns)
        assert len(stored) == len(fresh)
        for col in stored.columns:
            if pd.api.types.is_float_dtype(fresh[col]):
                assert ((stored[col] - fresh[col]).abs() <= 1e-9 * fresh[col].abs().clip(lower=1)).all(), col
            else:
                assert (stored[col].astype(str) == fresh[col].astype(str)).all(), col


def test_registered_in_workbook_order():
    names = list(exercises.EXERCISES)
    assert names[names.index("panel_sql") + 1 : names.index("panel_sql") + 4] == NAMES
    for name in NAMES:
        ex = exercises.get(name)
        assert ex.notebook == "notebooks/08_more_windows.ipynb" and ex.solution.exists()
        assert checks.find_check(name) is checks_windows.CHECKS[name]


def test_notebook_holds_skeletons_not_solutions():
    found = skeletons()
    assert sorted(found) == sorted(NAMES)
    for name, body in found.items():
        solution = " ".join(exercises.solution(name).split())
        assert solution not in " ".join(body.split())
        assert "TODO" in body


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_and_flink_equals_the_reference(name):
    result = checks.run_check(name, exercises.solution(name), timeout_s=TIMEOUT_S)
    assert result, result.text()


@pytest.mark.parametrize("name", NAMES)
def test_skeleton_fails(name):
    result = checks.run_check(name, skeletons()[name], timeout_s=TIMEOUT_S)
    assert not result and result.hint == name


@pytest.mark.parametrize(
    "name, wrong, named",
    [
        (
            "hop_vwap",
            hop(window="HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '5' MINUTES, INTERVAL '1' MINUTE)"),
            "size and slide swapped",
        ),
        (
            "hop_vwap",
            hop(window="TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)"),
            "windows do not overlap",
        ),
        (
            "hop_vwap",
            hop(window="TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '5' MINUTES)"),
            "windows do not overlap",
        ),
        (
            "hop_vwap",
            hop(window="HOP(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES)"),
            "wrong window size",
        ),
        ("hop_vwap", hop(value="AVG(price)"), "a simple average, not the VWAP"),
        ("hop_vwap", hop(value="SUM(price * volume) / COUNT(*)"), "vwap differs"),
        ("hop_vwap", hop(extra=", direction"), "duplicate rows"),
        ("hop_vwap", hop().replace("AS vwap", "AS price_vwap"), "wrong columns"),
        (
            "cumulate_volume",
            CUM.format(window="TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE)"),
            "tumbling windows, not cumulating ones",
        ),
        (
            "cumulate_volume",
            CUM.format(window="TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' HOUR)"),
            "one window per hour, not one per step",
        ),
        ("cumulate_volume", cum(step="5' MINUTES"), "wrong step"),
        ("cumulate_volume", cum(size="30' MINUTES"), "wrong max size"),
        ("cumulate_volume", cum(size="1' DAY"), "wrong max size"),
        ("cumulate_volume", cum().replace("SUM(volume)", "SUM(price * volume)"), "volume differs"),
        ("top_pairs", top(partition=""), "ranked over all time, not per window"),
        ("top_pairs", top(partition="PARTITION BY currency_pair"), "ranked within each pair"),
        ("top_pairs", top(n=5), "more than 3 pairs per window"),
        ("top_pairs", top(order="ASC"), "the smallest first"),
        ("top_pairs", top(extra=", direction"), "duplicate rows"),
        ("top_pairs", top().replace("INTERVAL '1' MINUTE", "INTERVAL '2' MINUTES"), "wrong windows"),
    ],
)
def test_named_mistakes(name, wrong, named):
    result = checks.run_check(name, wrong, timeout_s=TIMEOUT_S)
    assert not result
    assert named in result.text(), result.text()


def test_rank_instead_of_row_number_is_named():
    """Decided: ROW_NUMBER, exactly 3 rows per window (ties broken arbitrarily); Flink's window Top-N
    rejects RANK, and the check says why."""
    result = checks.run_check("top_pairs", top(number="RANK"), timeout_s=TIMEOUT_S)
    assert not result and "RANK instead of ROW_NUMBER" in result.text()


@pytest.mark.parametrize("name", NAMES)
def test_three_hint_levels(name):
    from workbook.course import hints

    assert len(hints.levels(name)) == 3

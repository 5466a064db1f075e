"""Check of notebook 12's plan-reading exercise (advanced track):

- state_operator (Python): the name of the operator of STATE_QUERY's plan that keeps state for every key forever.

The right answer is not stored: the check asks Flink for the query's plan (EXPLAIN, nothing runs) and takes the
operators that keep state per key until a state TTL drops it (workbook.course.plans). Named mistakes: nothing set
or not a name, an operator that is not in the plan, a stateless one (a Calc, an Exchange, the watermark assigner),
the source, and a window operator, whose state is freed when the watermark passes the window's end.
"""

from __future__ import annotations

from . import plans
from .feedback import CheckResult, Wrong, cell_value, data_key, judged, passed, session

NAME = "state_operator"
# the exercise's query: the busiest minute (most buy trades) of each pair so far
STATE_QUERY = """SELECT currency_pair, MAX(num_trades) AS busiest_minute
FROM (
  SELECT currency_pair, window_start, COUNT(*) AS num_trades
  FROM TABLE(TUMBLE(TABLE valid_trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  WHERE direction = 'buy'
  GROUP BY currency_pair, window_start, window_end
)
GROUP BY currency_pair"""

_WHY = {
    "Calc": "a Calc computes columns and filters rows one at a time: it keeps no state.",
    "Exchange": "an Exchange only sends each row to the parallel task of its key (hash[...]): it keeps no state.",
    "WatermarkAssigner": "the watermark assigner keeps only the largest timestamp seen, not a row per key.",
    "TableSourceScan": "the source reads the topic: what it keeps is its Kafka offsets, not a row per key.",
}


def answer_value(answer):
    """The student's answer: a name given as it is, or what the cell's code assigns to state_operator."""
    if isinstance(answer, str) and ("=" in answer or "\n" in answer):
        try:
            return cell_value(answer, NAME)
        except Exception as exc:  # noqa: BLE001 (the student's code: say what it raised)
            raise Wrong(f"your code raised {type(exc).__name__}: {exc}", summary="your cell did not run.") from None
    return answer


def _operator(value, operators: list) -> str:
    """The operator the answer names, spelled as the plan spells it; Wrong when it names none of the plan's."""
    if value is None or value is Ellipsis:
        raise Wrong(
            'state_operator is not set yet: assign it the name of an operator of the plan, e.g. "Calc".',
            summary="no answer yet.",
        )
    if not isinstance(value, str):
        raise Wrong(
            f'state_operator is {value!r}, not a name: assign it an operator\'s name as text, e.g. "Calc".',
            summary="not a name.",
        )
    by_lower = {op.lower(): op for op in operators}
    name = value.strip().split("(")[0].strip()
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise Wrong(
        f"{value!r} is not an operator of this query's plan. Its operators, from the result down to the source: "
        f"{', '.join(dict.fromkeys(operators))}. Run EXPLAIN CHANGELOG_MODE on the query and pick one of these.",
        summary="not in the plan.",
        hint_level=1,
    )


@judged(NAME)
def check(answer, timeout_s: float | None = None) -> CheckResult:
    value = answer_value(answer)
    plan = session().plan(STATE_QUERY, data_key("check"))
    forever = plans.keeps_state_forever(plan)
    name = _operator(value, plan.operators)
    if name in forever:
        key = plans.outline(plan).splitlines()[plan.operators.index(name)].strip(" +-|")
        return passed(
            NAME,
            f"correct: {key} keeps a row of state per key and never drops it (without a state TTL): its result "
            "is updated, not final, so it cannot tell when a key is done.",
        )
    kind = plans.state_kind(name)
    if kind == "window":
        raise Wrong(
            f"{name} keeps state, but only for the windows that are open: when the watermark passes a window's end "
            "it emits the window's rows and frees its state (its changelog mode is [I]: rows that never change). "
            f"Look above it: which operator groups rows with no window at all?",
            summary="a window operator: its state is freed.",
            hint_level=2,
        )
    raise Wrong(
        _WHY.get(name, f"{name} keeps no state for every key."),
        summary="an operator that keeps no state per key.",
        hint_level=1,
    )


CHECKS = {NAME: check}

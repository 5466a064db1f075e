"""Reading Flink's plans (notebook 12): a plan's operators in a few words each, and what state each one keeps.

    outline(plan)            one line per operator: its name, key (groupBy, hash distribution, window) and changelog mode
    state_kind(operator)     "forever" (state per key kept until TTL), "window" (freed as the watermark passes),
                             "none" (no state), or None for an operator this table does not know
    keeps_state_forever(plan)  the plan's operators that keep state for every key forever

The plan is a workbook.pipeline.session.Plan (Session.plan: EXPLAIN with each operator's changelog mode).
What each kind means is Flink 2.0's: a non-windowed aggregation, a regular join, a Rank or a ChangelogNormalize
keep a row of state per key until `table.exec.state.ttl` drops it; window operators drop a window's state when the
watermark passes its end; Calc, Exchange, the source and the watermark assigner keep none.
"""

from __future__ import annotations

import re

# operators of Flink 2.0's streaming physical plans, by the state they keep
FOREVER = (
    "GroupAggregate",
    "GlobalGroupAggregate",
    "IncrementalGroupAggregate",
    "GroupTableAggregate",
    "Join",
    "Rank",
    "Deduplicate",
    "ChangelogNormalize",
    "SinkMaterializer",
    "Limit",
    "SortLimit",
)
WINDOW = (
    "WindowAggregate",
    "GlobalWindowAggregate",
    "LocalWindowAggregate",
    "GroupWindowAggregate",
    "WindowJoin",
    "WindowRank",
    "WindowDeduplicate",
    "IntervalJoin",
)
STATELESS = (
    "Calc",
    "Exchange",
    "TableSourceScan",
    "WatermarkAssigner",
    "Sink",
    "Union",
    "Correlate",
    "Values",
    "DropUpdateBefore",
    "Expand",
)
KEYS = ("groupBy", "partitionBy", "distribution", "joinType", "where", "window")
_NODE = re.compile(r"^([\s+\-:|]*)(\w+)\((.*)$")


def state_kind(operator: str) -> str | None:
    """What state `operator` (a name as the plan spells it) keeps: "forever", "window", "none", or None."""
    for kind, names in (("forever", FOREVER), ("window", WINDOW), ("none", STATELESS)):
        if operator in names:
            return kind
    return None


def keeps_state_forever(plan) -> list[str]:
    """The operators of `plan` that keep state for every key forever (without a state TTL), result first."""
    return [op for op in dict.fromkeys(plan.operators) if state_kind(op) == "forever"]


def _bracketed(text: str, start: int) -> str:
    """The text of the brackets opening at text[start] ('['), without them (nested brackets kept)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    return text[start + 1 :]


def _field(args: str, key: str) -> str | None:
    m = re.search(rf"(?<![\w$]){key}=\[", args)
    return _bracketed(args, m.end() - 1) if m else None


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def outline(plan, width: int = 60) -> str:
    """The plan as one line per operator, as EXPLAIN draws its tree: the operator, what it groups, joins or
    distributes by (a Calc's condition shortened to `width` characters), and its changelog mode."""
    lines = []
    for line in plan.text.splitlines():
        m = _NODE.match(line)
        if not m:
            continue
        indent, name, args = m.groups()
        parts = [f"{k}=[{_short(v, width)}]" for k in KEYS if k != "where" and (v := _field(args, k)) is not None]
        if name == "Calc" and _field(args, "where") is not None:
            parts.append("where=[...]")  # a filter: its condition (the workbook's checks of a trade) is long
        if name == "TableSourceScan" and (table := _field(args, "table")):
            parts.append(f"table=[{table.split(',')[2].strip(' []') if table.count(',') >= 2 else table}]")
        parts.append(f"changelogMode=[{_field(args, 'changelogMode') or '?'}]")
        lines.append(f"{indent}{name}({', '.join(parts)})")
    return "\n".join(lines)


class Outline(str):
    """An outline that a notebook shows as its lines (not as a quoted string)."""

    def __repr__(self) -> str:
        return str(self)


def explain(query: str, data: str = "check") -> Outline:
    """The outline of `query`'s plan over a dataset of the kernel's session: Flink's EXPLAIN CHANGELOG_MODE, planned
    only (nothing runs)."""
    from .feedback import data_key, session  # deferred on purpose: the kernel's Flink session starts on first use

    return Outline(outline(session().plan(query, data_key(data))))

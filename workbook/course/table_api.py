"""PyFlink's Table API in notebook 12's cells: the kernel's Flink session's environment over a fixed dataset (the
same tables and views as the SQL cells), and a plan in one line.

    t_env = table_env()                     # a TableEnvironment: valid_trades, trades, ... over the check dataset
    trades = t_env.from_path("valid_trades")
    print(plan_summary(trades.explain(ExplainDetail.CHANGELOG_MODE)))
"""

from __future__ import annotations

from ..pipeline.session import physical_plan, planned_again
from .feedback import data_key, plan_operators, session


def table_env(data: str = "check"):
    """The TableEnvironment of the kernel's session over dataset `data` ('check', 'sample'): the workbook's tables
    and views as sql/ defines them, and the CREATE statements of the %%flinksql cells run before.

    The cells then call PyFlink themselves (`.to_pandas()`, `.explain()`), without the session's retry of Flink
    2.0's "metadataHandlerProvider" (FLINK-36298: a Py4J thread of the JVM that has never planned lacks Calcite's
    metadata provider; CI's notebook run met it on its first `.to_pandas()`). So: the warm-up ends first (its
    thread's calls would give this thread a new, unplanned Py4J connection), and one small query is planned here,
    asked again on that error, so the connection the cells go on using has planned."""
    kernel = session()
    warming = kernel.warming
    if warming is not None and warming.is_alive():
        warming.join()
    t_env = kernel.env(data_key(data))
    planned_again(lambda: t_env.explain_sql("SELECT 1 AS x"))
    return t_env


def plan_summary(explained: str) -> str:
    """EXPLAIN's output (with ExplainDetail.CHANGELOG_MODE) in one line: the operators that aggregate, join or
    rank, from the result down, and the kinds of rows the result has (I: insert only; UA/UB/D: it updates)."""
    plan = physical_plan(explained)
    steps = [op for op in plan_operators(plan).split(", ") if op not in ("WatermarkAssigner", "TableSourceScan")]
    return f"{' <- '.join(steps) or 'no aggregation'}; rows: {','.join(sorted(plan.kinds))}"

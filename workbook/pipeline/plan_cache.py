"""Compiled plans: planning the SQL takes ~1.5 s of every start. The JSON plan of a statement set
(Flink's CompiledPlan, keyed by the statements' text) is written once under .state/plans/ and loaded
instead the next time, with today's end offsets. WORKBOOK_PLAN_CACHE=0 turns this off (`switches`);
a statement the JSON plans do not support, or a plan that cannot be loaded, is planned the usual way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..kafka import specific_offsets_option
from . import pyflink_internals, sql_files
from .switches import enabled

PLAN_FORMAT = 1
PLANS_KEPT = 20  # the newest ones; tests make a new one per PostgreSQL schema


def plan_path(state_dir: Path, statements, values: dict, dry_run: bool, bounded: bool):
    """Where the compiled plan of exactly these statements is cached (None: caching off)."""
    import hashlib

    if not enabled("WORKBOOK_PLAN_CACHE"):
        return None
    try:
        from pyflink.version import __version__ as flink_version
    except ImportError:
        flink_version = "?"
    texts = []
    for st in statements:
        text = sql_files.as_print_sink(st.text, st.name) if dry_run and st.is_sink else st.text
        texts.append(sql_files.render(text, values))
    key = hashlib.sha256(json.dumps([PLAN_FORMAT, flink_version, bounded, texts]).encode()).hexdigest()[:20]
    return Path(state_dir) / "plans" / f"{key}.json"


def execute_plan(t_env, path: Path, end_offsets: dict | None):
    """Run a cached plan (with today's end offsets); None if it cannot be used (it is dropped)."""
    try:
        plan = json.loads(path.read_text())
        if end_offsets is not None:
            found = False
            for node in plan.get("nodes", []):
                options = node.get("scanTableSource", {}).get("table", {}).get("resolvedTable", {}).get("options", {})
                if "scan.bounded.specific-offsets" in options:
                    options["scan.bounded.specific-offsets"] = specific_offsets_option(end_offsets)
                    found = True
            if not found:
                raise ValueError("no bounded source in the cached plan")
        compiled = pyflink_internals.load_plan(t_env, json.dumps(plan))
        return pyflink_internals.table_result(compiled.execute())
    except Exception:  # noqa: BLE001 - an unusable plan is dropped, the job is planned again
        try:
            path.unlink()
        except OSError:
            pass
        return None


def compile_and_execute(stmt_set, path: Path | None):
    """Execute the statement set; compile it to a JSON plan first and cache it when possible."""
    if path is None:
        return stmt_set.execute()
    try:
        compiled = pyflink_internals.compile_plan(stmt_set)
        text = compiled.asJsonString()
    except Exception:  # noqa: BLE001 - a statement the JSON plans do not support: plan it the usual way
        return stmt_set.execute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.touch(mode=0o600)  # the plan holds the connectors' options, the JDBC password too
        tmp.write_text(text)
        tmp.replace(path)
        for old in sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)[:-PLANS_KEPT]:
            old.unlink()
    except OSError:
        pass
    return pyflink_internals.table_result(compiled.execute())

"""PyFlink's private API is used in one module only, workbook/pipeline/pyflink_internals.py, so a
PyFlink upgrade breaks that file and no other: no other module of workbook/, producer/ or bench/
reaches a `_j_*` Java handle, imports PyFlink's gateway, Py4J or PyFlink's internals, or calls
`get_gateway`. Pure AST: no JVM."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("workbook", "producer", "bench")
THE_MODULE = ROOT / "workbook" / "pipeline" / "pyflink_internals.py"
PRIVATE_MODULES = (
    "pyflink.java_gateway",
    "pyflink.util.java_utils",
    "pyflink.pyflink_gateway_server",
    "pyflink.fn_execution",
    "py4j",
)


def _private_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in PRIVATE_MODULES)


def private_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) of every use of PyFlink's private API in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_j_"):
            found.append((node.lineno, f"the Java handle .{node.attr}"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if _private_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            # `from pyflink import java_gateway` imports the module pyflink.java_gateway
            found += [
                (node.lineno, f"from {node.module} import {a.name}")
                for a in node.names
                if _private_module(node.module) or _private_module(f"{node.module}.{a.name}")
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name == "get_gateway":
                found.append((node.lineno, "get_gateway()"))
            elif name in ("getattr", "setattr", "hasattr") and len(node.args) > 1:
                attr = node.args[1]
                if isinstance(attr, ast.Constant) and isinstance(attr.value, str) and attr.value.startswith("_j_"):
                    found.append((node.lineno, f"the Java handle {attr.value} by {name}()"))
    return found


def test_the_checker_finds_each_kind_of_use():
    source = """
import py4j.protocol
from pyflink import java_gateway
from pyflink.java_gateway import get_gateway as gw
from pyflink.util.java_utils import get_field_value
from pyflink.pyflink_gateway_server import construct_flink_classpath
from pyflink.fn_execution.beam import beam_worker_pool_service
from py4j.protocol import Py4JJavaError
schema = x._j_table.getResolvedSchema()
client = getattr(job, "_j_job_client")
jvm = java_gateway.get_gateway().jvm
"""
    found = [what for _, what in private_uses(source)]
    assert found.count("get_gateway()") == 1
    assert "the Java handle ._j_table" in found
    assert "the Java handle _j_job_client by getattr()" in found
    imports = [w for w in found if w.startswith(("import", "from"))]
    assert len(imports) == 7, imports


def test_the_checker_leaves_the_public_api_alone():
    source = """
from pyflink.table import EnvironmentSettings, TableEnvironment
from pyflink.common import Configuration
from pyflink.version import __version__
from . import pyflink_internals
t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
frame = t_env.sql_query("SELECT 1").to_pandas()
self._job_client = pyflink_internals.jvm()
"""
    assert private_uses(source) == []


def test_only_pyflink_internals_uses_the_private_api():
    bad = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == THE_MODULE:
                continue
            rel = path.relative_to(ROOT)
            bad += [f"{rel}:{line}: {what}" for line, what in private_uses(path.read_text())]
    assert not bad, "use workbook/pipeline/pyflink_internals.py instead:\n" + "\n".join(bad)

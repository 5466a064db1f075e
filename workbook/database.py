"""PostgreSQL logins for the whole workbook, in one place: a failed login becomes one message that names the
setting to fix (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, POSTGRES_HOST/POSTGRES_PORT) and what to do,
for the stack's status and the processor's check before it submits a job.

PostgreSQL answers a user that does not exist as it answers a wrong password ("password authentication
failed", so as not to tell which names exist): that message names both settings.
"""

from __future__ import annotations

from .config import Config
from .paths import PROJECT_ROOT

DDL_DIR = PROJECT_ROOT / "sql" / "postgres"  # the result tables, each file idempotent


class PostgresLoginError(RuntimeError):
    """PostgreSQL did not accept the login of the configuration; the message says which setting and what to do.
    `unreachable`: nothing answered (host, port, or the server is down), as opposed to a refused login."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


def connect(config: Config, host: str | None = None, port: int | None = None, dbname: str | None = None, timeout_s=5):
    """A psycopg2 connection with the login of the configuration (host, port and database overridable), or
    PostgresLoginError within about `timeout_s`."""
    import psycopg2  # deferred on purpose: `python -m workbook up` under STACK=docker never needs it

    kwargs = config.psycopg2_kwargs()
    kwargs.update({k: v for k, v in dict(host=host, port=port, dbname=dbname).items() if v is not None})
    try:
        return psycopg2.connect(connect_timeout=max(1, round(timeout_s)), **kwargs)
    except psycopg2.OperationalError as exc:
        raise login_error(config, f"{kwargs['host']}:{kwargs['port']}", kwargs["dbname"], str(exc)) from None


def check_login(config: Config, host=None, port=None, dbname=None, timeout_s: float = 3) -> None:
    """PostgresLoginError unless the login of the configuration is accepted."""
    connect(config, host, port, dbname, timeout_s).close()


def login_error(config: Config, address: str, dbname: str, text: str) -> PostgresLoginError:
    """psycopg2's text of a failed login as the message that names the setting to fix."""
    text = " ".join(text.split())
    user = config.postgres_user
    if "password authentication failed" in text:
        return PostgresLoginError(
            f"PostgreSQL at {address} rejected user {user!r} with the password from .env: POSTGRES_PASSWORD (or "
            f"the user name, POSTGRES_USER) differs from the one {_kept_by(config)}"
        )
    if f'role "{user}" does not exist' in text:  # trust or peer authentication names the missing role
        return PostgresLoginError(
            f"PostgreSQL at {address} has no user {user!r} (POSTGRES_USER): it differs from the one {_kept_by(config)}"
        )
    if f'database "{dbname}" does not exist' in text:
        create = {
            "embedded": "`python -m workbook up` creates it",
            "shared": "the class's database is the instructor's: ask them for its name",
        }.get(
            config.stack,
            "the Docker stack creates it only with a new data volume (`docker compose down -v`, all results)",
        )
        return PostgresLoginError(
            f"PostgreSQL at {address} has no database {dbname!r} (POSTGRES_DB): {create}, or set POSTGRES_DB in "
            ".env back to the database that holds your results"
        )
    if "timeout expired" in text or "Connection refused" in text or "could not" in text:
        return PostgresLoginError(
            f"PostgreSQL at {address} is unreachable ({_reason(text)}): "
            + (
                "the class's database is the instructor's: check POSTGRES_HOST/POSTGRES_PORT in .env, or ask them"
                if config.stack == "shared"
                else "start it with `python -m workbook up` (`python -m workbook status` says what runs), or set "
                "POSTGRES_HOST/POSTGRES_PORT in .env to where it runs"
            ),
            unreachable=True,
        )
    return PostgresLoginError(f"PostgreSQL at {address} refused the login of user {user!r}: {text[:300]}")


def _kept_by(config: Config) -> str:
    if config.stack == "shared":
        return "the class's database has: ask the instructor for the class's login"
    if config.stack == "embedded":
        return (
            "the embedded database was created with (it keeps those of its first `python -m workbook up`). Put "
            "them back in .env, or delete the embedded database (all results) with `python -m workbook down "
            "--wipe-db`, then `python -m workbook up`"
        )
    return (
        "the Docker database was created with (it keeps those of its first start). Put them back in .env, or "
        "delete its data volume (all results) with `docker compose down -v`"
    )


def _reason(text: str) -> str:
    if "Connection refused" in text:
        return "connection refused"
    if "timeout expired" in text:
        return "no answer in time"
    return text.removeprefix("connection to server at ")[:200]


def apply_ddl(conn, ddl_dir=DDL_DIR, schema: str | None = None) -> list[str]:
    """Run sql/postgres/*.sql in name order (each is idempotent), in `schema` if given (created if missing; public
    stays on the search path after it, for TimescaleDB's functions); closes conn and returns the file names."""
    from psycopg2 import sql

    done = []
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            if schema:
                cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                cur.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
            for path in sorted(ddl_dir.glob("*.sql")):
                cur.execute(path.read_text())
                done.append(path.name)
    finally:
        conn.close()
    return done


def prepare_schema(config: Config) -> None:
    """Shared-cluster mode (STUDENT_ID): the student's schema and its result tables, created if missing (a shared
    PostgreSQL has no `python -m workbook up` of this student to create them). PostgresLoginError when the login is
    refused or the DDL fails (a missing privilege says which GRANT the class's database needs)."""
    import psycopg2

    try:
        apply_ddl(connect(config), schema=config.schema)
    except psycopg2.Error as exc:
        where = f"PostgreSQL at {config.postgres_host}:{config.postgres_port}, database {config.postgres_db!r}"
        text = " ".join(str(exc).split())
        if exc.pgcode == "42501":  # insufficient_privilege
            raise PostgresLoginError(
                f"{where} did not let user {config.postgres_user!r} create the schema {config.schema!r} (STUDENT_ID) "
                f"and its tables: {text} (the class's database needs GRANT CREATE ON DATABASE for the students' "
                "login, docs/classroom.md)"
            ) from None
        raise PostgresLoginError(
            f"{where}: the schema {config.schema!r} (STUDENT_ID) and its tables (sql/postgres/) could not be "
            f"created: {text}"
        ) from None


def table_reads(config: Config, table: str, settle_s: float = 3.0) -> int:
    """How many times PostgreSQL has read `table` (its sequential and index scans, pg_stat_user_tables) since its
    statistics began: each lookup of a lookup join without a cache hit is one (notebook 11). A backend reports
    its reads when its transaction ends, at the latest when it closes: read until the count stays the same for
    0.2 s (at most `settle_s`)."""
    import time

    query = (
        "SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_user_tables WHERE relid = to_regclass(%s)"
    )
    conn = connect(config)
    try:
        conn.autocommit = True  # each read sees the statistics as they are then, not a snapshot
        with conn.cursor() as cur:
            last, deadline = None, time.monotonic() + settle_s
            while True:
                cur.execute(query, (table,))
                row = cur.fetchone()
                if row is None:
                    raise ValueError(f"PostgreSQL has no table {table!r} (sql/postgres/ creates the workbook's)")
                if row[0] == last or time.monotonic() > deadline:
                    return int(row[0])
                last = row[0]
                time.sleep(0.2)
    finally:
        conn.close()

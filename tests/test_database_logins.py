"""A refused PostgreSQL login names the setting to fix: the messages for what the processor's and status's tests
against the real server cannot produce (a server with trust or peer authentication names a missing role; a host
name that does not resolve). The real server's refusals: tests/test_processor_outages.py."""

import pytest

from workbook import database
from workbook.config import load_config


def test_a_missing_role_names_postgres_user(tmp_path):
    config = load_config(env_file=tmp_path / "none", postgres_user="nobody")
    text = 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "nobody" does not exist\n'
    error = database.login_error(config, "127.0.0.1:5432", "db", text)
    assert "has no user 'nobody' (POSTGRES_USER)" in str(error) and "down --wipe-db" in str(error)
    assert not error.unreachable


def test_a_host_that_does_not_resolve_names_postgres_host(tmp_path):
    config = load_config(env_file=tmp_path / "none", postgres_host="nohost.invalid")
    with pytest.raises(database.PostgresLoginError) as caught:
        database.check_login(config, timeout_s=1)
    error = caught.value
    assert error.unreachable
    assert "PostgreSQL at nohost.invalid:" in str(error) and "POSTGRES_HOST/POSTGRES_PORT" in str(error), error

"""The embedded stack's errors say what happened and what to do."""

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from workbook.config import PROJECT_ROOT, load_config
from workbook.stack.broker import Broker
from workbook.stack.ports import PortInUse
from workbook.stack.postgres import Postgres
from workbook.stack.services import ServiceError


def scratch_config(tmp_path, **overrides):
    return load_config(env_file=tmp_path / "none", workbook_state_dir=str(tmp_path / "state"), **overrides)


def test_broker_port_in_use_names_port_and_holder(tmp_path, held_port):
    cfg = scratch_config(tmp_path, kafka_bootstrap_servers=f"127.0.0.1:{held_port}")
    with pytest.raises(PortInUse) as err:
        Broker(cfg).start()
    msg = str(err.value)
    assert f"port {held_port} on 127.0.0.1 is already in use by pid {os.getpid()}" in msg
    assert "KAFKA_BOOTSTRAP_SERVERS" in msg
    assert Broker(cfg).pid() is None  # nothing half-started left behind


def test_postgres_port_in_use(tmp_path, held_port):
    cfg = scratch_config(tmp_path, postgres_port=str(held_port))
    with pytest.raises(PortInUse, match=f"port {held_port} .* POSTGRES_PORT"):
        Postgres(cfg).start()


@pytest.mark.integration  # starts PostgreSQL (not the stack's)
def test_service_dying_on_start_shows_its_log(tmp_path_factory):
    """A data directory of another PostgreSQL major version: the server exits at once."""
    # Under the project's state folder: pytest's own tmp folders are closed to the
    # non-root PostgreSQL user (that error has its own message, checked below).
    tmp_path = Path(tempfile.mkdtemp(dir=PROJECT_ROOT / ".state"))
    tmp_path.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    cfg = scratch_config(tmp_path, postgres_port=str(free_port))
    pg = Postgres(cfg)
    pg.data_dir.mkdir(parents=True)
    (pg.data_dir / "PG_VERSION").write_text("9\n")
    if os.geteuid() == 0:
        import pwd

        from workbook.stack.postgres import system_user

        ids = pwd.getpwnam(system_user())
        os.chown(tmp_path / "state", ids.pw_uid, ids.pw_gid)
        os.chown(pg.data_dir, ids.pw_uid, ids.pw_gid)
    try:
        with pytest.raises(ServiceError) as err:
            pg.start()
    finally:
        pg.stop()
        shutil.rmtree(tmp_path)
    msg = str(err.value)
    assert "did not start listening" in msg
    assert "Last lines of" in msg and "postgres.log" in msg
    assert "postgresql.conf" in msg  # the server's own complaint, from its log
    assert pg.pid() is None


@pytest.mark.skipif(os.geteuid() != 0, reason="the non-root PostgreSQL user exists only when running as root")
def test_closed_parent_folder_is_named(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    cfg = load_config(env_file=tmp_path / "none", workbook_state_dir=str(closed / "state"), postgres_port="1")
    with pytest.raises(ServiceError, match=r"does not let other users pass .*chmod o\+x"):
        Postgres(cfg).start()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("--speed fast", "argument --speed: 'fast' is not a number"),
        ("--sped 1", "unrecognized arguments: --sped 1"),
    ],
)
def test_producer_options_it_refuses_name_producer_args(tmp_path, args, says):
    """PRODUCER_ARGS the producer refuses: `up --stream` said 'stream exited right after starting' and the
    producer's 20-line usage text; it names the setting to fix and the producer's one-line reason."""
    from workbook.stack.stream import Stream

    cfg = scratch_config(tmp_path, producer_args=args, kafka_bootstrap_servers="127.0.0.1:1")
    with pytest.raises(ServiceError) as err:
        Stream(cfg).start()
    msg = str(err.value)
    assert msg.startswith(f"stream: python -m producer refused its options: {says}"), msg
    assert f"PRODUCER_ARGS={args} (.env, or the environment): fix them" in msg and "usage:" not in msg, msg
    assert Stream(cfg).pid() is None

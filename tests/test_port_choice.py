"""Ports on a shared machine: a default port held by another process is replaced by a free one at `up`,
remembered in the state folder's ports.env, read by every command between .env and the defaults."""

import os
import pwd
import socket

import pytest

from producer.settings import load_settings
from workbook.config import load_config
from workbook.stack import port_choice
from workbook.stack.broker import Broker
from workbook.stack.flink_cluster import FlinkCluster
from workbook.stack.ports import listener_user
from workbook.stack.postgres import Postgres

PORT_SETTINGS = ("KAFKA_BOOTSTRAP_SERVERS", "POSTGRES_PORT", "FLINK_REST_PORT", "FLINK_RPC_PORT", "STACK")


@pytest.fixture(autouse=True)
def _no_port_settings_in_the_environment(monkeypatch):
    for name in PORT_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def project(tmp_path, env_lines="", ports_lines=None):
    """A .env naming a state folder of the test's own, and that folder's ports.env (if given)."""
    state = tmp_path / "state"
    state.mkdir()
    env = tmp_path / ".env"
    env.write_text(f"WORKBOOK_STATE_DIR={state}\n{env_lines}")
    if ports_lines is not None:
        (state / "ports.env").write_text(ports_lines)
    return env, state


def test_chosen_ports_come_between_env_file_and_defaults(tmp_path, monkeypatch):
    env, _ = project(
        tmp_path,
        "POSTGRES_PORT=5000\n",
        "# chosen\nPOSTGRES_PORT=6000\nKAFKA_BOOTSTRAP_SERVERS=127.0.0.1:30000\nFLINK_RPC_PORT=7000\n",
    )
    monkeypatch.setenv("FLINK_RPC_PORT", "7100")
    cfg = load_config(env_file=env)
    assert cfg.postgres_port == 5000  # .env wins
    assert cfg.kafka_bootstrap_servers == "127.0.0.1:30000"  # chosen
    assert cfg.flink_rpc_port == 7100  # the environment wins
    assert cfg.flink_rest_port == 8081  # the default
    assert load_settings(env).kafka_bootstrap_servers == "127.0.0.1:30000"  # the producer reads it too


def test_a_bad_line_of_ports_env_stops_with_its_file_and_line(tmp_path):
    env, state = project(tmp_path, ports_lines="# chosen\nPOSTGRES_PORT=abc\n")
    with pytest.raises(ValueError) as err:
        load_config(env_file=env)
    assert str(err.value) == f"{state / 'ports.env'} line 2: POSTGRES_PORT=abc: expected a port number, 1-65535"


def test_the_docker_stack_ignores_ports_env(tmp_path):
    env, _ = project(tmp_path, "STACK=docker\n", "POSTGRES_PORT=6000\n")
    assert load_config(env_file=env).postgres_port == 25432


def test_a_held_default_is_replaced_by_a_free_port_said_and_remembered(tmp_path, held_port):
    env, state = project(tmp_path, ports_lines="# chosen\nFLINK_RPC_PORT=7001\n")
    cfg = load_config(env_file=env, postgres_port=str(held_port))
    said = []
    chosen = port_choice.choose(cfg, [Postgres(cfg)], said.append, given=set())
    new = chosen.postgres_port
    assert new != held_port and new > held_port
    me = pwd.getpwuid(os.getuid()).pw_name
    assert said == [f"POSTGRES_PORT {held_port} is used by pid {os.getpid()}, user {me} ({said[0].split(' (', 1)[1]}"]
    assert said[0].endswith(
        f"this project's PostgreSQL gets port {new} (remembered in {state / 'ports.env'}; "
        "set POSTGRES_PORT in .env to choose)"
    )
    again = load_config(env_file=env)  # what every later command reads
    assert (again.postgres_port, again.flink_rpc_port) == (new, 7001)  # the other chosen port is kept


def test_a_port_of_env_is_never_changed(tmp_path, held_port):
    env, state = project(tmp_path)
    cfg = load_config(env_file=env, kafka_bootstrap_servers=f"127.0.0.1:{held_port}")
    said = []
    assert port_choice.choose(cfg, [Broker(cfg)], said.append, given={"KAFKA_BOOTSTRAP_SERVERS"}) == cfg
    assert said == [] and not (state / "ports.env").exists()


def test_free_defaults_are_kept_and_nothing_is_written(tmp_path):
    env, state = project(tmp_path)
    scratch = [socket.socket(), socket.socket()]
    for s in scratch:
        s.bind(("127.0.0.1", 0))
    rest, rpc = (s.getsockname()[1] for s in scratch)
    for s in scratch:
        s.close()
    cfg = load_config(env_file=env, flink_rest_port=str(rest), flink_rpc_port=str(rpc))
    said = []
    assert port_choice.choose(cfg, [FlinkCluster(cfg)], said.append, given=set()) == cfg
    assert said == [] and not (state / "ports.env").exists()


def test_the_holder_of_a_port_is_named_with_its_user(held_port):
    assert listener_user(held_port) == pwd.getpwuid(os.getuid()).pw_name


def test_the_flink_clusters_rest_and_rpc_ports_are_both_chosen(tmp_path):
    env, state = project(tmp_path)
    held = [socket.socket(), socket.socket()]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
            s.listen()
        rest, rpc = (s.getsockname()[1] for s in held)
        cfg = load_config(env_file=env, flink_rest_port=str(rest), flink_rpc_port=str(rpc))
        said = []
        chosen = port_choice.choose(cfg, [FlinkCluster(cfg)], said.append, given=set())
    finally:
        for s in held:
            s.close()
    assert [m.split(" is used by")[0] for m in said] == [f"FLINK_REST_PORT {rest}", f"FLINK_RPC_PORT {rpc}"]
    assert chosen.flink_rest_port not in (rest, rpc) and chosen.flink_rpc_port not in (rest, rpc)
    assert chosen.flink_rest_port != chosen.flink_rpc_port
    assert chosen.jobmanager_address == f"127.0.0.1:{chosen.flink_rest_port}"  # where the processor submits
    again = load_config(env_file=env)
    assert (again.flink_rest_port, again.flink_rpc_port) == (chosen.flink_rest_port, chosen.flink_rpc_port)

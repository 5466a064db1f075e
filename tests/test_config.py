import pytest

from workbook.config import load_config


def test_defaults_are_the_original_labs(tmp_path, monkeypatch):
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "STACK",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBOOK_STATE_DIR", str(tmp_path))  # no ports.env: a running stack's chosen ports differ
    cfg = load_config(env_file=tmp_path / "missing.env")
    assert cfg.kafka_bootstrap_servers == "127.0.0.1:29092"
    assert (cfg.postgres_host, cfg.postgres_port, cfg.postgres_db) == ("127.0.0.1", 25432, "db")
    assert (cfg.postgres_user, cfg.postgres_password) == ("user", "user")
    assert cfg.jdbc_url == "jdbc:postgresql://127.0.0.1:25432/db"
    assert cfg.stack == "embedded"


def test_env_file_then_environment_override(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PORT=15432\nPOSTGRES_PASSWORD='s3cr#t'\nKAFKA_TOPIC=other\n")
    monkeypatch.delenv("POSTGRES_PORT", raising=False)
    monkeypatch.delenv("POSTGRES_PASSWORD", raising=False)
    monkeypatch.setenv("KAFKA_TOPIC", "from-environment")
    cfg = load_config(env_file=env)
    assert cfg.postgres_port == 15432
    assert cfg.postgres_password == "s3cr#t"
    assert cfg.kafka_topic == "from-environment"
    assert cfg.postgres_url.endswith("user:s3cr%23t@127.0.0.1:15432/db")


def test_bad_values_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "fifty")
    with pytest.raises(ValueError, match="environment: POSTGRES_PORT=fifty: expected a port number"):
        load_config(env_file=tmp_path / "none")
    monkeypatch.delenv("POSTGRES_PORT")
    monkeypatch.setenv("STACK", "kubernetes")
    with pytest.raises(ValueError, match="environment: STACK=kubernetes: expected one of embedded, docker, shared"):
        load_config(env_file=tmp_path / "none")

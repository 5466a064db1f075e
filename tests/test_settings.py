"""Settings are read once and checked by name (producer/envfile.py, workbook/config.py, producer/settings.py):
a malformed `.env` line or a value of the wrong form stops every command with the file, line, setting and what
is expected; unknown and repeated names are warned about; nothing falls back to a default silently."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from producer import envfile
from producer.settings import load_settings
from workbook.config import COMPOSE_SETTINGS, SETTINGS, SettingsError, load_config
from workbook.paths import PROJECT_ROOT

SETTING_NAMES = [*SETTINGS, *COMPOSE_SETTINGS]


@pytest.fixture(autouse=True)
def no_settings_in_environment(monkeypatch):
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


def env_file(tmp_path, text: str, encoding="utf-8"):
    path = tmp_path / ".env"
    path.write_text(text, encoding=encoding)
    return path


def error_of(path) -> str:
    with pytest.raises(SettingsError) as exc:
        load_config(env_file=path)
    return str(exc.value)


def test_a_port_that_is_not_a_number_names_file_line_setting_and_form(tmp_path):
    path = env_file(tmp_path, "# comment\nKAFKA_TOPIC=trades\nKAFKA_BOOTSTRAP_SERVERS=127.0.0.1:notaport\n")
    assert error_of(path) == (
        f"{path} line 3: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:notaport: expected HOST:PORT, or several separated "
        "by commas (e.g. 127.0.0.1:29092), ports 1-65535"
    )
    with pytest.raises(SettingsError, match=r"line 3: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:notaport: expected"):
        load_settings(path)  # the producer says the same


def test_a_line_without_equals_and_an_unclosed_quote_stop_instead_of_the_default(tmp_path):
    path = env_file(tmp_path, "POSTGRES_PORT\nKAFKA_TOPIC='unclosed\n")
    message = error_of(path)
    assert f"{path} line 1: POSTGRES_PORT: expected POSTGRES_PORT=VALUE (the line has no '=')" in message
    assert f'{path} line 2: "KAFKA_TOPIC=\'unclosed": expected NAME=VALUE (a quote left open' in message
    # a quote closed only lines later would swallow the lines between: named with both lines
    path = env_file(tmp_path, "KAFKA_TOPIC='trades\nPOSTGRES_DB=db'\n")
    assert "line 1: KAFKA_TOPIC: the quote opened on this line closes only on line 2" in error_of(path)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("POSTGRES_PORT=99999", "a port number, 1-65535"),
        ("POSTGRES_PORT=0", "a port number, 1-65535"),
        ("POSTGRES_PORT=", "a port number, 1-65535"),
        ("FLINK_REST_PORT=80.5", "a port number, 1-65535"),
        ("KAFKA_BOOTSTRAP_SERVERS=127.0.0.1", "HOST:PORT"),
        ("KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:29092,:9092", "HOST:PORT"),
        ("KAFKA_TOPIC_PARTITIONS=0", "a whole number, 1-10000"),
        ("KAFKA_RETENTION_MS=ten minutes", "a whole number, 1 or more (or -1)"),
        ("KAFKA_TOPIC=my topic", "a Kafka topic name"),
        ("MAX_AHEAD_SECONDS=-5", "a whole number, 0 or more: how many seconds ahead of the clock"),
        ("STACK=kubernetes", "one of embedded, docker, shared"),
        ("PRODUCER_SOURCE=binanse", "one of synthetic, replay, binance"),
        ("PRODUCER_ARGS=--speed '1", "options as on a command line, every quote closed"),
        ("GRAFANA_URL=127.0.0.1:23000", "an http:// or https:// URL"),
        ("FLINK_JOBMANAGER=localhost", "HOST:PORT"),
        ("POSTGRES_HOST=db host", "a host name"),
        ("POSTGRES_HOST=127.0.0.1:5432", "a host name or IP address (no port"),
        ("COMPOSE_PROFILES=flink,grafana", "flink, jupyter"),
        ("JUPYTER_UID=me", "a whole number, 0 or more"),
        ("PGADMIN_EMAIL=user", "an e-mail address"),
        ("FLINK_PLATFORM=amd64", "a platform"),
        ("STUDENT_ID=Ada", "a student id: a lower-case letter"),
        ("STUDENT_ID=ada; DROP SCHEMA public", "a student id"),
        ("STUDENT_ID=1ada", "a student id"),
        ("STUDENT_ID=public", "a student id"),
        ("STUDENT_ID=pg_ada", "a student id"),
        ("TASKMANAGER_SLOTS=0", "a whole number, 1-1024"),
    ],
)
def test_every_setting_is_checked_by_its_form(tmp_path, line, expected):
    path = env_file(tmp_path, f"STACK=embedded\n{line}\n")
    assert error_of(path).startswith(f"{path} line 2: {line}: expected {expected}")


def test_a_reference_to_a_setting_not_set_is_named(tmp_path):
    """`GRAFANA_URL=http://127.0.0.1:${GRAFANA_PORT}` without GRAFANA_PORT in .env: expanded to 'http://127.0.0.1:'
    (as Compose does), which is refused, naming the reference (it was taken, port 80 meant, before)."""
    path = env_file(tmp_path, "STACK=embedded\nGRAFANA_URL=http://127.0.0.1:${GRAFANA_PORT}\n")
    assert error_of(path) == (
        f"{path} line 2: GRAFANA_URL=http://127.0.0.1:: expected an http:// or https:// URL with a host "
        "(e.g. http://127.0.0.1:23000) (${GRAFANA_PORT} is set neither in .env nor in the environment, so it is empty)"
    )


def test_good_values_of_every_form_are_taken(tmp_path):
    path = env_file(
        tmp_path,
        "KAFKA_BOOTSTRAP_SERVERS=broker1:9092,[::1]:9093\nKAFKA_RETENTION_MS=-1\nFLINK_JOBMANAGER=jobmanager:8081\n"
        "GRAFANA_PORT=3000\nGRAFANA_URL=http://127.0.0.1:${GRAFANA_PORT}\nCOMPOSE_PROFILES=flink,jupyter\n"
        "export POSTGRES_PORT=5432 # a comment\nPOSTGRES_PASSWORD='s3cr#t'\n",
    )
    cfg = load_config(env_file=path)
    assert cfg.kafka_bootstrap_servers == "broker1:9092,[::1]:9093" and cfg.kafka_retention_ms == -1
    assert (cfg.flink_jobmanager, cfg.grafana_url) == ("jobmanager:8081", "http://127.0.0.1:3000")
    assert (cfg.postgres_port, cfg.postgres_password) == (5432, "s3cr#t")
    for host in ("::1", "[::1]", "fe80::1%eth0", "db.example.org", "127.0.0.1"):
        assert load_config(env_file=env_file(tmp_path, f"POSTGRES_HOST={host}\n")).postgres_host == host


def test_the_environment_is_named_as_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "fifty")
    assert error_of(tmp_path / "none") == "environment: POSTGRES_PORT=fifty: expected a port number, 1-65535"
    # the environment wins over .env, but a bad line in .env is still a bad line
    monkeypatch.setenv("POSTGRES_PORT", "5432")
    path = env_file(tmp_path, "POSTGRES_PORT=fifty\n")
    assert error_of(path) == f"{path} line 1: POSTGRES_PORT=fifty: expected a port number, 1-65535"


def test_unknown_and_repeated_names_are_warned_with_the_closest_setting(tmp_path, capsys):
    path = env_file(tmp_path, "KAFKA_TOPC=other\nPOSTGRES_PORT=5432\nPOSTGRES_PORT=5433\nMY_OWN=1\n")
    cfg = load_config(env_file=path)
    err = capsys.readouterr().err
    assert (
        f"warning: {path} line 1: KAFKA_TOPC is not a setting of this project (ignored): did you mean KAFKA_TOPIC?"
        in err
    )
    assert f"{path} line 3: POSTGRES_PORT is set again (first on line 2): this line's value is used" in err
    assert f"{path} line 4: MY_OWN is not a setting of this project (ignored): see .env.example" in err
    assert (cfg.kafka_topic, cfg.postgres_port) == ("trades", 5433)
    load_config(env_file=path)
    assert capsys.readouterr().err == ""  # said once per process


def test_a_byte_order_mark_windows_line_ends_and_non_utf8(tmp_path):
    path = env_file(tmp_path, "POSTGRES_PORT=5432\r\nSTACK=docker\r\n", encoding="utf-8-sig")
    cfg = load_config(env_file=path)
    assert (cfg.postgres_port, cfg.stack) == (5432, "docker")
    path.write_bytes(b"POSTGRES_PASSWORD=caf\xe9\n")
    assert error_of(path) == f"{path}: not UTF-8 text (byte 21); save it as UTF-8"


def test_every_known_setting_is_in_env_example_and_its_defaults_pass():
    example = (PROJECT_ROOT / ".env.example").read_text()
    assert sorted(n for n in SETTING_NAMES if f"\n{n}=" not in example) == []
    for default, kind in {**SETTINGS, **COMPOSE_SETTINGS}.values():
        kind.check(default)  # ValueError if a default does not pass its own check
    load_config(env_file=PROJECT_ROOT / ".env.example")


def test_the_producers_source_names_are_its_commands():
    from producer import cli, settings

    assert sorted(settings.SOURCE_NAMES) == sorted(cli.SOURCES)


def test_a_plain_parse_without_python_dotenv_finds_the_same_problems(tmp_path):
    values, lines = envfile._read_plainly("# c\nKAFKA_TOPIC='t'\nPOSTGRES_PORT\n")
    assert values == {"KAFKA_TOPIC": "t"}
    assert [(ln.name, ln.value, ln.number) for ln in lines] == [("KAFKA_TOPIC", "t", 2), ("POSTGRES_PORT", None, 3)]


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "workbook", "status"],
        ["-m", "workbook", "sql", "--bounded"],
        ["-m", "workbook.processor", "--dry-run"],
        ["-m", "workbook.course", "check", "volumes", "--solution"],
        ["-m", "producer", "--max-trades", "1"],
    ],
)
def test_every_command_stops_with_the_one_message_and_status_2(command):
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:notaport"}
    done = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "environment: KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:notaport: expected HOST:PORT, or several separated by "
        "commas (e.g. 127.0.0.1:29092), ports 1-65535"
    ) in done.stderr


def test_load_ext_stops_with_the_message(monkeypatch):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    from workbook.course import magic

    monkeypatch.setenv("POSTGRES_PORT", "99999")
    with pytest.raises(UsageError, match="environment: POSTGRES_PORT=99999: expected a port number, 1-65535"):
        magic.load_ipython_extension(InteractiveShell.instance())


def test_the_producers_bootstrap_option_is_checked_as_the_setting_is():
    done = subprocess.run(
        [sys.executable, "-m", "producer", "--bootstrap-servers", "127.0.0.1:notaport", "--max-trades", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--bootstrap-servers: '127.0.0.1:notaport': expected HOST:PORT" in done.stderr


def test_a_student_id_names_the_schema_of_every_connection_and_starts_the_job_names(tmp_path):
    alone = load_config(env_file=env_file(tmp_path, "STUDENT_ID=\n"))
    assert alone.schema is None and "currentSchema" not in alone.jdbc_url and "options" not in alone.postgres_url
    assert "options" not in alone.psycopg2_kwargs() and alone.job_name("job") == "job"
    ada = load_config(env_file=env_file(tmp_path, "STUDENT_ID=ada_1\n"))
    assert ada.schema == "ada_1"
    assert ada.jdbc_url.endswith("/db?currentSchema=ada_1")
    assert ada.psycopg2_kwargs()["options"] == "-c search_path=ada_1,public"  # TimescaleDB's functions: public
    assert "options=-c+search_path%3Dada_1%2Cpublic" in ada.postgres_url.replace("%20", "+")
    assert ada.job_name("job") == "ada_1: job"


def test_stack_shared_without_a_student_id_stops_every_command(tmp_path):
    with pytest.raises(SettingsError, match="STACK=shared needs STUDENT_ID"):
        load_config(env_file=env_file(tmp_path, "STACK=shared\nSTUDENT_ID=\n"))
    assert load_config(env_file=env_file(tmp_path, "STACK=shared\nSTUDENT_ID=ada\n")).schema == "ada"

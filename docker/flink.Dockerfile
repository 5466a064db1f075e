# The Flink image of the Docker stack (profile "flink"): the JobManager, the
# TaskManager(s) and the client container that submits the processor all run it.
#
#   flink:2.0.0                        the cluster, same Flink version as the embedded stack
#   + apache-flink==2.0.0              PyFlink (client and Python UDF workers)
#   + shigawire-apache-flink-libraries the Kafka and JDBC connector jars and the PostgreSQL
#                                      driver, from PyPI (no Maven Central), copied into
#                                      /opt/flink/lib so JobManager and TaskManagers load them
#   + python-dotenv                    workbook/config.py
#   + kafka-python                     the processor's --bounded runs and query helpers (workbook/kafka_offsets.py)
# The versions are read from requirements.txt, so the image and the embedded
# stack cannot drift apart. Build context: the project root.
#
# arm64 (Apple silicon, Docker Desktop's default there): PyPI has no linux-aarch64 wheels of
# apache-flink nor of pemja (its dependency), so pip compiles them (and any other dependency
# without such a wheel), which needs a C compiler and a JDK's headers (installed below; the base
# image has a JRE only). Expect the first build to take a long time (tens of minutes) and more
# disk; later builds reuse the cached layer. If it fails, set FLINK_PLATFORM=linux/amd64 in .env:
# the x86_64 image, installed from wheels and run under Docker Desktop's emulation (Rosetta or
# QEMU): a quicker build, slower jobs. Not tested on arm64 (README.md, "Apple silicon").
FROM flink:2.0.0

# Python 3.10 of Ubuntu 22.04 (the base image's OS): the workbook code must stay 3.10-compatible
# (tests/test_compose.py parses it with Python 3.10's grammar).
# Not amd64: the compiler and JDK headers for building apache-flink and pemja (see above).
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 python3-pip python3-dev; \
    if [ "$(dpkg --print-architecture)" != "amd64" ]; then \
        apt-get install -y --no-install-recommends build-essential openjdk-17-jdk-headless; \
    fi; \
    rm -rf /var/lib/apt/lists/*; \
    ln -sf /usr/bin/python3 /usr/bin/python

WORKDIR /opt/app
COPY requirements.txt /opt/app/requirements.txt
RUN set -eux; \
    grep -E '^(apache-flink|shigawire-apache-flink-libraries|python-dotenv|kafka-python|psycopg2-binary)==' requirements.txt \
        | sed -e 's/[[:space:]]*#.*$//' > /tmp/flink-requirements.txt; \
    cat /tmp/flink-requirements.txt; \
    test "$(wc -l < /tmp/flink-requirements.txt)" -eq 5; \
    if [ "$(dpkg --print-architecture)" != "amd64" ]; then \
        export JAVA_HOME="/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)"; \
    fi; \
    pip3 install --no-cache-dir -r /tmp/flink-requirements.txt; \
    pyflink_lib="$(python3 -c 'import os, pyflink; print(os.path.join(os.path.dirname(pyflink.__file__), "lib"))')"; \
    for jar in flink-connector-kafka.jar kafka-clients.jar flink-connector-jdbc-core.jar \
               flink-connector-jdbc-postgres.jar postgresql.jar; do \
        cp "${pyflink_lib}/${jar}" /opt/flink/lib/; \
    done; \
    cp /opt/flink/opt/flink-python-*.jar /opt/flink/lib/; \
    chown -R flink:flink /opt/flink/lib

# The processor and the configuration it reads (workbook/config.py). Not sql/ nor solutions/:
# docker-compose.yml mounts them into the processor container, so an edit needs no rebuild.
COPY workbook/ /opt/app/workbook/
# The entrypoint runs every command as the user flink.
RUN chown -R flink:flink /opt/app

# ENTRYPOINT and CMD stay flink's: `jobmanager`, `taskmanager`, or any other command
# (the processor client: `python -m workbook.processor --jobmanager jobmanager:8081`).

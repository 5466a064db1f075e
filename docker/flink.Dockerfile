# The Flink image of the Docker stack (profile "flink"): the JobManager, the
# TaskManager(s) and the client container that submits the processor all run it.
#
#   flink:2.0.1                        the cluster (Java 17, on Ubuntu 22.04 with its Python 3.10); PyFlink's
#                                      client is 2.0.0, the same minor. Run without Docker before it was
#                                      chosen: a Flink 2.0.1 session cluster from the apache-flink 2.0.1
#                                      wheels (their lib/ holds the distribution's jars) on Java 17, with the
#                                      jars this file copies into lib/ below, ran the processor submitted from
#                                      the 2.0.0 client, with the MiniCluster's results (docs/docker.md, "What
#                                      is validated here"). tests/test_compose.py holds the tag (FLINK_IMAGE).
#   + locks/flink-image.txt            PyFlink 2.0.0 (client), shigawire-apache-flink-libraries (the Kafka
#                                      4.0.1-2.0 and JDBC 4.0.0-2.0 connector jars and the PostgreSQL driver,
#                                      from PyPI: no Maven Central), python-dotenv, kafka-python,
#                                      psycopg2-binary and every package they pull in, each file checked
#                                      against its sha256 (make lock writes the lock from requirements.txt)
# The connector jars are copied into /opt/flink/lib so JobManager and TaskManagers load them.
# Build context: the project root. docs/docker.md has the whole story.
#
# Platform: docker-compose.yml builds and runs this image as linux/amd64 by default (FLINK_PLATFORM):
# on Apple silicon it runs emulated (Rosetta or QEMU), because PyPI has no linux-aarch64 wheels of
# apache-flink 2.0.0 nor of pemja. FLINK_PLATFORM=linux/arm64 builds natively: pip then compiles both
# from their sdists (the lock has their hashes), with the compiler and JDK headers installed below;
# tens of minutes, and not tested (docs/docker.md, "Apple silicon").
FROM flink:2.0.1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Python 3.10 of Ubuntu 22.04 (the base image's OS): the workbook code must stay 3.10-compatible
# (tests/test_compose.py parses it with Python 3.10's grammar; the lock is resolved for 3.10).
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
COPY locks/build.txt locks/flink-image.txt /opt/app/locks/
# pip, setuptools, wheel and poetry-core from locks/build.txt first (hashes checked; the pip of Ubuntu 22.04 has no
# --build-constraint), then the lock with them as build constraints: apache-flink-libraries, crcmod, dill,
# docopt and hdfs have no wheels and are built here with the locked setuptools, hash-checked. Not amd64:
# apache-flink and pemja are built too, and their other build requirements (apache-beam, Cython, fastavro,
# numpy) are not in locks/build.txt: pip would refuse them unhashed, so there the versions of locks/build.txt
# are constraints without their hashes, and those others are not locked (docs/docker.md, "Apple silicon").
RUN set -eux; \
    arch="$(dpkg --print-architecture)"; \
    build_constraints=locks/build.txt; \
    if [ "${arch}" != "amd64" ]; then \
        JAVA_HOME="/usr/lib/jvm/java-17-openjdk-${arch}"; \
        export JAVA_HOME; \
        sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' locks/build.txt > /tmp/build-versions.txt; \
        build_constraints=/tmp/build-versions.txt; \
    fi; \
    pip3 install --no-cache-dir --require-hashes -r locks/build.txt; \
    python3 -m pip install --no-cache-dir --require-hashes --build-constraint "${build_constraints}" \
        -r locks/flink-image.txt; \
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
# workbook/config.py checks the settings with producer/envfile.py (and takes the producer's from producer/settings.py)
COPY producer/ /opt/app/producer/
# The entrypoint runs every command as the user flink. /opt/app/.state, the state folder, is where
# docker-compose.yml mounts the processor containers' shared volume: a new volume takes this folder's owner.
# /opt/flink/savepoints: the JobManager's and TaskManagers' shared savepoint volume (execution.checkpointing.
# savepoint-dir in docker-compose.yml), owned by flink likewise
RUN mkdir -p /opt/app/.state /opt/flink/savepoints \
    && chown -R flink:flink /opt/app /opt/flink/savepoints

# ENTRYPOINT and CMD stay flink's: `jobmanager`, `taskmanager`, or any other command
# (the processor client: `python -m workbook.processor --jobmanager jobmanager:8081`).

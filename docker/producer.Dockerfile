# The producer of the Docker stack: `python -m producer` writing trades to Kafka (producer/ stands alone).
# Its Python packages: locks/producer-image.txt (kafka-python, confluent-kafka, websocket-client,
# python-dotenv, numpy, orjson at the host venv's versions, every file checked against its sha256;
# confluent-kafka and orjson are optional speed-ups, numpy drives the synthetic source).
# It runs natively on arm64 too: every package has linux-aarch64 wheels (`make lock` checks the lock
# resolves the same there). Build context: the project root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/app
COPY locks/build.txt locks/producer-image.txt /opt/app/locks/
# pip, setuptools, wheel and poetry-core from locks/build.txt first; nothing of this lock is built from sources (every package
# has wheels), and were one, it would be built with them
RUN pip install --require-hashes -r locks/build.txt \
    && pip install --require-hashes --build-constraint locks/build.txt -r locks/producer-image.txt \
    && useradd --system --uid 10001 --home-dir /opt/app producer

COPY producer/ /opt/app/producer/
# the recorded trades of the replay source (producer --source replay)
COPY data/ /opt/app/data/
RUN chown -R producer /opt/app
USER 10001

# docker-compose.yml passes --source and the options from .env (PRODUCER_SOURCE, PRODUCER_ARGS).
CMD ["python", "-m", "producer", "--source", "synthetic"]

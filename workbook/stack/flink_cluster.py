"""A Flink standalone session cluster (JobManager + TaskManager processes)
started from the apache-flink wheel's own bin/start-cluster.sh, with a
configuration of ours under the state folder (127.0.0.1 only, small memory,
the project's Python for PyFlink UDF workers)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from ..java import find_java, java_env
from . import procs
from .ports import ensure_free
from .services import Service, ServiceError


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent


def cluster_config(
    rest_port: int,
    python: str,
    log_dir: Path,
    pid_dir: Path,
    slots: int = 2,
    rpc_port: int = 6123,
    savepoint_dir: Path | None = None,
) -> str:
    # Flink 2.0 reads a standard YAML config.yaml; flattened keys are accepted.
    # savepoint_dir: where stop-with-savepoint writes when no folder is given (the course's .state/savepoints)
    return "\n".join(
        [
            "jobmanager.bind-host: 127.0.0.1",
            "jobmanager.rpc.address: 127.0.0.1",
            f"jobmanager.rpc.port: {rpc_port}",
            "jobmanager.memory.process.size: 1024m",
            "taskmanager.bind-host: 127.0.0.1",
            "taskmanager.host: 127.0.0.1",
            f"taskmanager.numberOfTaskSlots: {slots}",
            "taskmanager.memory.process.size: 1728m",
            "parallelism.default: 1",
            "rest.address: 127.0.0.1",
            "rest.bind-address: 127.0.0.1",
            f"rest.port: {rest_port}",
            f"python.executable: {python}",
            f"python.client.executable: {python}",
            "table.local-time-zone: UTC",
            f"env.log.dir: {log_dir}",
            f"env.pid.dir: {pid_dir}",
            *(
                [f"execution.checkpointing.savepoint-dir: {Path(savepoint_dir).resolve().as_uri()}"]
                if savepoint_dir
                else []
            ),
            # The wheel's default JVM options (module opens Flink needs on Java 17 and 21), and UTC: the
            # JDBC sink converts timestamps in the JVM's zone (windows would shift on a non-UTC laptop).
            "env.java.opts.all: -Duser.timezone=UTC " + _default_java_opts(),
            "",
        ]
    )


def _default_java_opts() -> str:
    text = (flink_home() / "conf" / "config.yaml").read_text()
    for line in text.splitlines():
        if line.strip().startswith("all:"):
            return line.split("all:", 1)[1].strip()
    return ""


def student_jobs(address: str, student_id: str, timeout: float = 3) -> list[dict]:
    """The jobs of one student on the session cluster at HOST:PORT (shared-cluster mode: their names start with
    'STUDENT_ID: ', Config.job_name), newest first; OSError when its REST API does not answer."""
    with urllib.request.urlopen(f"http://{address}/jobs/overview", timeout=timeout) as r:
        found = json.loads(r.read()).get("jobs", [])
    mine = [j for j in found if str(j.get("name", "")).startswith(f"{student_id}: ")]
    return sorted(mine, key=lambda j: -j.get("start-time", 0))


class FlinkCluster(Service):
    name = "flink"
    setting = "FLINK_REST_PORT"
    what_moving_keeps = " (with --flink)"

    @property
    def address(self) -> str:
        """Where its REST API answers: 127.0.0.1:FLINK_REST_PORT for the embedded cluster; under STACK=docker the
        Docker JobManager, FLINK_JOBMANAGER if set (Config.jobmanager_address)."""
        return self.config.jobmanager_address

    def running_address(self) -> str | None:
        """The REST address the running embedded cluster was started with (its `masters` file)."""
        if self.pid() is None:
            return None
        try:
            return (self.conf_dir / "masters").read_text().split()[0]
        except (OSError, IndexError):
            return None

    def running_rpc_port(self) -> int | None:
        """The JobManager RPC port the running embedded cluster was started with (its config.yaml)."""
        if self.pid() is None:
            return None
        try:
            found = re.search(r"^jobmanager\.rpc\.port: (\d+)$", (self.conf_dir / "config.yaml").read_text(), re.M)
        except OSError:
            return None
        return int(found.group(1)) if found else None

    @property
    def conf_dir(self) -> Path:
        return self.state_dir / "flink" / "conf"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs" / "flink"

    @property
    def savepoint_dir(self) -> Path:
        """Where the cluster writes savepoints (execution.checkpointing.savepoint-dir): the state folder's."""
        return self.state_dir / "savepoints"

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "flink" / "run"

    @property
    def log_path(self) -> Path:
        return self.log_dir

    def env(self) -> dict:
        env = java_env(find_java())
        env.update(FLINK_HOME=str(flink_home()), FLINK_CONF_DIR=str(self.conf_dir), FLINK_LOG_DIR=str(self.log_dir))
        return env

    def found(self) -> list[int]:
        """The JobManager and TaskManager: by the pid files Flink's scripts write, and by the configuration folder
        on their command lines (a killed `up` may have left them without pid files)."""
        pids = []
        for f in self.pid_dir.glob("*.pid"):
            for line in f.read_text().split():
                if line.isdigit() and procs.is_alive(int(line)):
                    pids.append(int(line))
        conf = str(self.conf_dir)
        started = procs.matching(lambda p: procs.option_of(p.pid, "--configDir") == conf)
        return sorted(set(pids + started))

    def recorded_pid(self) -> int | None:
        return None  # Flink's own pid files are read by `found`

    def adopt(self) -> str | None:
        return None

    def too_many(self, pids: list[int]) -> str | None:
        return None  # a JobManager and TaskManagers: several by design

    def overview(self) -> dict:
        with urllib.request.urlopen(f"http://{self.address}/overview", timeout=3) as r:
            return json.loads(r.read())

    def health(self) -> tuple[bool, str]:
        try:
            ov = self.overview()
        except OSError as exc:
            return False, f"REST API not answering: {exc}"
        ok = ov.get("taskmanagers", 0) >= 1
        return ok, (
            f"{ov.get('taskmanagers')} TaskManager(s), {ov.get('slots-available')}/{ov.get('slots-total')} "
            f"slots free, {ov.get('jobs-running')} job(s) running; web UI http://{self.address}"
        )

    def start(self) -> None:
        ensure_free("127.0.0.1", self.config.flink_rest_port, "the Flink cluster", "FLINK_REST_PORT")
        ensure_free("127.0.0.1", self.config.flink_rpc_port, "the Flink cluster (JobManager RPC)", "FLINK_RPC_PORT")
        if self.conf_dir.exists():
            shutil.rmtree(self.conf_dir)
        self.conf_dir.mkdir(parents=True)
        for f in (flink_home() / "conf").glob("log4j*.properties"):
            shutil.copy(f, self.conf_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.savepoint_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "config.yaml").write_text(
            cluster_config(
                self.config.flink_rest_port,
                sys.executable,
                self.log_dir,
                self.pid_dir,
                slots=self.config.taskmanager_slots,
                rpc_port=self.config.flink_rpc_port,
                savepoint_dir=self.savepoint_dir,
            )
        )
        (self.conf_dir / "masters").write_text(f"127.0.0.1:{self.config.flink_rest_port}\n")
        (self.conf_dir / "workers").write_text("localhost\n")  # "localhost" = start locally, no ssh
        out = subprocess.run(
            ["bash", str(flink_home() / "bin" / "start-cluster.sh")],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise ServiceError(f"start-cluster.sh failed:\n{(out.stderr or out.stdout)[-1500:]}")
        if not procs.wait_until(lambda: self.health()[0], timeout=60, interval=0.5):
            detail = self.health()[1]
            self.stop()
            logs = sorted(self.log_dir.glob("*.log"))
            tails = "\n".join(f"--- {p}\n{procs.tail(p, 15)}" for p in logs)
            raise ServiceError(f"the Flink cluster did not come up ({detail}). Logs:\n{tails}")

    def stop(self) -> None:
        if self.conf_dir.exists():
            subprocess.run(
                ["bash", str(flink_home() / "bin" / "stop-cluster.sh")],
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
        for pid in self.found():  # whatever stop-cluster.sh did not stop
            procs.stop_pid(pid)
        for f in self.pid_dir.glob("*.pid"):
            f.unlink()

    def run_python_job(self, script: Path, *args: str, detached: bool = False, timeout: float = 600):
        """`flink run -py script args` against this cluster; returns the CompletedProcess."""
        argv = [str(flink_home() / "bin" / "flink"), "run", "-m", self.address]
        if detached:
            argv.append("-d")
        argv += ["-py", str(script), *args]
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout)

"""Two jobs side by side on a Flink session cluster, to watch their state (notebook 12, tests/test_state_size.py):
a count per key with no window (GROUP BY key) and the same count per 2-second window, over a generated stream of
events whose keys are almost all new (Flink's datagen connector: random ids out of a billion, 2000 rows a second).
Both checkpoint every second; the state size of each job's latest completed checkpoint is read from the cluster's
REST API as the jobs run.

    sizes = watch(jobmanager, seconds=12, every=3)   {"no window": [bytes, ...], "2-second windows": [...]}
    verdict(sizes["no window"])                      "grew", "bounded" or "unclear"

The sizes themselves depend on the machine's speed; the verdict does not: the non-windowed count keeps a row of
state for every key it has seen (tens of thousands after a few seconds, more with each checkpoint), the windowed
one only the keys of the open window (its state is freed when a window ends).
"""

from __future__ import annotations

import time

from . import cluster_jobs
from .flink_env import create_table_env

RATE = 2000  # events a second
EVENTS = f"""CREATE TEMPORARY TABLE state_events (id BIGINT, pt AS PROCTIME()) WITH (
  'connector' = 'datagen', 'rows-per-second' = '{RATE}', 'fields.id.min' = '1', 'fields.id.max' = '1000000000')"""
QUERIES = {
    "no window": "SELECT id, COUNT(*) AS n FROM state_events GROUP BY id",
    "2-second windows": "SELECT window_start, id, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE state_events, "
    "DESCRIPTOR(pt), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, id",
}
SINKS = {"no window": "id BIGINT, n BIGINT", "2-second windows": "window_start TIMESTAMP(3), id BIGINT, n BIGINT"}


def start(jobmanager: str) -> dict:
    """Submit both jobs to the session cluster at `jobmanager` (HOST:PORT), checkpointing every second: name ->
    job id. Each writes to a blackhole sink (the rows are not the point, the state is)."""
    t_env = create_table_env(jobmanager=jobmanager, checkpoint_interval=1, pipeline_name="workbook-state-size")
    t_env.execute_sql(EVENTS)
    ids = {}
    for i, (name, query) in enumerate(QUERIES.items()):
        t_env.execute_sql(f"CREATE TEMPORARY TABLE state_sink_{i} ({SINKS[name]}) WITH ('connector' = 'blackhole')")
        result = t_env.execute_sql(f"INSERT INTO state_sink_{i} {query}")
        ids[name] = str(result.get_job_client().get_job_id())
    return ids


def watch(jobmanager: str, seconds: float = 12, every: float = 3, say=print) -> dict:
    """Run both jobs for `seconds`, reading their latest checkpoint's state size every `every` seconds (after
    their first checkpoint); cancel them. Name -> the sizes read, in bytes."""
    ids = start(jobmanager)
    sizes: dict = {name: [] for name in ids}
    try:
        deadline = time.monotonic() + 60
        while not all(cluster_jobs.latest_checkpoint(jobmanager, j) for j in ids.values()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no checkpoint of the jobs {sorted(ids.values())} after 60 s: is the cluster busy?")
            time.sleep(0.5)
        for _ in range(int(seconds / every) + 1):
            for name, job_id in ids.items():
                sizes[name].append(cluster_jobs.latest_checkpoint(jobmanager, job_id).get("state_size", 0))
            time.sleep(every)
    finally:
        for job_id in ids.values():
            cluster_jobs.cancel(jobmanager, job_id)
        cluster_jobs.wait_until_gone(jobmanager, ids.values())
    return sizes


def verdict(sizes: list) -> str:
    """The verdict: "grew" when the largest size of the later half of the readings is more than 1.5 times the largest of the
    earlier half, "bounded" when it is at most 1.1 times that, "unclear" otherwise (watch longer). The largest, not
    the last: a windowed job's checkpoint holds one or two open windows, depending on when it is taken."""
    if len(sizes) < 2:
        raise ValueError(f"a verdict needs two readings or more, got {sizes}")
    half = len(sizes) // 2
    early, late = max(sizes[:half]), max(sizes[half:])
    if late > 1.5 * early:
        return "grew"
    if late <= 1.1 * early:
        return "bounded"
    return "unclear"

"""A 31-task DAG folded into the default 20 segments, with a 10-way mapped task ``work``."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import DAG, task

from activitysmith_airflow import ActivitySmithDagRunTracker

LOADS = [f"load_part_{i:02d}" for i in range(1, 29)]
TASK_IDS = ["start", *LOADS, "work", "finish"]  # 31 tasks; ``work`` maps 10 ways

with DAG(
    "t_fold31",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    **ActivitySmithDagRunTracker().dag_kwargs(),
) as fold31:

    @task
    def start() -> None:
        time.sleep(0.1)

    @task
    def work(x: int) -> int:
        time.sleep(0.2)  # long enough for an update to show it running
        return x

    @task
    def finish(xs: list[int]) -> int:
        return len(xs)

    loads = [task(task_id=name)(lambda: time.sleep(0.1))() for name in LOADS]
    begin = start()
    mapped = work.expand(x=list(range(10)))
    begin >> loads >> mapped
    finish(mapped)

"""Big runs for the quota tests: 200 parallel tasks, and a 1,000-way mapped task of which one
instance in ten fails."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = datetime(2024, 1, 1)
tracker = ActivitySmithDagRunTracker(interval=2.0)  # the default pacing, stated for the tests

with DAG("t_wide200", schedule=None, start_date=START, **tracker.dag_kwargs()) as wide:
    for i in range(200):
        task(task_id=f"w{i:03d}")(lambda: None)()

with DAG("t_map1000", schedule=None, start_date=START, **tracker.dag_kwargs()) as mapped:

    @task
    def shard(i: int) -> int:
        if i % 10 == 0:
            raise ValueError(f"shard {i} failed validation")
        return i

    @task(trigger_rule="all_done")
    def report() -> None:
        return None

    shard.expand(i=list(range(1000))) >> report()

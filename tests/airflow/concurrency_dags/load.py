"""DAGs for the metadata-DB load benchmark (bench/airflow_db_load.py): the same two long
sequential tasks, tracked by tag and untracked."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import chain, dag, task

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


for dag_id, tags in (("load_tracked", ["activitysmith"]), ("load_plain", [])):

    @dag(dag_id=dag_id, schedule=None, start_date=START, catchup=False, tags=tags)
    def load() -> None:
        chain(task(task_id="first")(_sleep)(100.0), task(task_id="second")(_sleep)(5.0))

    load()

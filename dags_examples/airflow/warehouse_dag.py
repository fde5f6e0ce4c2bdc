"""A wide DAG: 48 tasks in 4 task groups, more than a Lock Screen can draw as segments.

The activity folds the tasks into one segment per task group (above ``max_segments``, 20 by
default), each coloured by the worst outcome inside it once all its tasks are done, and the
subtitle shows the time left, counting down from ``expected_duration`` (without it, from the
DAG's recent successful runs).
"""

from __future__ import annotations

import random
import time

import pendulum
from airflow.sdk import TaskGroup, dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

tracker = ActivitySmithDagRunTracker(
    title="Warehouse load", expected_duration=40, auto_dismiss_minutes=2, icon="shippingbox"
)


@dag(
    dag_id="activitysmith_warehouse",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
    **tracker.dag_kwargs(),
)
def activitysmith_warehouse() -> None:
    previous = None
    for region in ("eu", "us", "apac", "latam"):
        with TaskGroup(group_id=f"load_{region}") as group:
            for table in range(12):

                @task(task_id=f"table_{table:02d}")
                def load_table() -> None:
                    time.sleep(random.uniform(0.1, 0.3))

                load_table()
        if previous is not None:
            previous >> group
        previous = group


activitysmith_warehouse()

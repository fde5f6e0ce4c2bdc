"""A run with history, for the time-left estimate, and a mapped task running several at once."""

from __future__ import annotations

import time
from datetime import datetime

from airflow.sdk import DAG, task

from activitysmith_airflow import ActivitySmithDagRunTracker

with DAG(
    "t_estimate",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    **ActivitySmithDagRunTracker().dag_kwargs(),
) as estimate:
    previous = None
    for i in range(3):
        step = task(task_id=f"s{i}")(lambda: time.sleep(1.0))()
        if previous is not None:
            previous >> step
        previous = step

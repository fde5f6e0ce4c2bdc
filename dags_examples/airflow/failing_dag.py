"""A task that fails after its retries: the activity turns red and one push opens the task's log.

``validate`` retries twice (pushing on retries is off by default), then fails for good; ``load``
is then upstream_failed and still counted, in gray, from Airflow's state.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

tracker = ActivitySmithDagRunTracker(auto_dismiss_minutes=5)


@dag(
    dag_id="activitysmith_failing",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    **tracker.dag_kwargs({"retries": 2, "retry_delay": timedelta(seconds=0)}),
)
def activitysmith_failing() -> None:
    @task
    def extract() -> int:
        return 3

    @task
    def validate(rows: int) -> int:
        raise ValueError(f"{rows} rows had no id\nTraceback detail that stays in the log")

    @task
    def load(rows: int) -> None:
        print(rows)

    load(validate(extract()))


activitysmith_failing()

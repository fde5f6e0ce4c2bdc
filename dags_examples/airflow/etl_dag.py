"""ETL with parallel and mapped tasks, tracked as a segmented_progress Live Activity.

One segment per task (the mapped ``transform`` is one segment, done when all its instances are),
coloured as tasks finish; the run's end ends the activity. Runs with ``airflow dags test
activitysmith_etl`` against the sandbox or the real service (connection ``activitysmith_default``).
"""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

tracker = ActivitySmithDagRunTracker(
    title="Nightly ETL", auto_dismiss_minutes=2, icon="wind", push_on_success=True
)


@dag(
    dag_id="activitysmith_etl",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
    **tracker.dag_kwargs(),
)
def activitysmith_etl() -> None:
    @task
    def extract_orders() -> list[int]:
        time.sleep(1.5)
        return [1, 2, 3]

    @task
    def extract_customers() -> int:
        time.sleep(1.5)
        return 42

    @task
    def transform(batch: int) -> int:
        time.sleep(1.0)
        return batch * 10

    @task
    def load(rows: list[int], customers: int) -> int:
        time.sleep(1.0)
        return sum(rows) + customers

    @task
    def report(total: int) -> None:
        print(f"loaded {total}")

    rows = transform.expand(batch=extract_orders())
    report(load(rows, extract_customers()))


activitysmith_etl()

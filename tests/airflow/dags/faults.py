"""A small tracked DAG with a short deadline, for fault tests."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

tracker = ActivitySmithDagRunTracker(deadline=3.0)


@dag(
    dag_id="t_faults",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    **tracker.dag_kwargs(),
)
def t_faults() -> None:
    @task
    def first() -> int:
        return 1

    @task
    def second(x: int) -> int:
        if x != 1:
            raise ValueError("unexpected")
        return x

    second(first())


t_faults()

"""A DAG that misses its deadline: two Deadline Alerts 5 s after the run is queued, both
ActivitySmith pushes run by the triggerer (one with the default text, one with a templated
title), and a task that takes longer than that. Tagged, so its Live Activity counts down to the
deadline as well."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from airflow.sdk import dag, task
from airflow.sdk.definitions.deadline import AsyncCallback, DeadlineAlert, DeadlineReference

from activitysmith_airflow import ActivitySmithNotifier

SLEEP = 25


@dag(
    dag_id="late_etl",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["activitysmith"],  # tracked by the listener: the activity shows the deadline too
    deadline=[
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=5),
            callback=AsyncCallback(ActivitySmithNotifier, kwargs={"channels": ["ops"]}),
        ),
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=6),
            callback=AsyncCallback(
                ActivitySmithNotifier,
                kwargs={
                    "title": "{{ dag_run.dag_id }} is late",
                    "message": "{{ dag_run.dag_run_id }}",
                },
            ),
        ),
    ],
)
def late_etl() -> None:
    @task
    def slow() -> None:
        time.sleep(SLEEP)

    slow()


late_etl()

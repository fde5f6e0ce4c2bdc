"""Operator error policy, and a tracker that pushes on retries."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker, ActivitySmithUpdateOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="t_operator_errors", schedule=None, start_date=START)
def t_operator_errors() -> None:
    ActivitySmithUpdateOperator(
        task_id="soft", activity_id="act_missing", content_state={"title": "x"}, fail_on_error=False
    )
    ActivitySmithUpdateOperator(
        task_id="hard", activity_id="act_missing", content_state={"title": "x"}
    )
    ActivitySmithUpdateOperator(
        task_id="invalid",
        activity_id="act_missing",
        content_state={"title": "x", "color": "pink"},
        fail_on_error=False,
    )


@dag(
    dag_id="t_retry_push",
    schedule=None,
    start_date=START,
    **ActivitySmithDagRunTracker(push_on_retry=True).dag_kwargs(
        {"retries": 1, "retry_delay": timedelta(seconds=0)}
    ),
)
def t_retry_push() -> None:
    @task
    def flaky(ti=None) -> None:  # type: ignore[no-untyped-def]
        if ti.try_number == 1:
            raise ConnectionError("warehouse busy")

    flaky()


t_operator_errors()
t_retry_push()

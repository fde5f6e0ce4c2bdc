"""Every operator and the notifier: push, stream/end, and the legacy start/update/end."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import (
    ActivitySmithEndOperator,
    ActivitySmithEndStreamOperator,
    ActivitySmithNotifier,
    ActivitySmithPushOperator,
    ActivitySmithStartOperator,
    ActivitySmithStreamOperator,
    ActivitySmithUpdateOperator,
)


@dag(
    dag_id="activitysmith_operators",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    on_success_callback=ActivitySmithNotifier(
        title="{{ dag.dag_id }} finished", message="Run {{ run_id }} succeeded"
    ),
)
def activitysmith_operators() -> None:
    push = ActivitySmithPushOperator(
        task_id="push",
        title="Deploy of {{ dag.dag_id }}",
        message="Run {{ run_id }} started",
        redirection="https://example.com/runs/{{ run_id | urlencode }}",
        actions=[{"title": "Open", "type": "open_url", "url": "https://example.com"}],
        interruption_level="time-sensitive",
    )
    stream = ActivitySmithStreamOperator(
        task_id="stream",
        stream_key="deploy-{{ ds_nodash }}",
        content_state={"title": "Deploy", "type": "value", "value": "v{{ ds_nodash }}"},
    )
    end_stream = ActivitySmithEndStreamOperator(
        task_id="end_stream",
        stream_key="deploy-{{ ds_nodash }}",
        content_state={"title": "Deploy", "type": "value", "value": "done"},
        auto_dismiss_minutes=1,
    )
    start = ActivitySmithStartOperator(
        task_id="start",
        content_state={
            "title": "Migration",
            "type": "segmented_progress",
            "number_of_steps": 2,
            "current_step": 0,
        },
    )
    update = ActivitySmithUpdateOperator(
        task_id="update",
        activity_id="{{ ti.xcom_pull(task_ids='start', key='activity_id') }}",
        content_state={"title": "Migration", "current_step": 1},
    )
    end = ActivitySmithEndOperator(
        task_id="end",
        activity_id="{{ ti.xcom_pull(task_ids='start', key='activity_id') }}",
        content_state={"title": "Migration", "current_step": 2},
    )

    @task(on_failure_callback=ActivitySmithNotifier())
    def work() -> str:
        return "ok"

    push >> stream >> end_stream >> start >> update >> end >> work()


activitysmith_operators()

"""An upload reporting its progress as a ``progress`` Live Activity, ended when done."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithEndStreamOperator


@dag(
    dag_id="activitysmith_upload",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
)
def activitysmith_upload() -> None:
    @task
    def upload(ti=None) -> int:  # type: ignore[no-untyped-def]
        from activitysmith_airflow import ActivitySmithHook

        client = ActivitySmithHook().get_conn()
        key = f"upload-{ti.run_id}".replace(":", "-").replace("+", "-").replace(".", "-")
        parts = 4
        for done in range(1, parts + 1):
            client.live_activities.stream(
                key,
                content_state={
                    "title": "Backup upload",
                    "subtitle": f"part {done}/{parts}",
                    "type": "progress",
                    "value": done,
                    "upper_limit": parts,
                    "color": "purple",
                },
            )
        return parts

    uploaded = upload()
    done = ActivitySmithEndStreamOperator(
        task_id="end_upload",
        stream_key="{{ ('upload-' ~ run_id) | replace(':', '-') | replace('+', '-') "
        "| replace('.', '-') }}",
        content_state={
            "title": "Backup upload",
            "subtitle": "done",
            "type": "progress",
            "percentage": 100,
        },
        auto_dismiss_seconds=30,
    )
    uploaded >> done


activitysmith_upload()

"""Stream a server's health as a ``metrics`` Live Activity, every 10 minutes.

The stream key is per server, so each run updates the same activity on the Lock Screen.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithStreamOperator


@dag(
    dag_id="activitysmith_server_health",
    schedule="*/10 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
)
def activitysmith_server_health() -> None:
    @task
    def sample() -> dict[str, float]:
        load1, _, _ = os.getloadavg()
        return {"cpu": round(min(100.0, load1 * 25), 1), "mem": 41.5}

    figures = sample()
    health = ActivitySmithStreamOperator(
        task_id="stream_health",
        stream_key="server-health-web-1",
        content_state={
            "title": "web-1",
            "subtitle": "{{ logical_date | ts }}",
            "type": "metrics",
            "metrics": [
                {
                    "label": "CPU",
                    "value": "{{ ti.xcom_pull(task_ids='sample')['cpu'] }}",
                    "unit": "%",
                },
                {
                    "label": "MEM",
                    "value": "{{ ti.xcom_pull(task_ids='sample')['mem'] }}",
                    "unit": "%",
                },
            ],
        },
    )
    figures >> health


activitysmith_server_health()

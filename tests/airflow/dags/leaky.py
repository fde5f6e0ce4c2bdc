"""After the hook runs, the API key is registered with Airflow's secrets masker, which the task
supervisor applies to every task log line (CLI test modes print unmasked, so this task reports
what the masker does with a line holding the key)."""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="t_leaky", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def t_leaky() -> None:
    @task
    def careless() -> None:
        from activitysmith_airflow import ActivitySmithHook

        hook = ActivitySmithHook()
        hook.get_conn().notifications.send(title="masking check")
        from airflow.sdk._shared.secrets_masker import redact

        line = redact(f"the key is {hook.connection.password}")
        logging.getLogger("airflow.task").info("masker says: %s", line)
        if hook.connection.password in str(line):
            raise AssertionError("the API key is not registered with the secrets masker")

    careless()


t_leaky()

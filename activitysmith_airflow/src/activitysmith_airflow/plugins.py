"""The Airflow plugin (entry point ``airflow.plugins``) that registers the tag listener."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from . import listeners


class ActivitySmithPlugin(AirflowPlugin):
    name = "activitysmith"
    listeners = [listeners]

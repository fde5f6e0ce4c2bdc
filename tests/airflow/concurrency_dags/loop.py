"""DAGs for bench/scheduler_loop.py: a 200-way mapped task, tracked and untracked alike."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = pendulum.datetime(2026, 1, 1, tz="UTC")
WIDTH = 200


def _mapped(dag_id: str, **extra: object) -> None:
    @dag(dag_id=dag_id, schedule=None, start_date=START, catchup=False, **extra)  # type: ignore[arg-type]
    def mapped() -> None:
        @task
        def items() -> list[int]:
            return list(range(WIDTH))

        @task
        def work(i: int) -> int:
            time.sleep(20)
            return i

        work.expand(i=items())

    mapped()


_mapped("loop_plain")
_mapped("loop_tracked", **ActivitySmithDagRunTracker().dag_kwargs())

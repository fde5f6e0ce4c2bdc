"""Tracked DAGs for the real-scheduler test: 16 parallel tasks, and a 50-way mapped task."""

from __future__ import annotations

import random
import time

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(
    dag_id="wide16",
    schedule=None,
    start_date=START,
    catchup=False,
    **ActivitySmithDagRunTracker().dag_kwargs(),
)
def wide16() -> None:
    for i in range(16):
        task(task_id=f"p{i:02d}")(lambda: time.sleep(random.uniform(0.1, 0.6)))()


@dag(
    dag_id="mapped50",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_tasks=16,
    **ActivitySmithDagRunTracker().dag_kwargs(),
)
def mapped50() -> None:
    @task
    def items() -> list[int]:
        return list(range(50))

    @task
    def work(i: int) -> int:
        time.sleep(random.uniform(0.0, 0.2))
        return i

    work.expand(i=items())


wide16()
mapped50()


@dag(dag_id="tagged8", schedule=None, start_date=START, catchup=False, tags=["activitysmith"])
def tagged8() -> None:
    for i in range(7):
        task(task_id=f"t{i}")(lambda: time.sleep(random.uniform(0.1, 0.4)))()

    @task
    def broken() -> None:
        raise RuntimeError("the tagged task broke\nsecond line stays in the log")

    broken()


@dag(dag_id="plain", schedule=None, start_date=START, catchup=False)
def plain() -> None:
    task(task_id="only")(lambda: None)()


tagged8()
plain()

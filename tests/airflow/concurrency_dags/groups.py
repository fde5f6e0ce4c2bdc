"""DAGs for the group and slot tests: twelve DAGs of the group "nightly" (six declared with the
tracker's ``group=``, six by the tag ``activitysmith-group:nightly``; one fails), and six
tagged DAGs of no group whose runs outnumber the account's four Live Activity slots; two long
DAGs of the group "relay" to stop their scheduler under; a daily tagged DAG to backfill (its
run of 2026-01-03 fails)."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import chain, dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _work(seconds: float, fail: bool = False) -> None:
    time.sleep(seconds)
    if fail:
        raise ValueError("night_05 could not load its partition")


def _night(i: int) -> None:
    extra = (
        ActivitySmithDagRunTracker(group="nightly", group_linger=10, interval=0.5).dag_kwargs()
        if i % 2 == 0
        else {"tags": ["activitysmith-group:nightly"]}
    )

    @dag(dag_id=f"night_{i:02d}", schedule=None, start_date=START, catchup=False, **extra)
    def night() -> None:
        chain(
            task(task_id="extract")(_work)(1.0 + (i % 4)),
            task(task_id="load")(_work)(1.0, i == 5),
        )

    night()


def _slot(i: int) -> None:
    @dag(dag_id=f"slot_{i}", schedule=None, start_date=START, catchup=False, tags=["activitysmith"])
    def slot() -> None:
        chain(*[task(task_id=f"s{n}")(_work)(3.0 + i) for n in range(3)])

    slot()


def _relay(i: int) -> None:
    extra = ActivitySmithDagRunTracker(group="relay", group_linger=10, interval=0.5).dag_kwargs()

    @dag(dag_id=f"relay_{i}", schedule=None, start_date=START, catchup=False, **extra)
    def relay() -> None:
        chain(*[task(task_id=f"r{n}")(_work)(2.0) for n in range(12)])

    relay()


@dag(
    dag_id="backfilled", schedule="@daily", start_date=START, catchup=False, tags=["activitysmith"]
)
def backfilled() -> None:
    @task
    def load(**context: object) -> None:
        time.sleep(1.0)
        day = context["logical_date"]
        if getattr(day, "day", None) == 3:
            raise ValueError("2026-01-03 had no partition")

    chain(task(task_id="extract")(_work)(1.0), load())


backfilled()
for index in range(12):
    _night(index)
for index in range(6):
    _slot(index)
for index in range(2):
    _relay(index)

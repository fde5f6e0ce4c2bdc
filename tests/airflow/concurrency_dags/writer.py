"""Tracked DAGs for the single-writer tests: a slow run to kill its scheduler under, a short
one for several schedulers, one that fails once then passes when cleared, and one that holds
a task running until its run is ended from the REST API."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pendulum
from airflow.sdk import chain, dag, task

START = pendulum.datetime(2026, 1, 1, tz="UTC")
TAGS = ["activitysmith"]


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@dag(dag_id="slow6", schedule=None, start_date=START, catchup=False, tags=TAGS)
def slow6() -> None:
    chain(*[task(task_id=f"s{i}")(_sleep)(4.0) for i in range(6)])


@dag(dag_id="ha4", schedule=None, start_date=START, catchup=False, tags=TAGS)
def ha4() -> None:
    steps = [
        task(task_id=f"h{i}")(lambda: time.sleep(random.uniform(0.5, 1.5)))() for i in range(4)
    ]
    steps[0] >> [steps[1], steps[2]] >> steps[3]


@dag(dag_id="flaky", schedule=None, start_date=START, catchup=False, tags=TAGS)
def flaky() -> None:
    @task
    def boom() -> None:
        marker = Path(os.environ["AIRFLOW_HOME"]) / "flaky.passed"
        if not marker.exists():
            marker.touch()
            raise RuntimeError("the first attempt breaks")

    chain(task(task_id="first")(_sleep)(2.0), boom(), task(task_id="last")(_sleep)(5.0))


@dag(dag_id="hold", schedule=None, start_date=START, catchup=False, tags=TAGS)
def hold() -> None:
    chain(
        task(task_id="first")(_sleep)(0.5),
        task(task_id="long")(_sleep)(120.0),
        task(task_id="after")(_sleep)(0.5),
    )


slow6()
ha4()
flaky()
hold()

"""DAG shapes the tracker must count right: runtime mapping, branches, task groups, a tag."""

from __future__ import annotations

import random
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, TaskGroup, dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(
    dag_id="t_runtime_mapped",
    schedule=None,
    start_date=START,
    **ActivitySmithDagRunTracker().dag_kwargs(),
)
def t_runtime_mapped() -> None:
    @task
    def make() -> list[int]:
        return list(range(random.Random(7).randint(3, 6)))  # known only at run time: 5

    @task
    def work(x: int) -> int:
        return x

    @task
    def done(xs: list[int]) -> int:
        return len(xs)

    done(work.expand(x=make()))


@dag(
    dag_id="t_branch", schedule=None, start_date=START, **ActivitySmithDagRunTracker().dag_kwargs()
)
def t_branch() -> None:
    @task.branch
    def choose() -> str:
        return "fast"

    @task
    def fast() -> None: ...

    @task
    def slow() -> None: ...

    @task
    def slow_after() -> None: ...

    @task(trigger_rule="none_failed_min_one_success")
    def join() -> None: ...

    c, j = choose(), join()
    c >> fast() >> j
    c >> slow() >> slow_after() >> j


@dag(
    dag_id="t_groups",
    schedule=None,
    start_date=START,
    **ActivitySmithDagRunTracker(granularity="task_group").dag_kwargs(),
)
def t_groups() -> None:
    @task
    def start() -> None: ...

    with TaskGroup("extract") as extract:
        for i in range(4):
            task(task_id=f"source_{i}")(lambda: None)()
    with TaskGroup("load") as load:
        with TaskGroup("inner"):
            task(task_id="a")(lambda: None)()
        task(task_id="b")(lambda: None)()

    start() >> extract >> load


@dag(
    dag_id="t_tagged",
    schedule=None,
    start_date=START,
    tags=["activitysmith"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
)
def t_tagged() -> None:
    @task
    def ok() -> None: ...

    @task
    def boom() -> None:
        raise RuntimeError("tagged failure")

    ok() >> boom()


t_runtime_mapped()
t_branch()
t_groups()
t_tagged()


with DAG("t_attached", schedule=None, start_date=START) as attached:
    task(task_id="one")(lambda: None)() >> task(task_id="two")(lambda: None)()
ActivitySmithDagRunTracker(title="Attached {dag_id}").attach(attached)

"""DAGs for bench/scheduler_loop.py: a 200-way mapped task, tracked and untracked alike.

The mapped instances wait in a pool of no slots (created by the benchmark): they stay alive,
scheduled, for the scheduler to examine every loop, and no task process competes with the
scheduler for the machine's CPU, so the loop's duration shows what the watcher costs it."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = pendulum.datetime(2026, 1, 1, tz="UTC")
WIDTH = 200
POOL = "bench_loop_closed"


def _mapped(dag_id: str, **extra: object) -> None:
    @dag(dag_id=dag_id, schedule=None, start_date=START, catchup=False, **extra)  # type: ignore[arg-type]
    def mapped() -> None:
        @task
        def items() -> list[int]:
            return list(range(WIDTH))

        @task(pool=POOL)
        def work(i: int) -> int:
            return i

        work.expand(i=items())

    mapped()


_mapped("loop_plain")
_mapped("loop_tracked", **ActivitySmithDagRunTracker().dag_kwargs())

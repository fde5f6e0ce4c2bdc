"""Sixteen task executions, six of them failing for good: once tracked, once not, to measure
what an API outage costs a run."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from activitysmith_airflow import ActivitySmithDagRunTracker

START = datetime(2024, 1, 1)


def _build(dag_id: str, **kwargs: object) -> DAG:
    with DAG(dag_id, schedule=None, start_date=START, catchup=False, **kwargs) as dag:  # type: ignore[arg-type]

        @task
        def ok(i: int) -> int:
            return i

        @task
        def bad(i: int) -> int:
            raise RuntimeError(f"shard {i} is corrupt")

        ok.expand(i=list(range(10)))
        bad.expand(i=list(range(6)))
    return dag


untracked = _build("t_outage_untracked")
tracked = _build("t_outage_tracked", **ActivitySmithDagRunTracker(deadline=3.0).dag_kwargs())

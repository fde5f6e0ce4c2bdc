"""What tracking costs the metadata database under a real deployment: PostgreSQL, the API
server, a scheduler (LocalExecutor) and the DAG processor, as in tests/airflow/_cluster.py.

Transactions per second (pg_stat_database ``xact_commit + xact_rollback``) over a window in
which 10 runs of the same DAG are all running, untracked, then tracked, then untracked again;
the difference, per tracked run, is what tracking adds (the goal: <= 0.2 per second).

    .venv-airflow/bin/python bench/airflow_db_load.py          # BENCH_RUNS=10 BENCH_WINDOW=60
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _airflow

from tests.airflow import _cluster

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
WINDOW = float(os.environ.get("BENCH_WINDOW", "60"))
ENV = _cluster.api_env(
    core__parallelism=32, core__max_active_tasks_per_dag=32, logging__logging_level="WARNING"
)


def xacts(cluster: dict) -> float:
    ((count,),) = _cluster.query(
        cluster,
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'postgres'",
    )
    return float(count)


def phase(cluster: dict, dag_id: str) -> float:
    """Transactions per second while ``RUNS`` runs of ``dag_id`` all run their first task."""
    runs = [_cluster.trigger(cluster, dag_id) for _ in range(RUNS)]
    deadline = time.monotonic() + 180
    while True:
        ((running,),) = _cluster.query(
            cluster,
            "SELECT count(*) FROM task_instance WHERE dag_id = %s AND task_id = 'first' "
            "AND state = 'running'",
            dag_id,
        )
        if running == RUNS:
            break
        assert time.monotonic() < deadline, f"only {running} of {RUNS} running"
        time.sleep(1)
    time.sleep(3)  # the runs' starts settle (claims, history, deadline reads)
    before, began = xacts(cluster), time.monotonic()
    time.sleep(WINDOW)
    after, took = xacts(cluster), time.monotonic() - began
    ((running,),) = _cluster.query(
        cluster,
        "SELECT count(*) FROM task_instance WHERE dag_id = %s AND task_id = 'first' "
        "AND state = 'running'",
        dag_id,
    )
    assert running == RUNS, "a run left the window early: make the tasks longer"
    for run_id in runs:  # end them now: the next phase starts from a quiet deployment
        cluster["client"].patch(f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
    time.sleep(10)
    return (after - before) / took


def main() -> None:
    with _airflow.deployment("load", ENV) as (sandbox, cluster):
        time.sleep(5)
        idle_before = xacts(cluster)
        time.sleep(10)
        idle = (xacts(cluster) - idle_before) / 10
        plain_1 = phase(cluster, "load_plain")
        tracked = phase(cluster, "load_tracked")
        plain_2 = phase(cluster, "load_plain")
        plain = (plain_1 + plain_2) / 2
        per_run = (tracked - plain) / RUNS
        puts = sum(1 for r in sandbox.requests if r.method == "PUT")
        print(
            f"Airflow {_version()}, PostgreSQL, 1 scheduler (LocalExecutor), "
            f"{RUNS} concurrent runs, {WINDOW:g} s windows (transactions/s):"
        )
        print(f"  idle deployment               {idle:7.2f}")
        print(f"  {RUNS} untracked runs             {plain:7.2f}  ({plain_1:.2f}, {plain_2:.2f})")
        print(f"  {RUNS} tracked runs               {tracked:7.2f}")
        print(f"  added per tracked run         {per_run:7.3f}  (goal <= 0.2)")
        print(f"  Live Activity PUTs received   {puts:7d}")


def _version() -> str:
    import airflow

    return str(airflow.__version__)


if __name__ == "__main__":
    main()

"""Soak: tracked DAG runs while the sandbox injects random faults, then recovers.

    .venv-airflow/bin/python bench/soak_airflow.py [RUNS]      (make soak: 30)
Prints runs, tasks, task states changed by the integration (must be 0), runs whose final Live
Activity state is right after recovery (must be all), extra time per task, requests and
failed attempts. Exits 1 if an invariant is broken.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _airflow
from _sandbox import KEY, start_sandbox
from _soak import FAULTS, activities, baseline, ended_succeeded, inject_faults

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
TASKS = 5
HOME = _airflow.home("soak-airflow-", log_level="ERROR")
DAGS = HOME / "dags"
(DAGS / "soak.py").write_text(f"""
import time
import pendulum
from airflow.sdk import DAG, task
from activitysmith_airflow import ActivitySmithDagRunTracker

for name, kwargs in (("tracked", ActivitySmithDagRunTracker(deadline=4)
                      .dag_kwargs()), ("plain", {{}})):
    with DAG(f"soak_{{name}}", schedule=None,
             start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), **kwargs):
        prev = None
        for i in range({TASKS}):
            t = task(task_id=f"t{{i}}")(lambda: time.sleep(0.05))()
            if prev is not None:
                prev >> t
            prev = t
""")


def _correct(state: dict, run_ids: list[str], stream_key: Any) -> int:
    """How many of the runs' activities ended with their right final state."""
    by_key = activities(state)
    return sum(
        ended_succeeded(by_key.get(stream_key("airflow", "soak_tracked", r)), current_step=TASKS)
        for r in run_ids
    )


def main() -> int:
    _airflow.migrate()
    proc, url = start_sandbox()
    _airflow.connect(url, KEY)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from activitysmith_core import stream_key

    bag = _airflow.dagbag(DAGS)
    base = baseline(url, bag.get_dag("soak_plain").test)
    changed, extra, run_ids = 0, [], []
    try:
        for i in range(RUNS):
            inject_faults(url, i)
            t0 = time.perf_counter()
            dr = bag.get_dag("soak_tracked").test()
            extra.append((time.perf_counter() - t0 - base) / TASKS)
            run_ids.append(dr.run_id)
            with create_session() as session:
                states = (
                    session.execute(
                        select(TaskInstance.state).where(
                            TaskInstance.dag_id == "soak_tracked", TaskInstance.run_id == dr.run_id
                        )
                    )
                    .scalars()
                    .all()
                )
            changed += sum(1 for s in states if str(getattr(s, "value", s)) != "success")
        httpx.post(f"{url}/_sandbox/faults", json={})
        # The next tracked runs reach the API once the outage's cool-down has passed and
        # deliver the final states kept on disk; run them until all are delivered (bounded).
        recovery_deadline = time.monotonic() + 150
        while True:
            bag.get_dag("soak_tracked").test()
            state = httpx.get(f"{url}/_sandbox/state").json()
            if _correct(state, run_ids, stream_key) == RUNS or time.monotonic() > recovery_deadline:
                break
            time.sleep(3)
        records = httpx.get(f"{url}/_sandbox/requests").json()
    finally:
        proc.terminate()
        proc.wait()
    correct = _correct(state, run_ids, stream_key)
    failed = sum(1 for r in records if r["fault"] or (r["status"] or 0) >= 400)
    print(
        f"Airflow soak: {RUNS} tracked DAG runs x {TASKS} tasks, faults {FAULTS} "
        "+ a 429 burst every 5th run"
    )
    print(f"  tasks: {RUNS * TASKS}; task states changed by the integration: {changed}")
    print(f"  runs with the right final Live Activity after recovery: {correct}/{RUNS}")
    print(
        f"  extra time per task: median {statistics.median(extra) * 1000:.0f} ms, "
        f"worst {max(extra) * 1000:.0f} ms (baseline run {base:.2f} s)"
    )
    print(f"  requests: {len(records)}, of which failed attempts (5xx/429/dropped/hung): {failed}")
    return 0 if changed == 0 and correct == RUNS else 1


if __name__ == "__main__":
    sys.exit(main())

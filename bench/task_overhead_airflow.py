"""Tracking's cost for a 20-task chain under dag.test(), tracked vs untracked, with the sandbox
(its own process) answering at 0 ms and at 100 ms latency.

Three figures per latency:

- added wall time per task, from the run totals (tracked - untracked) / 20. Under dag.test()
  the run's end waits for the final state (one round trip at least), so this includes the
  network once per run;
- task-path time per task: the mean of task_instance end_date - start_date in the metadata
  database, tracked minus untracked. This is what tracking costs each task (the goal: <= 5 ms
  at either latency), the network being off the task's path;
- requests per run (stream PUT / DELETE / push).

    BENCH_TASK_SECONDS=0 .venv-airflow/bin/python bench/task_overhead_airflow.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _airflow
from _sandbox import KEY, start_sandbox

HOME = _airflow.home("bench-airflow-", log_level="WARNING")
DAGS = HOME / "dags"
TASKS = 20
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
SECONDS = float(os.environ.get("BENCH_TASK_SECONDS", "0"))
(DAGS / "bench.py").write_text(f"""
import time
import pendulum
from airflow.sdk import DAG, task
from activitysmith_airflow import ActivitySmithDagRunTracker

for name, kwargs in (("tracked", ActivitySmithDagRunTracker().dag_kwargs()), ("plain", {{}})):
    with DAG(f"bench_{{name}}", schedule=None,
             start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), **kwargs):
        prev = None
        for i in range({TASKS}):
            t = task(task_id=f"t{{i}}")(lambda: time.sleep({SECONDS}))()
            if prev is not None:
                prev >> t
            prev = t
""")


def task_seconds(dag_id: str, run_id: str) -> float:
    """Mean end_date - start_date of the run's task instances, from the metadata database."""
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TI.start_date, TI.end_date).where(TI.dag_id == dag_id, TI.run_id == run_id)
        ).all()
    spans = [(end - start).total_seconds() for start, end in rows if start and end]
    assert len(spans) == TASKS, f"{len(spans)} task instances with both dates"
    return statistics.fmean(spans)


def request_counts(url: str) -> dict[str, int]:
    counts = {"put": 0, "delete": 0, "push": 0, "429": 0, "total": 0}
    for r in httpx.get(f"{url}/_sandbox/requests").json():
        counts["total"] += 1
        counts["429"] += r.get("status") == 429
        if "/live-activity/stream/" in r["path"]:
            counts["put" if r["method"] == "PUT" else "delete"] += 1
        elif r["path"].endswith("/push-notification"):
            counts["push"] += 1
    return counts


def main() -> None:
    _airflow.migrate()
    proc, url = start_sandbox()
    _airflow.connect(url, KEY)
    bag = _airflow.dagbag(DAGS)
    try:
        print(
            f"Airflow: {TASKS}-task chain (each task {SECONDS:g} s) under dag.test(), "
            f"tracked vs untracked, median of {REPEATS} runs each after one warm-up run"
        )
        print(
            f"{'latency':>8} {'untracked s':>12} {'tracked s':>10} {'added/task ms':>14} "
            f"{'task untracked ms':>18} {'task tracked ms':>16} {'task-path +ms':>14} "
            f"{'requests/run (PUT+DELETE+push)':>31}"
        )
        for name in ("plain", "tracked"):  # warm-up: the first run of a process pays imports
            bag.get_dag(f"bench_{name}").test()
        for latency in (0.0, 0.1):
            walls: dict[str, list[float]] = {"plain": [], "tracked": []}
            spans: dict[str, list[float]] = {"plain": [], "tracked": []}
            counts: list[dict[str, int]] = []
            for _ in range(REPEATS):
                for name in ("plain", "tracked"):
                    httpx.post(f"{url}/_sandbox/reset")
                    httpx.post(f"{url}/_sandbox/faults", json={"latency": latency})
                    dag: Any = bag.get_dag(f"bench_{name}")
                    t0 = time.perf_counter()
                    dr = dag.test()
                    walls[name].append(time.perf_counter() - t0)
                    spans[name].append(task_seconds(dag.dag_id, dr.run_id))
                    if name == "tracked":
                        counts.append(request_counts(url))
            plain, tracked = statistics.median(walls["plain"]), statistics.median(walls["tracked"])
            span_plain = statistics.median(spans["plain"]) * 1000
            span_tracked = statistics.median(spans["tracked"]) * 1000
            mid = sorted(counts, key=lambda c: c["total"])[len(counts) // 2]
            shown = f"{mid['total']} ({mid['put']}+{mid['delete']}+{mid['push']})"
            print(
                f"{latency * 1000:6.0f}ms {plain:12.2f} {tracked:10.2f} "
                f"{(tracked - plain) / TASKS * 1000:14.1f} {span_plain:18.1f} "
                f"{span_tracked:16.1f} {span_tracked - span_plain:14.1f} {shown:>31}"
            )
            print(
                f"{'':8} requests per tracked run: {[c['total'] for c in counts]}, "
                f"429s: {sum(c['429'] for c in counts)}"
            )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

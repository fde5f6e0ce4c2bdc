"""Added wall time per task: a 20-task DAG under dag.test(), tracked vs untracked, with the
sandbox (its own process) answering at 0 ms and at 100 ms latency.

    .venv-airflow/bin/python bench/task_overhead_airflow.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from client_throughput import KEY, start_sandbox

HOME = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
DAGS = HOME / "dags"
DAGS.mkdir()
os.environ.update(
    AIRFLOW_HOME=str(HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
    AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    ACTIVITYSMITH_PENDING_DIR=str(HOME / "pending"),
)
TASKS = 20
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


def main() -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )
    proc, url = start_sandbox()
    os.environ["AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT"] = json.dumps(
        {"conn_type": "activitysmith", "password": KEY, "host": f"{url}/api"}
    )
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    bag = DagBag(str(DAGS))
    try:
        print(
            f"Airflow: {TASKS}-task DAG (each task {SECONDS:g} s) under dag.test(), "
            "median of 3 runs each"
        )
        print(
            f"{'latency':>8} {'untracked s':>12} {'tracked s':>10} {'added/task ms':>14} "
            f"{'requests/run':>13}"
        )
        for latency in (0.0, 0.1):
            httpx.post(f"{url}/_sandbox/faults", json={"latency": latency})
            runs: dict[str, list[float]] = {"plain": [], "tracked": []}
            requests = []
            for _ in range(3):
                for name in ("plain", "tracked"):
                    httpx.post(f"{url}/_sandbox/reset")
                    httpx.post(f"{url}/_sandbox/faults", json={"latency": latency})
                    t0 = time.perf_counter()
                    bag.get_dag(f"bench_{name}").test()
                    runs[name].append(time.perf_counter() - t0)
                    if name == "tracked":
                        requests.append(len(httpx.get(f"{url}/_sandbox/requests").json()))
            plain, tracked = statistics.median(runs["plain"]), statistics.median(runs["tracked"])
            print(
                f"{latency * 1000:6.0f}ms {plain:12.2f} {tracked:10.2f} "
                f"{(tracked - plain) / TASKS * 1000:14.1f} {statistics.median(requests):13.0f}"
            )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

"""Added wall time per task: a 20-task Prefect flow, tracked vs untracked, with the sandbox (its
own process) answering at 0 ms and at 100 ms latency. Uses Prefect's ephemeral server.

    .venv-prefect/bin/python bench/task_overhead_prefect.py
    BENCH_RUNNER=process-pool .venv-prefect/bin/python bench/task_overhead_prefect.py
    BENCH_RUNNER=dask BENCH_TASK_SECONDS=0.5 .venv-prefect/bin/python bench/task_overhead_prefect.py

``BENCH_RUNNER`` puts the tasks in worker processes (``ProcessPoolTaskRunner(max_workers=2)`` or
``DaskTaskRunner`` with two worker processes), where the tracker follows them through Prefect's
event stream and reads the task runs once at the end.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _sandbox import KEY, start_sandbox

os.environ.update(
    PREFECT_HOME=tempfile.mkdtemp(prefix="bench-prefect-"),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    PREFECT_LOGGING_LEVEL="WARNING",
    ACTIVITYSMITH_STATE_DIR=tempfile.mkdtemp(prefix="bench-state-"),
)
TASKS = 20
SECONDS = float(os.environ.get("BENCH_TASK_SECONDS", "0.1"))
RUNNER = os.environ.get("BENCH_RUNNER", "threads")


def task_runner() -> object:
    if RUNNER == "process-pool":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=2)
    if RUNNER == "dask":
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner()


def main() -> None:
    proc, url = start_sandbox()
    os.environ.update(ACTIVITYSMITH_API_KEY=KEY, ACTIVITYSMITH_BASE_URL=f"{url}/api")
    from prefect import flow, task

    from activitysmith_prefect import activitysmith_hooks

    @task
    def work(i: int) -> int:
        time.sleep(SECONDS)
        return i

    def body() -> int:
        return sum(work.submit(i).result() for i in range(TASKS))

    plain = flow(name="bench-plain", task_runner=task_runner())(body)  # type: ignore[arg-type]
    tracked = flow(name="bench-tracked", task_runner=task_runner(), **activitysmith_hooks())(body)  # type: ignore[arg-type]
    plain()  # start the ephemeral server and warm up
    try:
        print(
            f"Prefect: {TASKS} sequential tasks of {SECONDS:g} s on {RUNNER}, median of 3 runs each"
        )
        print(
            f"{'latency':>8} {'untracked s':>12} {'tracked s':>10} {'added/task ms':>14} "
            f"{'requests/run':>13}"
        )
        for latency in (0.0, 0.1):
            runs: dict[str, list[float]] = {"plain": [], "tracked": []}
            requests = []
            for _ in range(3):
                for name, fn in (("plain", plain), ("tracked", tracked)):
                    httpx.post(f"{url}/_sandbox/reset")
                    httpx.post(f"{url}/_sandbox/faults", json={"latency": latency})
                    t0 = time.perf_counter()
                    fn()
                    runs[name].append(time.perf_counter() - t0)
                    if name == "tracked":
                        requests.append(len(httpx.get(f"{url}/_sandbox/requests").json()))
            p, t = statistics.median(runs["plain"]), statistics.median(runs["tracked"])
            print(
                f"{latency * 1000:6.0f}ms {p:12.2f} {t:10.2f} {(t - p) / TASKS * 1000:14.1f} "
                f"{statistics.median(requests):13.0f}"
            )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

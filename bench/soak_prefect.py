"""Soak: tracked Prefect flow runs while the sandbox injects random faults, then recovers.

    .venv-prefect/bin/python bench/soak_prefect.py [RUNS]      (make soak: 30)
Same figures as bench/soak_airflow.py. Exits 1 if an invariant is broken.
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
from client_throughput import KEY, start_sandbox
from soak_airflow import FAULTS

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
TASKS = 5
os.environ.update(
    PREFECT_HOME=tempfile.mkdtemp(prefix="soak-prefect-"),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_LOGGING_LEVEL="ERROR",
    ACTIVITYSMITH_PENDING_DIR=tempfile.mkdtemp(),
)


def main() -> int:
    proc, url = start_sandbox()
    os.environ.update(ACTIVITYSMITH_API_KEY=KEY, ACTIVITYSMITH_BASE_URL=f"{url}/api")
    from prefect import flow, task

    from activitysmith_core import stream_key
    from activitysmith_prefect import activitysmith_hooks

    @task
    def work(i: int) -> int:
        time.sleep(0.05)
        return i

    def body() -> int:
        return sum(work.map(range(TASKS)).result())

    plain = flow(name="soak-plain")(body)
    tracked = flow(
        name="soak-tracked", **activitysmith_hooks(budget=2, final_budget=4, settle_timeout=3)
    )(body)
    plain()
    base = []
    for _ in range(3):
        t0 = time.perf_counter()
        plain()
        base.append(time.perf_counter() - t0)
    baseline = statistics.median(base)
    httpx.post(f"{url}/_sandbox/reset")
    changed, extra, run_ids = 0, [], []
    try:
        for i in range(RUNS):
            faults = dict(FAULTS, rate_limit_burst=3 if i % 5 == 0 else 0, retry_after=1)
            httpx.post(f"{url}/_sandbox/faults", json=faults)
            t0 = time.perf_counter()
            state = tracked(return_state=True)
            extra.append((time.perf_counter() - t0 - baseline) / TASKS)
            changed += 0 if state.is_completed() and state.result() == sum(range(TASKS)) else 1
            run_ids.append(str(state.state_details.flow_run_id))
        httpx.post(f"{url}/_sandbox/faults", json={})
        tracked()
        snapshot = httpx.get(f"{url}/_sandbox/state").json()
        records = httpx.get(f"{url}/_sandbox/requests").json()
    finally:
        proc.terminate()
        proc.wait()
    by_key = {a["stream_key"]: a for a in snapshot["activities"] if a["stream_key"]}
    correct = 0
    for run_id in run_ids:
        act = by_key.get(stream_key("prefect", "soak-tracked", run_id))
        cs = act["content_state"] if act else {}
        if (
            act
            and act["status"] != "active"
            and cs.get("current_step") == TASKS
            and cs.get("badge", {}).get("title") == "Succeeded"
        ):
            correct += 1
    failed = sum(1 for r in records if r["fault"] or (r["status"] or 0) >= 400)
    print(
        f"Prefect soak: {RUNS} tracked flow runs x {TASKS} mapped tasks, faults {FAULTS} "
        "+ a 429 burst every 5th run"
    )
    print(f"  flow runs whose own final state changed: {changed}")
    print(f"  runs with the right final Live Activity after recovery: {correct}/{RUNS}")
    print(
        f"  extra time per task: median {statistics.median(extra) * 1000:.0f} ms, "
        f"worst {max(extra) * 1000:.0f} ms (baseline run {baseline:.2f} s)"
    )
    print(f"  requests: {len(records)}, of which failed attempts (5xx/429/dropped/hung): {failed}")
    return 0 if changed == 0 and correct == RUNS else 1


if __name__ == "__main__":
    sys.exit(main())

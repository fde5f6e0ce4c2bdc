"""Soak: tracked Prefect flow runs while the sandbox injects random faults, then recovers.

    .venv-prefect/bin/python bench/soak_prefect.py [RUNS]      (make soak: 30)
Same figures as bench/soak_airflow.py. Exits 1 if an invariant is broken. Each tracked run may
take at most one ``deadline`` (3 s here) longer than the untracked baseline (measured after a
tracked warm-up run without faults: the process's one-time imports are not a run's cost);
final states the outage kept on disk are delivered by the runs after recovery.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _sandbox import KEY, start_sandbox
from _soak import FAULTS, activities, baseline, ended_succeeded, inject_faults

STATE = tempfile.mkdtemp(prefix="soak-state-")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
TASKS = 5
DEADLINE = 3.0
os.environ.update(
    PREFECT_HOME=tempfile.mkdtemp(prefix="soak-prefect-"),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_LOGGING_LEVEL="ERROR",
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    ACTIVITYSMITH_STATE_DIR=STATE,
)


def main() -> int:
    proc, url = start_sandbox()
    os.environ.update(ACTIVITYSMITH_API_KEY=KEY, ACTIVITYSMITH_BASE_URL=f"{url}/api")
    from prefect import flow, task

    from activitysmith_prefect import activitysmith_hooks

    @task
    def work(i: int) -> int:
        time.sleep(0.05)
        return i

    def body() -> int:
        return sum(work.map(range(TASKS)).result())

    plain = flow(name="soak-plain")(body)
    tracked = flow(name="soak-tracked", **activitysmith_hooks(deadline=DEADLINE))(body)
    plain()
    tracked()  # one-time costs (the client's imports, the fast path) are not a run's extra time
    base = baseline(url, plain)
    changed, extra, run_ids = 0, [], []
    try:
        for i in range(RUNS):
            inject_faults(url, i)
            t0 = time.perf_counter()
            state = tracked(return_state=True)
            extra.append(time.perf_counter() - t0 - base)
            changed += 0 if state.is_completed() and state.result() == sum(range(TASKS)) else 1
            run_ids.append(str(state.state_details.flow_run_id))
        httpx.post(f"{url}/_sandbox/faults", json={})
        snapshot = _recover(url, tracked, run_ids)
        records = httpx.get(f"{url}/_sandbox/requests").json()
    finally:
        proc.terminate()
        proc.wait()
    correct = _correct(snapshot, run_ids, verbose=True)
    failed = sum(1 for r in records if r["fault"] or (r["status"] or 0) >= 400)
    print(
        f"Prefect soak: {RUNS} tracked flow runs x {TASKS} mapped tasks, faults {FAULTS} "
        "+ a 429 burst every 5th run"
    )
    print(f"  flow runs whose own final state changed: {changed}")
    print(f"  runs with the right final Live Activity after recovery: {correct}/{RUNS}")
    print(
        f"  extra time per run: median {statistics.median(extra):.2f} s, worst "
        f"{max(extra):.2f} s (deadline {DEADLINE:g} s; baseline run {base:.2f} s)"
    )
    print(f"  requests: {len(records)}, of which failed attempts (5xx/429/dropped/hung): {failed}")
    kept = [p.name for p in Path(STATE).rglob("*.json*")]
    orphans = sum(".claimed-" in name for name in kept)
    print(
        f"  kept entries still on disk: {len(kept) - orphans}, claimed by a delivery that "
        f"gave up but never released: {orphans}"
    )
    bounded = max(extra) <= DEADLINE + 1.5
    print(f"  every run within one deadline (+1.5 s noise) of the baseline: {bounded}")
    return 0 if changed == 0 and correct == RUNS and bounded else 1


def _correct(snapshot: dict[str, Any], run_ids: list[str], verbose: bool = False) -> int:
    """Runs whose activity ended with the right final state (the 5 mapped runs of one task are
    one segment)."""
    from activitysmith_core import stream_key

    by_key = activities(snapshot)
    correct = 0
    for run_id in run_ids:
        act = by_key.get(stream_key("prefect", "soak-tracked", run_id))
        if ended_succeeded(act, current_step=1, number_of_steps=1):
            correct += 1
        elif verbose:
            cs = act["content_state"] if act else {}
            print(f"  wrong: run {run_id}: {act and act['status']} {cs}")
    return correct


def _recover(url: str, tracked: Any, run_ids: list[str], timeout: float = 150) -> Any:
    """Tracked runs after the outage until every kept final state is delivered (the sender
    holds requests for a cool-down of up to 60 s after repeated failures)."""
    started = time.monotonic()
    attempts = 0
    while True:
        tracked()
        attempts += 1
        snapshot = httpx.get(f"{url}/_sandbox/state").json()
        if _correct(snapshot, run_ids) == len(run_ids) or time.monotonic() > started + timeout:
            print(f"  recovery: {attempts} run(s), {time.monotonic() - started:.0f} s")
            return snapshot
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())

"""Requests per tracked run, and 429s, with the sandbox (its own process) enforcing the API's
quotas: 300 Live Activity requests and 60 pushes a minute. Default tracker options (updates of
one activity at least 2 s apart, failures inside 5 s folded into one push), under dag.test():

- a 20-task chain;
- 200 parallel tasks;
- a 1,000-way mapped task (+ one downstream task);
- the same with one instance in ten failing (100 failures).

The goal: inside the quotas, no 429, and the right final state.

    .venv-airflow/bin/python bench/requests_per_run_airflow.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import _airflow
from _sandbox import KEY, start_sandbox

QUOTAS = {"live_activity": 300, "push": 60}
WINDOW = 60.0
HOME = _airflow.home("bench-airflow-quota-", log_level="ERROR")
DAGS = HOME / "dags"
(DAGS / "quota_bench.py").write_text("""
import pendulum
from airflow.sdk import DAG, chain, task
from activitysmith_airflow import ActivitySmithDagRunTracker

START = pendulum.datetime(2026, 1, 1, tz="UTC")
tracker = ActivitySmithDagRunTracker()  # default options

with DAG("q_chain20", schedule=None, start_date=START, **tracker.dag_kwargs()):
    chain(*(task(task_id=f"c{i:02d}")(lambda: None)() for i in range(20)))

with DAG("q_wide200", schedule=None, start_date=START, **tracker.dag_kwargs()):
    for i in range(200):
        task(task_id=f"w{i:03d}")(lambda: None)()

for dag_id, fail_every in (("q_map1000", 0), ("q_map1000_fail10", 10)):
    with DAG(dag_id, schedule=None, start_date=START, **tracker.dag_kwargs()):

        @task
        def shard(i: int, fail_every: int = fail_every) -> int:
            if fail_every and i % fail_every == 0:
                raise ValueError(f"shard {i} failed validation")
            return i

        report = task(task_id="report", trigger_rule="all_done")(lambda: None)
        shard.expand(i=list(range(1000))) >> report()
""")
SCENARIOS = [
    ("q_chain20", "20-task chain", 20),
    ("q_wide200", "200 parallel tasks", 200),
    ("q_map1000", "1,000-way map + 1", 1001),
    ("q_map1000_fail10", "1,000-way map + 1, 100 failing", 1001),
]


def busiest_minute(times: list[float]) -> int:
    """The most requests inside any window of WINDOW seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= WINDOW:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> None:
    # Airflow's task logs (the failing shards' tracebacks) go to stdout under dag.test(): send
    # them to stderr, and keep stdout for the figures.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)
    _airflow.migrate()
    proc, url = start_sandbox(QUOTAS)
    _airflow.connect(url, KEY)
    bag = _airflow.dagbag(DAGS)
    assert not bag.import_errors, bag.import_errors
    try:
        print(
            "Airflow: requests per tracked run under dag.test(), sandbox enforcing "
            f"{QUOTAS['live_activity']} Live Activity requests and {QUOTAS['push']} pushes "
            "a minute; default tracker options (interval 2 s, push_window 5 s); one run each",
            file=out,
        )
        print(
            f"{'run':<32} {'tasks':>5} {'run s':>6} {'PUT':>4} {'DELETE':>6} {'push':>5} "
            f"{'429':>4} {'LA/min':>6} {'push/min':>8} {'final steps (colours)':<30}",
            file=out,
        )
        for dag_id, label, tasks in SCENARIOS:
            httpx.post(f"{url}/_sandbox/reset")
            dag: Any = bag.get_dag(dag_id)
            t0 = time.perf_counter()
            dag.test()
            wall = time.perf_counter() - t0
            reqs = httpx.get(f"{url}/_sandbox/requests").json()
            stream = [r for r in reqs if "/live-activity/stream/" in r["path"]]
            pushes = [r for r in reqs if r["path"].endswith("/push-notification")]
            puts = sum(r["method"] == "PUT" for r in stream)
            deletes = sum(r["method"] == "DELETE" for r in stream)
            refused = sum(r.get("status") == 429 for r in reqs)
            final: dict[str, Any] = {}
            if stream and stream[-1]["method"] == "DELETE":
                final = (stream[-1].get("body") or {}).get("content_state", {})
            colours: dict[str, int] = {}
            for colour in final.get("step_colors") or []:
                colours[colour] = colours.get(colour, 0) + 1
            shown = (
                f"{final.get('current_step')}/{final.get('number_of_steps')} "
                + " ".join(f"{n}×{c}" for c, n in colours.items())
                if final
                else "no final DELETE"
            )
            folded = 0
            for p in pushes:
                title = (p.get("body") or {}).get("title", "")
                folded += int(title.split("×")[1].split()[0]) if "×" in title else 1
            print(
                f"{label:<32} {tasks:>5} {wall:6.1f} {puts:>4} {deletes:>6} {len(pushes):>5} "
                f"{refused:>4} {busiest_minute([r['time'] for r in stream]):>6} "
                f"{busiest_minute([r['time'] for r in pushes]):>8} {shown}",
                file=out,
            )
            if pushes:
                print(f"{'':32} the pushes name {folded} failures", file=out)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

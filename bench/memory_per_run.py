"""Memory a long-lived process keeps per finished run: one tracking engine (what a scheduler's
watcher or a served flow's process holds) tracks N runs, each with updates, a failure push for
every seventh and its final state, against the sandbox in another process (its record must not
count). Python's heap is measured with tracemalloc after a warm-up that fills every bounded
cache, and again after N more runs: the difference divided by N is what each finished run
leaves behind. The goal is at most 64 bytes.

    .venv-core/bin/python bench/memory_per_run.py [RUNS]      (default 3000)
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from activitysmith_core import ActivitySmith
from activitysmith_core import tracking as t

sys.path.insert(0, str(Path(__file__).parent))
from _sandbox import KEY, start_sandbox

S = t.StepStatus


def _run(i: int, *steps: t.StepStatus, status: t.RunStatus = t.RunStatus.RUNNING) -> t.RunState:
    return t.RunState(
        "bench",
        "nightly_etl",
        f"scheduled__2026-12-04T00:00:00+00:00__{i}",
        [t.Step(f"task_{n:02d}", s) for n, s in enumerate(steps)],
        status=status,
        title="nightly_etl",
        url=f"http://airflow.example/dags/nightly_etl/runs/{i}",
    )


def _track(engine: t.Engine, first: int, count: int) -> None:
    for i in range(first, first + count):
        engine.update(_run(i, S.RUNNING, S.PENDING, S.PENDING))
        engine.update(_run(i, S.SUCCESS, S.RUNNING, S.PENDING))
        if i % 7 == 0:
            engine.step_failed(_run(i, S.SUCCESS, S.FAILED, S.PENDING), "task_01", "disk full")
        end = S.FAILED if i % 7 == 0 else S.SUCCESS
        status = t.RunStatus.FAILED if i % 7 == 0 else t.RunStatus.SUCCESS
        engine.finish(_run(i, S.SUCCESS, end, S.SUCCESS, status=status))
        if i % 100 == 99:
            engine.flush(30)
    engine.flush(30)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    server, url = start_sandbox({"live_activity": 1000000, "push": 1000000})
    base = f"{url}/api"
    try:
        options = t.TrackerOptions(
            interval=0.01,
            push_window=0.0,
            state_dir=tempfile.mkdtemp(prefix="bench-mem-"),
            auto_dismiss_seconds=5,
        )
        tracemalloc.start(1)  # before the warm-up: what it allocates and later frees counts
        engine = t.Engine(ActivitySmith(KEY, base_url=base), options)
        warm_up = 600  # past every bounded cache (256 ended streams and runs)
        _track(engine, 0, warm_up)
        gc.collect()
        before = tracemalloc.take_snapshot()
        started = time.monotonic()
        _track(engine, warm_up, runs)
        elapsed = time.monotonic() - started
        gc.collect()
        after = tracemalloc.take_snapshot()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        stats = engine.sender.stats
        print(f"runs tracked after warm-up: {runs} in {elapsed:.1f} s ({stats.sent} requests)")
        print(f"heap growth: {grown} B, per finished run: {grown / runs:.1f} B (goal <= 64 B)")
        remembers = getattr(engine.sender, "remembers", None)
        if remembers is not None:
            print(f"streams the sender remembers: {remembers()}")
        top = after.compare_to(before, "lineno")[:5]
        print("largest growth by line:")
        for stat in top:
            print(f"  {stat.size_diff:+8d} B  {stat.traceback[0]}")
    finally:
        server.terminate()
        server.wait(10)
        os.environ.pop("ACTIVITYSMITH_STATE_DIR", None)


if __name__ == "__main__":
    main()

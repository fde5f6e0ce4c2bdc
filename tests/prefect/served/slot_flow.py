"""One tracked flow run in a process of its own, for the 4-activity limit (``test_slots.py``).

``python slot_flow.py short|long NAME CONTROL_DIR``: after its imports the process writes
``CONTROL_DIR/ready-NAME`` and waits for ``CONTROL_DIR/go-short`` (or ``go-long``), so that the
test decides when each run starts. A short run holds its activity until ``CONTROL_DIR/release``
exists; a long run takes ``LONG_STEP`` seconds per task. Each runs three tasks; the process
prints the monotonic time at which the flow's body ended.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks

LONG_STEP = 8.0
WAIT_LIMIT = 120.0


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} never came")
        time.sleep(0.05)


@task
def prepare() -> int:
    return 1


@task
def hold(control: str) -> int:
    _wait_for(Path(control) / "release")
    return 1


@task
def finish() -> int:
    return 1


@task
def work(seconds: float) -> int:
    time.sleep(seconds)
    return 1


def short_body(control: str) -> int:
    total = prepare() + hold(control) + finish()
    print("body ended at", time.monotonic(), flush=True)
    return total


def long_body(control: str) -> int:
    total = sum(
        work.with_options(name=name)(LONG_STEP) for name in ("extract", "transform", "load")
    )
    print("body ended at", time.monotonic(), flush=True)
    return total


if __name__ == "__main__":
    role, name, control = sys.argv[1], sys.argv[2], sys.argv[3]
    body = short_body if role == "short" else long_body
    tracked = flow(name=name, **activitysmith_hooks(interval=0.5, time_left=False))(body)
    (Path(control) / f"ready-{name}").touch()
    _wait_for(Path(control) / f"go-{role}")
    state = tracked(control, return_state=True)
    print("final state:", state.type.value, flush=True)
    sys.exit(0 if state.is_completed() else 1)

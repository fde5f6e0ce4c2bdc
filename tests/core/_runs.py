"""Tracking-test helpers shared by the core's engine, delivery and sender tests: a run,
options, a bounded wait."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from activitysmith_core.tracking import RunState, RunStatus, Step, StepStatus, TrackerOptions


def run_state(
    run_id: str, *statuses: StepStatus, status: RunStatus = RunStatus.RUNNING
) -> RunState:
    """Run ``run_id`` of DAG ``etl`` with one step ``t<i>`` per status."""
    return RunState(
        "test", "etl", run_id, [Step(f"t{i}", s) for i, s in enumerate(statuses)], status=status
    )


def tracker_options(tmp_path: Path, **overrides: Any) -> TrackerOptions:
    """Fast options with their state under ``tmp_path``; ``overrides`` set the timings."""
    fields: dict[str, Any] = {
        "interval": 0.2,
        "state_dir": str(tmp_path / "state"),
        "auto_dismiss_seconds": 30,
    }
    return TrackerOptions(**(fields | overrides))


def wait_for(predicate: Any, seconds: float = 10.0) -> bool:
    """Poll ``predicate`` every 20 ms for at most ``seconds``; its last value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())

"""Tracking-test helpers shared by the core's engine and delivery tests: a run, and options."""

from __future__ import annotations

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

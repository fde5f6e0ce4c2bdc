"""Flow runs as segmented_progress Live Activities: a thin adapter over the core's engine.

One job per module:

- :mod:`._hooks`: the state hooks (:class:`FlowRunTracker`, :func:`activitysmith_hooks`,
  :func:`track`) and the options;
- :mod:`._events`: where task-run changes come from, Prefect's event stream (one subscription
  per process) and an in-process fast path on verified Prefect versions;
- :mod:`._run`: one flow run's model (its segments, never backwards, each change once);
- :mod:`._history`: the reads from the Prefect API (recent runs, the task runs at the end);
- :mod:`._states`: Prefect's states and names as the engine's.
"""

from __future__ import annotations

from ._events import FAST_PATH_VERIFIED
from ._history import prefect_client
from ._hooks import (
    HISTORY_WAIT,
    PREFECT_OPTIONS,
    REMOVED_OPTIONS,
    TRACKER_OPTIONS,
    FlowRunTracker,
    activitysmith_hooks,
    registry,
    resolve_block,
    track,
)
from ._run import CLOCK_TICK, StepFailure, TaskRunChange, TrackedRun
from ._states import flow_run_status, task_step_status

__all__ = [
    "CLOCK_TICK",
    "FAST_PATH_VERIFIED",
    "HISTORY_WAIT",
    "PREFECT_OPTIONS",
    "REMOVED_OPTIONS",
    "TRACKER_OPTIONS",
    "FlowRunTracker",
    "StepFailure",
    "TaskRunChange",
    "TrackedRun",
    "activitysmith_hooks",
    "flow_run_status",
    "prefect_client",
    "registry",
    "resolve_block",
    "task_step_status",
    "track",
]

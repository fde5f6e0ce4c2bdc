"""Flow runs as segmented_progress Live Activities: a thin adapter over the core's engine.

One job per module:

- :mod:`._hooks`: the state hooks (:class:`FlowRunTracker`, :func:`activitysmith_hooks`,
  :func:`track`) and the options;
- :mod:`._events`: the process's tracked runs, to which every source's changes are routed;
- :mod:`._stream`: Prefect's event stream, one subscription per process;
- :mod:`._fast`: the in-process fast path on verified Prefect versions (Prefect's internals
  wrapped in one place);
- :mod:`._changes`: a task-run change, built in one place from every source's shape;
- :mod:`._run`: one flow run's model (its segments, never backwards, each change once);
- :mod:`._history`: the reads from the Prefect API (recent runs, the task runs at the end);
- :mod:`._delivery_events`: the core's delivery signals as ``activitysmith.*`` Prefect events;
- :mod:`._group`: a group's activity, written by one process at a time (the group's lease);
- :mod:`._states`: Prefect's states and names as the engine's.
"""

from __future__ import annotations

from ._changes import TaskRunChange
from ._delivery_events import EVENTS, delivery_events
from ._fast import FAST_PATH_VERIFIED
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
from ._run import CLOCK_TICK, RunSettings, StepFailure, TrackedRun
from ._states import flow_run_status, task_step_status

__all__ = [
    "CLOCK_TICK",
    "EVENTS",
    "FAST_PATH_VERIFIED",
    "HISTORY_WAIT",
    "PREFECT_OPTIONS",
    "REMOVED_OPTIONS",
    "TRACKER_OPTIONS",
    "FlowRunTracker",
    "RunSettings",
    "StepFailure",
    "TaskRunChange",
    "TrackedRun",
    "activitysmith_hooks",
    "delivery_events",
    "flow_run_status",
    "prefect_client",
    "registry",
    "resolve_block",
    "task_step_status",
    "track",
]

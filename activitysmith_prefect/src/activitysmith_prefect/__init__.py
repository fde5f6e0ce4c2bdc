"""ActivitySmith collection for Prefect: a block, state hooks that turn flow runs into iOS Live
Activities, and tasks that send pushes and Live Activities."""

from __future__ import annotations

from .blocks import ActivitySmith
from .tasks import (
    aend_live_activity,
    asend_push,
    astream_live_activity,
    aupdate_metric,
    end_live_activity,
    send_push,
    stream_live_activity,
    update_metric,
)
from .tracking import FlowRunTracker, activitysmith_hooks, track

__version__ = "0.1.0"
__all__ = [
    "ActivitySmith",
    "FlowRunTracker",
    "__version__",
    "activitysmith_hooks",
    "aend_live_activity",
    "asend_push",
    "astream_live_activity",
    "aupdate_metric",
    "end_live_activity",
    "send_push",
    "stream_live_activity",
    "track",
    "update_metric",
]

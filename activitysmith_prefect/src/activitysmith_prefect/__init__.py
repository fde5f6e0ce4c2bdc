"""ActivitySmith collection for Prefect: a block, state hooks that turn flow runs into iOS Live
Activities, and tasks that send pushes and Live Activities."""

from __future__ import annotations

from importlib import metadata as _metadata

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
from .webhook import acreate_activitysmith_webhook_block, create_activitysmith_webhook_block

try:
    __version__: str = _metadata.version("activitysmith-prefect")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"
__all__ = [
    "ActivitySmith",
    "FlowRunTracker",
    "__version__",
    "acreate_activitysmith_webhook_block",
    "activitysmith_hooks",
    "aend_live_activity",
    "asend_push",
    "astream_live_activity",
    "aupdate_metric",
    "create_activitysmith_webhook_block",
    "end_live_activity",
    "send_push",
    "stream_live_activity",
    "track",
    "update_metric",
]

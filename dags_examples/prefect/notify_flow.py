"""The tasks and the notification block together: push, a value activity, notify()."""

from __future__ import annotations

import os

from prefect import flow

from activitysmith_core import DEFAULT_BASE_URL
from activitysmith_prefect import (
    ActivitySmith,
    end_live_activity,
    send_push,
    stream_live_activity,
)


@flow(name="release")
def notify_flow(version: str = "2.3.0") -> None:
    block = ActivitySmith(
        api_key=os.environ["ACTIVITYSMITH_API_KEY"],
        base_url=os.environ.get("ACTIVITYSMITH_BASE_URL", DEFAULT_BASE_URL),
    )
    send_push(
        f"Releasing {version}", block=block, message="Build started", interruption_level="passive"
    )
    stream_live_activity(
        "release", {"title": "Release", "type": "value", "value": version}, block=block
    )
    end_live_activity(
        "release",
        {"title": "Release", "type": "value", "value": "live", "auto_dismiss_minutes": 1},
        block=block,
    )
    block.notify(f"{version} is live", subject="Release")


if __name__ == "__main__":
    notify_flow()

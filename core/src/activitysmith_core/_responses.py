"""Pydantic v2 models of the API's answers (re-exported by ``models``).

Responses allow unknown fields and unknown enum values, so a newer server never breaks an older
client.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class StreamOperation(str, Enum):
    """What a stream PUT/DELETE did. Unknown future values stay plain strings."""

    STARTED = "started"
    UPDATED = "updated"
    ROTATED = "rotated"
    NOOP = "noop"
    PAUSED = "paused"
    ENDED = "ended"


def _operation(value: Any) -> Any:
    try:
        return StreamOperation(value)
    except ValueError:
        return value


Operation = Annotated[StreamOperation | str, BeforeValidator(_operation)]


class PushNotificationResponse(_Response):
    success: bool
    timestamp: str
    notification_id: str | None = None
    devices_notified: int | None = None
    users_notified: int | None = None
    devices_targeted: int | None = None
    devices_deactivated: int | None = None
    devices_unregistered: int | None = None
    effective_channel_slugs: list[str] | None = None
    tags: list[str] | None = None
    credential_test: bool | None = None
    message: str | None = None


class PushNotificationReplaceResponse(_Response):
    success: bool
    notification_id: str
    timestamp: str
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: list[str] | None = None
    tags: list[str] | None = None


class LiveActivityStreamPutResponse(_Response):
    success: bool
    operation: Operation
    stream_key: str
    timestamp: str
    activity_id: str | None = None
    previous_activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: list[str] | None = None
    tags: list[str] | None = None
    warning: str | None = None
    ignored: bool | None = None
    remote_push_sent: bool | None = None
    message: str | None = None
    errors: list[str] | None = None


class LiveActivityStreamDeleteResponse(_Response):
    success: bool
    operation: Operation
    stream_key: str
    timestamp: str
    activity_id: str | None = None
    devices_queued: int | None = None
    devices_notified: int | None = None
    ignored: bool | None = None
    message: str | None = None
    forced_completion: bool | None = None
    warning: str | None = None
    errors: list[str] | None = None


class LiveActivityStartResponse(_Response):
    success: bool
    activity_id: str
    timestamp: str
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: list[str] | None = None
    tags: list[str] | None = None
    message: str | None = None
    errors: list[str] | None = None
    ended_activity_id: str | None = None


class LiveActivityUpdateResponse(_Response):
    success: bool
    activity_id: str
    timestamp: str
    operation: str | None = None
    stream_key: str | None = None
    previous_activity_id: str | None = None
    devices_queued: int | None = None
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: list[str] | None = None
    tags: list[str] | None = None
    errors: list[str] | None = None


class LiveActivityEndResponse(_Response):
    success: bool
    activity_id: str
    timestamp: str
    devices_queued: int | None = None
    devices_notified: int | None = None
    ignored: bool | None = None
    message: str | None = None
    end_reason: str | None = None
    warning: str | None = None
    forced_completion: bool | None = None
    errors: list[str] | None = None


class MetricValueUpdateResponse(_Response):
    success: bool


class AppIconBadgeCountUpdateResponse(_Response):
    success: bool
    badge: int
    devices_updated: int
    users_updated: int
    effective_channel_slugs: list[str] | None = None
    timestamp: str
    devices_targeted: int | None = None
    devices_deactivated: int | None = None
    devices_unregistered: int | None = None

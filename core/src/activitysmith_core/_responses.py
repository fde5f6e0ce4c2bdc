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


class _Answer(_Response):
    success: bool
    timestamp: str


class _Reach(_Response):
    """Who a push or an activity's start or update reached."""

    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: list[str] | None = None
    tags: list[str] | None = None


class _Devices(_Response):
    """What a push or a badge did to the devices it targeted."""

    devices_targeted: int | None = None
    devices_deactivated: int | None = None
    devices_unregistered: int | None = None


class _Outcome(_Response):
    """What the service says of a Live Activity request beyond success."""

    message: str | None = None
    warning: str | None = None
    errors: list[str] | None = None


class _Ending(_Outcome):
    """An end's delivery: queued for devices, or ignored (already ended), forced or not."""

    devices_queued: int | None = None
    devices_notified: int | None = None
    ignored: bool | None = None
    forced_completion: bool | None = None


class _Stream(_Answer):
    operation: Operation
    stream_key: str
    activity_id: str | None = None


class PushNotificationResponse(_Answer, _Reach, _Devices):
    notification_id: str | None = None
    credential_test: bool | None = None
    message: str | None = None


class PushNotificationReplaceResponse(_Answer, _Reach):
    notification_id: str


class LiveActivityStreamPutResponse(_Stream, _Reach, _Outcome):
    previous_activity_id: str | None = None
    devices_queued: int | None = None
    ignored: bool | None = None
    remote_push_sent: bool | None = None


class LiveActivityStreamDeleteResponse(_Stream, _Ending):
    pass


class LiveActivityStartResponse(_Answer, _Reach):
    activity_id: str
    message: str | None = None
    errors: list[str] | None = None
    ended_activity_id: str | None = None


class LiveActivityUpdateResponse(_Answer, _Reach):
    activity_id: str
    operation: str | None = None
    stream_key: str | None = None
    previous_activity_id: str | None = None
    devices_queued: int | None = None
    errors: list[str] | None = None


class LiveActivityEndResponse(_Answer, _Ending):
    activity_id: str
    end_reason: str | None = None


class MetricValueUpdateResponse(_Response):
    success: bool


class AppIconBadgeCountUpdateResponse(_Answer, _Devices):
    badge: int
    devices_updated: int
    users_updated: int
    effective_channel_slugs: list[str] | None = None

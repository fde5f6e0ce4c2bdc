"""Public typing helpers: the TypedDicts and Literal types of the client's typed surface, and the
rate-limit status the clients keep.

    from activitysmith_core.types import ContentState, Action, RateLimitStatus

    state: ContentState = {"title": "ETL", "type": "segmented_progress",
                           "number_of_steps": 3, "current_step": 1, "step_colors": ["green"]}
    client.live_activities.stream(key, content_state=state)

Light: importing this module pulls in neither httpx nor pydantic.
"""

from __future__ import annotations

from ._ratelimit import RateLimitStatus, parse_rate_limit
from ._types import (
    Action,
    ActionType,
    ActivityMetric,
    ActivityType,
    AlertPayload,
    Badge,
    ChannelTarget,
    Color,
    ContentFields,
    ContentState,
    HttpMethod,
    Icon,
    InterruptionLevel,
    LiveActivityEndParams,
    LiveActivityStartParams,
    LiveActivityStreamEndParams,
    LiveActivityStreamParams,
    LiveActivityUpdateParams,
    Metadata,
    MetadataValue,
    PushNotificationParams,
    PushNotificationReplaceParams,
    Target,
)

__all__ = [
    "Action",
    "ActionType",
    "ActivityMetric",
    "ActivityType",
    "AlertPayload",
    "Badge",
    "ChannelTarget",
    "Color",
    "ContentFields",
    "ContentState",
    "HttpMethod",
    "Icon",
    "InterruptionLevel",
    "LiveActivityEndParams",
    "LiveActivityStartParams",
    "LiveActivityStreamEndParams",
    "LiveActivityStreamParams",
    "LiveActivityUpdateParams",
    "Metadata",
    "MetadataValue",
    "PushNotificationParams",
    "PushNotificationReplaceParams",
    "RateLimitStatus",
    "Target",
    "parse_rate_limit",
]

"""TypedDicts for the request objects the client takes as plain dicts.

They give a type checker the shape of every nested object (``content_state``, actions, targets,
icons, ...); at runtime nothing here is enforced: the pydantic models in :mod:`.models` validate
every request before it is sent. This module imports neither httpx nor pydantic.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if sys.version_info >= (3, 11):
    from typing import Required
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Required

if TYPE_CHECKING:
    from . import models as m

Color = Literal[
    "lime", "green", "cyan", "blue", "purple", "magenta", "red", "orange", "yellow", "gray"
]
ActivityType = Literal[
    "segmented_progress", "progress", "metrics", "stats", "alert", "timer", "value"
]
InterruptionLevel = Literal["passive", "active", "time-sensitive"]
ActionType = Literal["open_url", "webhook"]
HttpMethod = Literal["GET", "POST"]
MetadataValue = str | int | float | bool
Metadata = Mapping[str, MetadataValue]


class ChannelTarget(TypedDict):
    """``target``: the channel slugs to deliver to (at least one)."""

    channels: Sequence[str]


Target = ChannelTarget


class Icon(TypedDict, total=False):
    """An SF Symbol shown on the activity."""

    symbol: Required[str]
    color: Color


class Badge(TypedDict, total=False):
    """A small labelled badge (alert, progress, segmented_progress, value)."""

    title: Required[str]
    color: Color


class ActivityMetric(TypedDict, total=False):
    """One labelled value of a ``metrics`` or ``stats`` activity."""

    label: Required[str]
    value: Required[float | str]
    unit: str
    color: Color


class AlertPayload(TypedDict, total=False):
    """``alert``: the alert text sent with a Live Activity push."""

    title: str
    body: str


class Action(TypedDict, total=False):
    """A button: ``open_url`` (opens ``url``) or ``webhook`` (https; ``method`` and ``body``)."""

    title: Required[str]
    type: Required[ActionType]
    url: Required[str]
    method: HttpMethod
    body: Mapping[str, Any]


class _ContentFields(TypedDict, total=False):
    subtitle: str
    type: ActivityType
    number_of_steps: int
    current_step: int
    percentage: float
    value: float | str
    upper_limit: float
    duration_seconds: float
    counts_down: bool
    is_running: bool
    metrics: Sequence[ActivityMetric | m.ActivityMetric]
    message: str
    icon: Icon | m.Icon
    badge: Badge | m.Badge
    color: Color
    step_color: Color
    step_colors: Sequence[Color]
    auto_dismiss_minutes: int
    auto_dismiss_seconds: int


class ContentState(_ContentFields, total=False):
    """The state of a Live Activity. Which fields a type needs is checked at runtime."""

    title: Required[str]


class ContentFields(_ContentFields, total=False):
    """The same fields as keywords of the Live Activity methods (``title="ETL", current_step=2``),
    each optional there: they are merged over ``content_state`` and checked at runtime."""

    title: str


class _PushContent(TypedDict, total=False):
    title: Required[str]
    message: str
    subtitle: str
    icon: str
    media: str
    redirection: str
    actions: Sequence[Action]
    payload: Mapping[str, Any]
    badge: int
    tags: Sequence[str]
    metadata: Metadata


class PushNotificationParams(_PushContent, total=False):
    """A whole ``POST /push-notification`` body, for ``notifications.send(body)``."""

    interruption_level: InterruptionLevel
    sound: str
    target: ChannelTarget
    channels: Sequence[str] | str


class PushNotificationReplaceParams(_PushContent, total=False):
    """A whole replace body, for ``notifications.replace(notification_id, body)``."""


class _ActivityCommon(TypedDict, total=False):
    action: Action
    secondary_action: Action
    tags: Sequence[str]
    metadata: Metadata


class _NewActivity(_ActivityCommon, total=False):
    content_state: Required[ContentState]
    alert: AlertPayload
    channels: Sequence[str] | str
    target: ChannelTarget


class _KnownActivity(_ActivityCommon, total=False):
    activity_id: Required[str]
    content_state: Required[ContentState]


class LiveActivityStreamParams(_NewActivity, total=False):
    """A whole stream PUT body, for ``live_activities.stream(key, body)``."""


class LiveActivityStreamEndParams(_ActivityCommon, total=False):
    """A whole stream DELETE body, for ``live_activities.end_stream(key, body)``."""

    content_state: ContentState
    alert: AlertPayload


class LiveActivityStartParams(_NewActivity, total=False):
    """A whole legacy start body, for ``live_activities.start(body)``."""


class LiveActivityUpdateParams(_KnownActivity, total=False):
    """A whole legacy update body, for ``live_activities.update(body)``."""


class LiveActivityEndParams(_KnownActivity, total=False):
    """A whole legacy end body, for ``live_activities.end(body)``."""

"""Pydantic v2 models for every ActivitySmith request and response.

Requests forbid unknown fields and enforce the API's limits, so bad input fails here, naming the
field, before any network call. Responses allow unknown fields and unknown enum values, so a
newer server never breaks an older client.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from ._constants import COLORS
from ._responses import (
    AppIconBadgeCountUpdateResponse,
    LiveActivityEndResponse,
    LiveActivityStartResponse,
    LiveActivityStreamDeleteResponse,
    LiveActivityStreamPutResponse,
    LiveActivityUpdateResponse,
    MetricValueUpdateResponse,
    PushNotificationReplaceResponse,
    PushNotificationResponse,
    StreamOperation,
)
from .errors import ValidationError

__all__ = [
    "COLORS",
    "ActivityMetric",
    "ActivityType",
    "AlertPayload",
    "AppIconBadgeCountUpdateRequest",
    "AppIconBadgeCountUpdateResponse",
    "Badge",
    "ChannelTarget",
    "Color",
    "ContentState",
    "Icon",
    "InterruptionLevel",
    "LiveActivityAction",
    "LiveActivityEndRequest",
    "LiveActivityEndResponse",
    "LiveActivityStartRequest",
    "LiveActivityStartResponse",
    "LiveActivityStreamDeleteRequest",
    "LiveActivityStreamDeleteResponse",
    "LiveActivityStreamPutResponse",
    "LiveActivityStreamRequest",
    "LiveActivityUpdateRequest",
    "LiveActivityUpdateResponse",
    "MetricValueUpdateRequest",
    "MetricValueUpdateResponse",
    "PushNotificationAction",
    "PushNotificationReplaceRequest",
    "PushNotificationReplaceResponse",
    "PushNotificationRequest",
    "PushNotificationResponse",
    "StreamOperation",
    "validate",
]

Color = Literal[
    "lime", "green", "cyan", "blue", "purple", "magenta", "red", "orange", "yellow", "gray"
]
ActivityType = Literal[
    "segmented_progress", "progress", "metrics", "stats", "alert", "timer", "value"
]
InterruptionLevel = Literal["passive", "active", "time-sensitive"]

STREAM_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
METRIC_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BLOCKED_SCHEMES = {"javascript", "data", "file", "vbscript", "about", "blob"}
_SECONDARY_TYPES = {"alert", "progress", "segmented_progress", "value"}

Number = StrictInt | StrictFloat
NonEmptyStr = Annotated[str, Field(min_length=1, strict=True)]
Tag = Annotated[str, Field(min_length=1, max_length=64, strict=True)]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a finite number or a string of 1 to 64 characters")
    if isinstance(value, str) and not 1 <= len(value) <= 64:
        raise ValueError("must be a finite number or a string of 1 to 64 characters")
    return _finite(value)


FiniteNumber = Annotated[Number, BeforeValidator(_finite)]


def _metadata_value(value: Any) -> Any:
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError("must be a string, a finite number or a boolean")
    if isinstance(value, str) and len(value) > 4000:
        raise ValueError("must be at most 4000 characters")
    return _finite(value)


MetadataValue = Annotated[
    StrictBool | StrictInt | StrictFloat | StrictStr, BeforeValidator(_metadata_value)
]
# A Live Activity or metric value: a finite number or a short string; never a bool.
Value = Annotated[StrictInt | StrictFloat | StrictStr, BeforeValidator(_value)]


def _https(value: str, field: str = "") -> str:
    prefix = f"{field}: " if field else ""
    if not value.lower().startswith("https://"):
        raise ValueError(f"{prefix}must be an https:// URL")
    if "@" in value.split("/", 3)[2]:
        raise ValueError(f"{prefix}must not contain credentials")
    return value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body sent to the API: documented fields only, nulls omitted."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ChannelTarget(_Request):
    channels: Annotated[list[NonEmptyStr], Field(min_length=1)]


class Icon(_Request):
    symbol: NonEmptyStr
    color: Color | None = None


class Badge(_Request):
    title: NonEmptyStr
    color: Color | None = None


class ActivityMetric(_Request):
    label: NonEmptyStr
    value: Value
    unit: StrictStr | None = None
    color: Color | None = None

    @field_validator("value")
    @classmethod
    def _non_negative(cls, value: Any) -> Any:
        if not isinstance(value, str) and value < 0:
            raise ValueError("must be >= 0")
        return value


class AlertPayload(_Request):
    title: StrictStr | None = None
    body: StrictStr | None = None


class _Action(_Request):
    title: NonEmptyStr
    type: Literal["open_url", "webhook"]
    url: NonEmptyStr
    method: Literal["GET", "POST"] | None = None
    body: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> _Action:
        if self.type == "webhook":
            _https(self.url, "url")
        else:
            if self.method is not None or self.body is not None:
                raise ValueError("method: method and body are only allowed on webhook actions")
            self._check_open_url()
        return self

    def _check_open_url(self) -> None:
        scheme = self.url.split(":", 1)[0].lower() if _SCHEME_RE.match(self.url) else ""
        if not scheme or scheme in _BLOCKED_SCHEMES:
            raise ValueError("url: must be an http(s), shortcuts:// or app URL")


class PushNotificationAction(_Action):
    """A push button: open_url (http(s), shortcuts:// or an app's scheme) or an https webhook."""


class LiveActivityAction(_Action):
    """A Live Activity button: open_url (http(s) or shortcuts://) or an https webhook."""

    def _check_open_url(self) -> None:
        if not self.url.lower().startswith(("http://", "https://", "shortcuts://")):
            raise ValueError("url: an open_url action must be http(s) or shortcuts://")


Metadata = Annotated[dict[Annotated[str, Field(max_length=100)], MetadataValue], Field()]


class _Common(_Request):
    tags: list[Tag] | None = None
    metadata: Metadata | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if len(value) > 50:
            raise ValueError("at most 50 entries")
        for v in value.values():
            _finite(v)
        if len(json.dumps(value, ensure_ascii=False).encode()) > 16 * 1024:
            raise ValueError("at most 16 KB of JSON")
        return value


class _PushContent(_Common):
    title: StrictStr
    message: StrictStr | None = None
    subtitle: StrictStr | None = None
    icon: StrictStr | None = None
    media: StrictStr | None = None
    redirection: Annotated[str, Field(max_length=2048, strict=True)] | None = None
    actions: Annotated[list[PushNotificationAction], Field(max_length=4)] | None = None
    payload: dict[str, Any] | None = None
    badge: StrictInt | None = None

    @field_validator("icon", "media")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        return None if value is None else _https(value)

    @field_validator("redirection")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and not _SCHEME_RE.match(value):
            raise ValueError("must be a URL with a scheme, e.g. https://...")
        return value

    @model_validator(mode="after")
    def _media_xor_actions(self) -> _PushContent:
        if self.media and self.actions:
            raise ValueError("media: cannot be combined with actions (use redirection instead)")
        return self


class PushNotificationRequest(_PushContent):
    interruption_level: InterruptionLevel | None = None
    sound: StrictStr | None = None
    target: ChannelTarget | None = None


class PushNotificationReplaceRequest(_PushContent):
    """A replacement: the send fields minus interruption_level, sound and target."""


class ContentState(_Request):
    """The Live Activity state. Per-type rules are checked by the request that carries it."""

    title: StrictStr
    subtitle: StrictStr | None = None
    type: ActivityType | None = None
    number_of_steps: Annotated[int, Field(ge=1, strict=True)] | None = None
    current_step: Annotated[int, Field(ge=0, strict=True)] | None = None
    percentage: Annotated[Number, Field(ge=0, le=100)] | None = None
    value: Value | None = None
    upper_limit: Annotated[FiniteNumber, Field(gt=0)] | None = None
    duration_seconds: Annotated[FiniteNumber, Field(gt=0)] | None = None
    counts_down: StrictBool | None = None
    is_running: StrictBool | None = None
    metrics: Annotated[list[ActivityMetric], Field(min_length=1, max_length=8)] | None = None
    message: NonEmptyStr | None = None
    icon: Icon | None = None
    badge: Badge | None = None
    color: Color | None = None
    step_color: Color | None = None
    step_colors: list[Color] | None = None
    auto_dismiss_minutes: Annotated[int, Field(ge=0, strict=True)] | None = None
    auto_dismiss_seconds: Annotated[int, Field(ge=0, strict=True)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ContentState:
        n, c = self.number_of_steps, self.current_step
        if n is not None and c is not None and c > n:
            raise ValueError(f"current_step: {c} must be <= number_of_steps ({n})")
        if self.step_colors is not None and n is not None and len(self.step_colors) > n:
            raise ValueError(f"step_colors: {len(self.step_colors)} colours for {n} steps")
        return self

    def check_type(self, *, require_type: bool, starting: bool) -> None:
        """Apply the per-type rules of the API (3.2) for a start / first PUT or an update."""
        t = self.type
        if t is None:
            if require_type:
                raise ValueError("type: field required")
            return
        if t == "segmented_progress":
            needed = ("number_of_steps", "current_step") if starting else ("current_step",)
            for name in needed:
                if getattr(self, name) is None:
                    raise ValueError(f"{name}: required for type segmented_progress")
        elif t == "progress":
            if self.percentage is None and (self.value is None or self.upper_limit is None):
                raise ValueError("percentage: required for type progress (or value+upper_limit)")
            if self.value is not None and isinstance(self.value, str):
                raise ValueError("value: must be a number for type progress")
        elif t in ("metrics", "stats"):
            if not self.metrics:
                raise ValueError(f"metrics: 1 to 8 metrics required for type {t}")
        elif t == "alert":
            if self.message is None:
                raise ValueError("message: required for type alert")
        elif t == "value" and self.value is None:
            raise ValueError("value: required for type value")
        if self.badge is not None and t not in _SECONDARY_TYPES:
            raise ValueError(f"badge: not supported by type {t}")


class _ActivityCommon(_Common):
    content_state: ContentState
    action: LiveActivityAction | None = None
    secondary_action: LiveActivityAction | None = None

    _require_type = False
    _starting = False

    @model_validator(mode="after")
    def _per_type(self) -> _ActivityCommon:
        try:
            self.content_state.check_type(require_type=self._require_type, starting=self._starting)
        except ValueError as exc:
            raise ValueError(f"content_state.{exc}") from None
        t = self.content_state.type
        if self.secondary_action is not None and t is not None and t not in _SECONDARY_TYPES:
            raise ValueError(f"secondary_action: not supported by type {t}")
        return self


class LiveActivityStreamRequest(_ActivityCommon):
    alert: AlertPayload | None = None
    channels: Annotated[list[NonEmptyStr], Field(min_length=1)] | None = None
    target: ChannelTarget | None = None
    _starting = True

    @model_validator(mode="after")
    def _channels_match(self) -> LiveActivityStreamRequest:
        if self.channels and self.target and sorted(self.channels) != sorted(self.target.channels):
            raise ValueError("channels: must match target.channels when both are given")
        return self


class LiveActivityStreamDeleteRequest(_Common):
    content_state: ContentState | None = None
    action: LiveActivityAction | None = None
    secondary_action: LiveActivityAction | None = None
    alert: AlertPayload | None = None

    @model_validator(mode="after")
    def _per_type(self) -> LiveActivityStreamDeleteRequest:
        if self.content_state is not None:
            try:
                self.content_state.check_type(require_type=False, starting=False)
            except ValueError as exc:
                raise ValueError(f"content_state.{exc}") from None
        return self


class LiveActivityStartRequest(_ActivityCommon):
    alert: AlertPayload | None = None
    target: ChannelTarget | None = None
    _require_type = True
    _starting = True


class LiveActivityUpdateRequest(_ActivityCommon):
    activity_id: NonEmptyStr
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None


class LiveActivityEndRequest(_ActivityCommon):
    activity_id: NonEmptyStr
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None


class MetricValueUpdateRequest(_Request):
    value: Value
    timestamp: str | None = None


class AppIconBadgeCountUpdateRequest(_Request):
    badge: Annotated[int, Field(ge=0, le=2_147_483_647, strict=True)]
    target: ChannelTarget | None = None


M = TypeVar("M", bound=BaseModel)


def _loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in str(item) or str(item).startswith(("function-", "tagged-union")):
            continue  # pydantic's union branch labels, not user fields
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def validate(model: type[M], data: Any, *, prefix: str = "") -> M:
    """Build ``model`` from a model instance or a dict; raise ValidationError naming the field."""
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_none=True)
    if not isinstance(data, dict):
        raise ValidationError(
            f"{prefix or 'request'}: expected a mapping, got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError.from_pydantic(exc, _loc, prefix=prefix) from None

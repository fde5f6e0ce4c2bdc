"""The sync and async ActivitySmith clients, on httpx. They mirror each other."""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from . import _types as t
from . import models as m
from ._config import DEFAULT_BASE_URL, check_base_url, split_channels
from ._ratelimit import RateLimitStatus, parse_rate_limit
from ._retry import RetryPolicy
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    ValidationError,
    error_for_response,
)

if sys.version_info >= (3, 11):
    from typing import Never, Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Never, Unpack

__all__ = ["DEFAULT_BASE_URL", "ActivitySmith", "AsyncActivitySmith"]

logger = logging.getLogger("activitysmith_core")

DEFAULT_TIMEOUT = 10.0
try:
    _VERSION = _dist_version("activitysmith-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "0+unknown"
_USER_AGENT = f"activitysmith-core/{_VERSION} (python; httpx)"

R = TypeVar("R", bound=BaseModel)
Request = BaseModel | Mapping[str, Any] | None
# A content_state: the TypedDict, the model, or any mapping (a dict built at runtime); the
# pydantic models check it either way before anything is sent.
_State = t.ContentState | m.ContentState | Mapping[str, Any]
_CONTENT_FIELDS = frozenset(m.ContentState.model_fields)
_NOT_FIELDS = frozenset({"self", "request", "notification_id", "stream_key", "content", "unknown"})


@dataclass(frozen=True)
class _Call(Generic[R]):
    method: str
    path: str
    body: dict[str, Any] | None
    response: type[R]
    idempotent: bool


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    """The request fields of a resource method, from its ``locals()`` taken on entry.

    The content-state keywords (``**content``, typed once by ``ContentFields``) are merged in;
    keywords no signature names land there or in ``**unknown`` and are kept too, so validation
    rejects them with a ``ValidationError`` naming the field, as it rejects unknown dict keys.
    """
    fields = {k: v for k, v in params.items() if k not in _NOT_FIELDS}
    fields.update(params.get("content") or {})
    fields.update(params.get("unknown") or {})
    return fields


def _merge(request: Request, fields: dict[str, Any]) -> dict[str, Any]:
    if request is None:
        data: dict[str, Any] = {}
    elif isinstance(request, BaseModel):
        data = request.model_dump(exclude_none=True)
    elif isinstance(request, Mapping):
        data = dict(request)
    else:
        raise ValidationError(
            f"request: expected a model or a mapping, got {type(request).__name__}",
            field="request",
        )
    data.update({k: v for k, v in fields.items() if v is not None})
    return data


def _lift_content(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Move flat content-state kwargs (title=..., current_step=...) into content_state."""
    flat = {
        k: data.pop(k) for k in list(data) if k in _CONTENT_FIELDS and k not in model.model_fields
    }
    if flat:
        state = data.get("content_state") or {}
        if isinstance(state, BaseModel):
            state = state.model_dump(exclude_none=True)
        data["content_state"] = {**state, **flat}
    return data


class _Builder:
    """Turns user input into validated calls; shared by both clients."""

    def __init__(self, channels: list[str] | None) -> None:
        self.channels = channels

    def _target(self, data: dict[str, Any], *, top_level: bool = False) -> dict[str, Any]:
        channels = split_channels(data.pop("channels", None))
        if channels is None and "target" not in data and self.channels:
            channels = list(self.channels)
        if channels is not None:
            if top_level:
                data["channels"] = channels
            elif "target" in data:
                raise ValidationError(
                    "channels: give either channels or target, not both", field="channels"
                )
            else:
                data["target"] = {"channels": channels}
        return data

    @staticmethod
    def _key(stream_key: str) -> str:
        if not isinstance(stream_key, str) or not m.STREAM_KEY_RE.match(stream_key):
            raise ValidationError(
                f"stream_key: {stream_key!r} must match ^[A-Za-z0-9_-]{{1,255}}$ "
                "(activitysmith_core.stream_key() builds a valid one)",
                field="stream_key",
            )
        return stream_key

    @staticmethod
    def _body(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
        req = m.validate(model, data)
        return req.to_wire()  # type: ignore[attr-defined,no-any-return]

    def push_send(
        self, request: Request, fields: dict[str, Any]
    ) -> _Call[m.PushNotificationResponse]:
        data = self._target(_merge(request, fields))
        body = self._body(m.PushNotificationRequest, data)
        return _Call("POST", "/push-notification", body, m.PushNotificationResponse, False)

    def push_replace(
        self, notification_id: str, request: Request, fields: dict[str, Any]
    ) -> _Call[m.PushNotificationReplaceResponse]:
        if not isinstance(notification_id, str) or not notification_id:
            raise ValidationError(
                "notification_id: must be a non-empty string", field="notification_id"
            )
        body = self._body(m.PushNotificationReplaceRequest, _merge(request, fields))
        path = f"/push-notification/{quote(notification_id, safe='')}"
        return _Call("PUT", path, body, m.PushNotificationReplaceResponse, True)

    def stream(
        self, stream_key: str, request: Request, fields: dict[str, Any]
    ) -> _Call[m.LiveActivityStreamPutResponse]:
        key = self._key(stream_key)
        data = _lift_content(_merge(request, fields), m.LiveActivityStreamRequest)
        body = self._body(m.LiveActivityStreamRequest, self._target(data, top_level=True))
        return _Call(
            "PUT", f"/live-activity/stream/{key}", body, m.LiveActivityStreamPutResponse, True
        )

    def end_stream(
        self, stream_key: str, request: Request, fields: dict[str, Any]
    ) -> _Call[m.LiveActivityStreamDeleteResponse]:
        key = self._key(stream_key)
        data = _lift_content(_merge(request, fields), m.LiveActivityStreamDeleteRequest)
        body = self._body(m.LiveActivityStreamDeleteRequest, data) if data else None
        return _Call(
            "DELETE",
            f"/live-activity/stream/{key}",
            body or None,
            m.LiveActivityStreamDeleteResponse,
            True,
        )

    def start(self, request: Request, fields: dict[str, Any]) -> _Call[m.LiveActivityStartResponse]:
        data = self._target(_lift_content(_merge(request, fields), m.LiveActivityStartRequest))
        body = self._body(m.LiveActivityStartRequest, data)
        return _Call("POST", "/live-activity/start", body, m.LiveActivityStartResponse, False)

    def update(
        self, request: Request, fields: dict[str, Any]
    ) -> _Call[m.LiveActivityUpdateResponse]:
        data = _lift_content(_merge(request, fields), m.LiveActivityUpdateRequest)
        body = self._body(m.LiveActivityUpdateRequest, data)
        return _Call("POST", "/live-activity/update", body, m.LiveActivityUpdateResponse, True)

    def end(self, request: Request, fields: dict[str, Any]) -> _Call[m.LiveActivityEndResponse]:
        data = _lift_content(_merge(request, fields), m.LiveActivityEndRequest)
        body = self._body(m.LiveActivityEndRequest, data)
        return _Call("POST", "/live-activity/end", body, m.LiveActivityEndResponse, True)

    def metric(self, key: str, value: Any, timestamp: Any) -> _Call[m.MetricValueUpdateResponse]:
        if not isinstance(key, str) or not m.METRIC_KEY_RE.match(key):
            raise ValidationError(
                f"key: {key!r} must match ^[a-z0-9][a-z0-9_.-]{{0,63}}$", field="key"
            )
        if hasattr(timestamp, "isoformat"):
            timestamp = timestamp.isoformat()
        body = self._body(m.MetricValueUpdateRequest, {"value": value, "timestamp": timestamp})
        return _Call("POST", f"/metrics/{key}/value", body, m.MetricValueUpdateResponse, True)

    def badge(self, badge: Any, channels: Any) -> _Call[m.AppIconBadgeCountUpdateResponse]:
        data = self._target({"badge": badge, "channels": channels})
        body = self._body(m.AppIconBadgeCountUpdateRequest, data)
        return _Call("POST", "/badge", body, m.AppIconBadgeCountUpdateResponse, True)


class _BaseClient:
    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        retry: RetryPolicy | None,
        channels: list[str] | str | None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("ACTIVITYSMITH_API_KEY")
        if not key or not isinstance(key, str) or not key.strip():
            raise ConfigurationError(
                "api_key: no API key given and ACTIVITYSMITH_API_KEY is not set"
            )
        self.__key = key.strip()
        url = base_url or os.environ.get("ACTIVITYSMITH_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = check_base_url(url)
        if timeout <= 0:
            raise ConfigurationError("timeout: must be > 0")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._build = _Builder(split_channels(channels))
        # Policy name -> its latest status, from every answer; with_options copies share it.
        self.rate_limits: dict[str, RateLimitStatus] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***')"

    @property
    def key_fingerprint(self) -> str:
        """A one-way fingerprint of the API key: tells accounts apart, reveals nothing."""
        from .tracking._store import fingerprint

        return fingerprint(self.__key)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.__key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }

    def _retrying_kwargs(self, call: _Call[Any]) -> dict[str, Any]:
        policy = self.retry
        return {
            "stop": stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.budget),
            "wait": policy.wait,
            "retry": retry_if_exception(
                lambda e: policy.should_retry(e, idempotent=call.idempotent)
            ),
            "before_sleep": lambda s: logger.warning(
                "ActivitySmith %s %s failed (%s); retry %d in %.2f s",
                call.method,
                call.path,
                s.outcome.exception() if s.outcome else "?",
                s.attempt_number,
                s.next_action.sleep if s.next_action else 0.0,
            ),
            "reraise": True,
        }

    def _attempt_timeout(self, deadline: float) -> float:
        return max(0.05, min(self.timeout, deadline - time.monotonic()))

    def _request_args(self, call: _Call[Any], timeout: float) -> dict[str, Any]:
        # The key goes on each request, never into the httpx client's default headers: a client
        # the caller passed in stays theirs, and its other requests never carry the key.
        headers = self._headers()
        args: dict[str, Any] = {
            "method": call.method,
            "url": self.base_url + call.path,
            "timeout": timeout,
            "headers": headers,
        }
        if call.body is not None:
            args["content"] = json.dumps(call.body, separators=(",", ":"))
            headers["Content-Type"] = "application/json"
        return args

    def _observe(self, response: httpx.Response) -> None:
        """Record the rate-limit headers of any answer (success or error) in ``rate_limits``."""
        for name, status in parse_rate_limit(response.headers).items():
            self.rate_limits[name] = status  # one atomic store per policy; never iterated here

    def rate_limit(self, feature: str) -> RateLimitStatus | None:
        """The last rate-limit state the API reported for ``feature`` (``push``,
        ``live_activity``, ``metric``, ``badge``), or None before any answer named it."""
        return self.rate_limits.get(feature)

    @staticmethod
    def _transport_error(call: _Call[Any], exc: httpx.TransportError) -> Exception:
        where = f"{call.method} {call.path}"
        if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
            return APITimeoutError(f"{where}: connect timed out", maybe_delivered=False)
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"{where}: timed out waiting for the response")
        if isinstance(exc, httpx.ConnectError):
            return APIConnectionError(f"{where}: connection failed ({exc})", maybe_delivered=False)
        return APIConnectionError(f"{where}: connection lost ({type(exc).__name__})")

    @staticmethod
    def _parse(call: _Call[R], response: httpx.Response, started: float) -> R:
        elapsed = (time.monotonic() - started) * 1000
        logger.debug(
            "ActivitySmith %s %s -> %d (%.0f ms)",
            call.method,
            call.path,
            response.status_code,
            elapsed,
        )
        try:
            body: Any = response.json() if response.content else None
        except ValueError:
            body = response.text[:500]
        if response.status_code >= 400:
            raise error_for_response(response.status_code, body, dict(response.headers))
        try:
            return call.response.model_validate(body if isinstance(body, dict) else {})
        except PydanticValidationError as exc:
            raise APIError(
                response.status_code,
                "invalid_response",
                f"unexpected response body: {exc.error_count()} problem(s)",
                body,
            ) from None


class _Resource:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._build: _Builder = client._build


class Notifications(_Resource):
    def send(
        self,
        request: Request = None,
        /,
        *,
        title: str | None = None,
        message: str | None = None,
        subtitle: str | None = None,
        icon: str | None = None,
        media: str | None = None,
        redirection: str | None = None,
        actions: Sequence[t.Action | m.PushNotificationAction] | None = None,
        payload: Mapping[str, Any] | None = None,
        badge: int | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        interruption_level: t.InterruptionLevel | None = None,
        sound: str | None = None,
        target: t.ChannelTarget | m.ChannelTarget | None = None,
        channels: Sequence[str] | str | None = None,
        **unknown: Never,
    ) -> m.PushNotificationResponse:
        """Send a push notification (``POST /push-notification``)."""
        fields = _fields(locals())
        return self._client._send(self._build.push_send(request, fields))  # type: ignore[no-any-return]

    def replace(
        self,
        notification_id: str,
        request: Request = None,
        /,
        *,
        title: str | None = None,
        message: str | None = None,
        subtitle: str | None = None,
        icon: str | None = None,
        media: str | None = None,
        redirection: str | None = None,
        actions: Sequence[t.Action | m.PushNotificationAction] | None = None,
        payload: Mapping[str, Any] | None = None,
        badge: int | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        **unknown: Never,
    ) -> m.PushNotificationReplaceResponse:
        """Replace a sent notification in place, silently (``PUT /push-notification/{id}``)."""
        fields = _fields(locals())
        return self._client._send(self._build.push_replace(notification_id, request, fields))  # type: ignore[no-any-return]


class LiveActivities(_Resource):
    def stream(
        self,
        stream_key: str,
        request: Request = None,
        /,
        *,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        alert: t.AlertPayload | m.AlertPayload | None = None,
        channels: Sequence[str] | str | None = None,
        target: t.ChannelTarget | m.ChannelTarget | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityStreamPutResponse:
        """Start or update the activity of ``stream_key`` (idempotent upsert)."""
        fields = _fields(locals())
        return self._client._send(self._build.stream(stream_key, request, fields))  # type: ignore[no-any-return]

    def end_stream(
        self,
        stream_key: str,
        request: Request = None,
        /,
        *,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        alert: t.AlertPayload | m.AlertPayload | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityStreamDeleteResponse:
        """End the activity of ``stream_key``, optionally with a final state."""
        fields = _fields(locals())
        return self._client._send(self._build.end_stream(stream_key, request, fields))  # type: ignore[no-any-return]

    def start(
        self,
        request: Request = None,
        /,
        *,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        alert: t.AlertPayload | m.AlertPayload | None = None,
        channels: Sequence[str] | str | None = None,
        target: t.ChannelTarget | m.ChannelTarget | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityStartResponse:
        """Legacy lifecycle: start an activity and get its ``activity_id``."""
        fields = _fields(locals())
        return self._client._send(self._build.start(request, fields))  # type: ignore[no-any-return]

    def update(
        self,
        request: Request = None,
        /,
        *,
        activity_id: str | None = None,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityUpdateResponse:
        """Legacy lifecycle: update the activity ``activity_id``."""
        fields = _fields(locals())
        return self._client._send(self._build.update(request, fields))  # type: ignore[no-any-return]

    def end(
        self,
        request: Request = None,
        /,
        *,
        activity_id: str | None = None,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityEndResponse:
        """Legacy lifecycle: end the activity ``activity_id``."""
        fields = _fields(locals())
        return self._client._send(self._build.end(request, fields))  # type: ignore[no-any-return]


class Metrics(_Resource):
    def update(
        self, key: str, value: float | str, *, timestamp: datetime | str | None = None
    ) -> m.MetricValueUpdateResponse:
        """Set a widget metric's value."""
        return self._client._send(self._build.metric(key, value, timestamp))  # type: ignore[no-any-return]


class Badges(_Resource):
    def set(
        self, badge: int, *, channels: Sequence[str] | str | None = None
    ) -> m.AppIconBadgeCountUpdateResponse:
        """Set the app icon badge count (0 clears it)."""
        return self._client._send(self._build.badge(badge, channels))  # type: ignore[no-any-return]


class AsyncNotifications(_Resource):
    async def send(
        self,
        request: Request = None,
        /,
        *,
        title: str | None = None,
        message: str | None = None,
        subtitle: str | None = None,
        icon: str | None = None,
        media: str | None = None,
        redirection: str | None = None,
        actions: Sequence[t.Action | m.PushNotificationAction] | None = None,
        payload: Mapping[str, Any] | None = None,
        badge: int | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        interruption_level: t.InterruptionLevel | None = None,
        sound: str | None = None,
        target: t.ChannelTarget | m.ChannelTarget | None = None,
        channels: Sequence[str] | str | None = None,
        **unknown: Never,
    ) -> m.PushNotificationResponse:
        """Send a push notification (``POST /push-notification``)."""
        fields = _fields(locals())
        return await self._client._send(self._build.push_send(request, fields))  # type: ignore[no-any-return]

    async def replace(
        self,
        notification_id: str,
        request: Request = None,
        /,
        *,
        title: str | None = None,
        message: str | None = None,
        subtitle: str | None = None,
        icon: str | None = None,
        media: str | None = None,
        redirection: str | None = None,
        actions: Sequence[t.Action | m.PushNotificationAction] | None = None,
        payload: Mapping[str, Any] | None = None,
        badge: int | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        **unknown: Never,
    ) -> m.PushNotificationReplaceResponse:
        """Replace a sent notification in place, silently (``PUT /push-notification/{id}``)."""
        fields = _fields(locals())
        return await self._client._send(self._build.push_replace(notification_id, request, fields))  # type: ignore[no-any-return]


class AsyncLiveActivities(_Resource):
    async def stream(
        self,
        stream_key: str,
        request: Request = None,
        /,
        *,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        alert: t.AlertPayload | m.AlertPayload | None = None,
        channels: Sequence[str] | str | None = None,
        target: t.ChannelTarget | m.ChannelTarget | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityStreamPutResponse:
        """Start or update the activity of ``stream_key`` (idempotent upsert)."""
        fields = _fields(locals())
        return await self._client._send(self._build.stream(stream_key, request, fields))  # type: ignore[no-any-return]

    async def end_stream(
        self,
        stream_key: str,
        request: Request = None,
        /,
        *,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        alert: t.AlertPayload | m.AlertPayload | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityStreamDeleteResponse:
        """End the activity of ``stream_key``, optionally with a final state."""
        fields = _fields(locals())
        return await self._client._send(self._build.end_stream(stream_key, request, fields))  # type: ignore[no-any-return]

    async def start(
        self,
        request: Request = None,
        /,
        *,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        alert: t.AlertPayload | m.AlertPayload | None = None,
        channels: Sequence[str] | str | None = None,
        target: t.ChannelTarget | m.ChannelTarget | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityStartResponse:
        """Legacy lifecycle: start an activity and get its ``activity_id``."""
        fields = _fields(locals())
        return await self._client._send(self._build.start(request, fields))  # type: ignore[no-any-return]

    async def update(
        self,
        request: Request = None,
        /,
        *,
        activity_id: str | None = None,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityUpdateResponse:
        """Legacy lifecycle: update the activity ``activity_id``."""
        fields = _fields(locals())
        return await self._client._send(self._build.update(request, fields))  # type: ignore[no-any-return]

    async def end(
        self,
        request: Request = None,
        /,
        *,
        activity_id: str | None = None,
        content_state: _State | None = None,
        action: t.Action | m.LiveActivityAction | None = None,
        secondary_action: t.Action | m.LiveActivityAction | None = None,
        tags: Sequence[str] | None = None,
        metadata: t.Metadata | None = None,
        **content: Unpack[t.ContentFields],
    ) -> m.LiveActivityEndResponse:
        """Legacy lifecycle: end the activity ``activity_id``."""
        fields = _fields(locals())
        return await self._client._send(self._build.end(request, fields))  # type: ignore[no-any-return]


class AsyncMetrics(_Resource):
    async def update(
        self, key: str, value: float | str, *, timestamp: datetime | str | None = None
    ) -> m.MetricValueUpdateResponse:
        """Set a widget metric's value."""
        return await self._client._send(self._build.metric(key, value, timestamp))  # type: ignore[no-any-return]


class AsyncBadges(_Resource):
    async def set(
        self, badge: int, *, channels: Sequence[str] | str | None = None
    ) -> m.AppIconBadgeCountUpdateResponse:
        """Set the app icon badge count (0 clears it)."""
        return await self._client._send(self._build.badge(badge, channels))  # type: ignore[no-any-return]


class ActivitySmith(_BaseClient):
    """Synchronous ActivitySmith client. Reuses connections; use it as a context manager."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        channels: list[str] | str | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, retry, channels)
        self._http = http_client or httpx.Client()
        self._bind()

    def _bind(self) -> None:
        self.notifications = Notifications(self)
        self.live_activities = LiveActivities(self)
        self.metrics = Metrics(self)
        self.badges = Badges(self)

    def with_options(
        self, *, retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> ActivitySmith:
        """A copy with other retry/timeout settings that shares this client's connections."""
        clone = copy.copy(self)
        clone.retry = retry or self.retry
        clone.timeout = timeout or self.timeout
        clone._bind()
        return clone

    def _send(self, call: _Call[R]) -> R:
        deadline = time.monotonic() + self.retry.budget
        for attempt in Retrying(**self._retrying_kwargs(call)):
            with attempt:
                started = time.monotonic()
                try:
                    response = self._http.request(
                        **self._request_args(call, self._attempt_timeout(deadline))
                    )
                except httpx.TransportError as exc:
                    raise self._transport_error(call, exc) from None
                self._observe(response)
                return self._parse(call, response, started)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ActivitySmith:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncActivitySmith(_BaseClient):
    """Asynchronous ActivitySmith client; mirrors :class:`ActivitySmith` with ``await``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        channels: list[str] | str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, retry, channels)
        self._http = http_client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=32)
        )
        self._bind()

    def _bind(self) -> None:
        self.notifications = AsyncNotifications(self)
        self.live_activities = AsyncLiveActivities(self)
        self.metrics = AsyncMetrics(self)
        self.badges = AsyncBadges(self)

    def with_options(
        self, *, retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> AsyncActivitySmith:
        """A copy with other retry/timeout settings that shares this client's connections."""
        clone = copy.copy(self)
        clone.retry = retry or self.retry
        clone.timeout = timeout or self.timeout
        clone._bind()
        return clone

    async def _send(self, call: _Call[R]) -> R:
        deadline = time.monotonic() + self.retry.budget
        async for attempt in AsyncRetrying(**self._retrying_kwargs(call)):
            with attempt:
                started = time.monotonic()
                try:
                    response = await self._http.request(
                        **self._request_args(call, self._attempt_timeout(deadline))
                    )
                except httpx.TransportError as exc:
                    raise self._transport_error(call, exc) from None
                self._observe(response)
                return self._parse(call, response, started)
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncActivitySmith:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

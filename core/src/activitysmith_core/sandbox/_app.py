"""The sandbox's emulation of the ActivitySmith API: every endpoint, its validation, answers,
stream semantics, limits and fault switches (served by ``_server``)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import models as m
from ..errors import ValidationError
from ._state import (
    DEFAULT_QUOTAS,
    MAX_ACTIVE,
    Activity,
    RecordedRequest,
    State,
    now_iso,
)

STATIC = Path(__file__).parent / "static"
Scope = dict[str, Any]
ASGI = Callable[
    [Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]

_FEATURE = {
    "push-notification": "push",
    "live-activity": "live_activity",
    "metrics": "metric",
    "badge": "badge",
}


def _rate_limit_headers(
    state: State, feature: str, exhausted_for: int | None = None
) -> dict[str, str]:
    """``RateLimit`` and ``RateLimit-Policy`` (IETF draft-8) for the feature of a request, or for
    every feature when the path names none. ``exhausted_for``: report the feature as used up for
    that many seconds (an injected 429 burst)."""
    names = [feature] if feature in DEFAULT_QUOTAS else list(DEFAULT_QUOTAS)
    limits, policies = [], []
    for name in names:
        quota, remaining, reset = state.rate_limit_status(name)
        if exhausted_for is not None:
            remaining, reset = 0, exhausted_for
        limits.append(f'"{name}";r={remaining};t={reset}')
        policies.append(f'"{name}";q={quota};w={state.rate_window}')
    return {"RateLimit": ", ".join(limits), "RateLimit-Policy": ", ".join(policies)}


class _Reply(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _bad(message: str) -> _Reply:
    return _Reply(400, {"error": "Bad request", "message": message})


def _not_found(message: str) -> _Reply:
    return _Reply(404, {"error": "Not found", "message": message})


def _limit() -> _Reply:
    return _Reply(
        429,
        {
            "error": "Live Activity limit reached",
            "message": f"Only {MAX_ACTIVE} concurrent Live Activities are allowed per account",
            "limit": MAX_ACTIVE,
            "active": MAX_ACTIVE,
        },
    )


def _refusal(status: int) -> _Reply:
    """The account refusing the key (the ``refuse`` fault switch)."""
    if status == 402:
        body = {
            "error": "trial_expired",
            "message": "The account's trial has ended",
            "upgrade_url": "https://activitysmith.com/billing",
        }
    elif status == 403:
        body = {"error": "Forbidden", "message": "The API key may not send these requests"}
    else:
        body = {"error": "Unauthorized", "message": "Invalid or revoked API key"}
    return _Reply(status, body)


def _validate(model: type[m._Request], body: Any) -> dict[str, Any]:
    try:
        return m.validate(model, body if body is not None else {}).to_wire()
    except ValidationError as exc:
        raise _bad(str(exc)) from None


class Api:
    """The API handlers, over one :class:`State`."""

    def __init__(self, state: State, api_key: str) -> None:
        self.state = state
        self.api_key = api_key

    # -- plumbing ---------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        st = self.state
        path = request.url.path
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<invalid json>"
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        rec = RecordedRequest(request.method, path, headers, body, time.monotonic(), now_iso())
        feature = _FEATURE.get(path.split("/")[2] if path.count("/") >= 2 else "", "")
        with st.lock:
            st.requests.append(rec)
        faults = st.faults
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if st.draw(faults.hang_rate):
            rec.fault = "hang"
            epoch = st.epoch
            deadline = time.monotonic() + faults.hang_seconds
            try:
                while time.monotonic() < deadline and st.epoch == epoch:
                    await asyncio.sleep(min(0.1, deadline - time.monotonic()))
            except asyncio.CancelledError:  # server shutting down
                return Response(status_code=503, headers=_rate_limit_headers(st, feature))
            if st.epoch != epoch:  # reset while hanging: this request belongs to the past
                return Response(status_code=503, headers=_rate_limit_headers(st, feature))
        try:
            if st.take_burst():
                rec.fault = "429"
                raise _Reply(
                    429,
                    {
                        "error": "Rate limit exceeded",
                        "message": "Too many requests (sandbox burst)",
                        "code": "rate_limited",
                    },
                    {
                        "Retry-After": str(faults.retry_after),
                        **_rate_limit_headers(st, feature, exhausted_for=faults.retry_after),
                    },
                )
            if st.draw(faults.error_rate):
                rec.fault = str(faults.status)
                raise _Reply(
                    faults.status,
                    {"error": "Sandbox fault", "message": f"Injected HTTP {faults.status}"},
                )
            if faults.refuse:
                rec.fault = f"refuse {faults.refuse}"
                raise _refusal(faults.refuse)
            self._auth(request)
            if (wait := st.rate_limited(feature)) is not None:
                raise _Reply(
                    429,
                    {
                        "error": "Rate limit exceeded",
                        "message": "Slow down",
                        "code": "rate_limited",
                    },
                    {"Retry-After": str(wait)},
                )
            status, payload = 200, await self.route(request.method, path, body)
            headers_out: dict[str, str] = {}
        except _Reply as reply:
            status, payload, headers_out = reply.status, reply.body, dict(reply.headers)
        if "RateLimit" not in headers_out:
            headers_out.update(_rate_limit_headers(st, feature))
        rec.status, rec.response = status, payload
        with st.lock:
            st.changed()
        return JSONResponse(payload, status_code=status, headers=headers_out)

    def _auth(self, request: Request) -> None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise _Reply(401, {"error": "Unauthorized", "message": "Invalid or missing API key"})

    async def route(self, method: str, path: str, body: Any) -> dict[str, Any]:
        parts = path.strip("/").split("/")[1:]  # drop "api"
        with self.state.lock:
            match (method, parts):
                case ("POST", ["push-notification"]):
                    return self.push(body)
                case ("PUT", ["push-notification", nid]):
                    return self.replace(nid, body)
                case ("PUT", ["live-activity", "stream", key]):
                    return self.stream_put(key, body)
                case ("DELETE", ["live-activity", "stream", key]):
                    return self.stream_delete(key, body)
                case ("POST", ["live-activity", "start"]):
                    return self.start(body)
                case ("POST", ["live-activity", "update"]):
                    return self.update(body)
                case ("POST", ["live-activity", "end"]):
                    return self.end(body)
                case ("POST", ["metrics", key, "value"]):
                    return self.metric(key, body)
                case ("POST", ["badge"]):
                    return self.set_badge(body)
        raise _not_found(f"No route for {method} {path}")

    def _channels(self, body: dict[str, Any]) -> list[str]:
        return list(body.get("channels") or (body.get("target") or {}).get("channels") or [])

    # -- pushes -------------------------------------------------------------------------------
    def push(self, body: Any) -> dict[str, Any]:
        req = _validate(m.PushNotificationRequest, body)
        channels = self._channels(req)
        if self.state.faults.no_recipients:
            raise _Reply(
                422,
                {
                    "error": "No recipients",
                    "message": "No devices matched the target",
                    "effective_channel_slugs": channels,
                },
            )
        nid = f"ntf_{uuid.uuid4().hex[:16]}"
        self.state.pushes.append(
            {"notification_id": nid, "time": now_iso(), "replaced": False, **req}
        )
        return {
            "success": True,
            "notification_id": nid,
            "devices_notified": 1,
            "users_notified": 1,
            "devices_targeted": 1,
            "effective_channel_slugs": channels,
            "tags": req.get("tags"),
            "timestamp": now_iso(),
        }

    def replace(self, nid: str, body: Any) -> dict[str, Any]:
        req = _validate(m.PushNotificationReplaceRequest, body)
        for i, push in enumerate(self.state.pushes):
            if push["notification_id"] == nid:
                kept: dict[str, Any] = {
                    k: push[k] for k in ("tags", "metadata", "target") if k in push
                }
                self.state.pushes[i] = {
                    "notification_id": nid,
                    "time": now_iso(),
                    "replaced": True,
                    **kept,
                    **req,
                }
                return {
                    "success": True,
                    "notification_id": nid,
                    "devices_notified": 1,
                    "users_notified": 1,
                    "timestamp": now_iso(),
                }
        raise _not_found("Push notification not found")

    # -- streams ------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        if not m.STREAM_KEY_RE.match(key):
            raise _bad("stream_key: must match ^[A-Za-z0-9_-]{1,255}$")
        return key

    def stream_put(self, key: str, body: Any) -> dict[str, Any]:
        self._key(key)
        req = _validate(m.LiveActivityStreamRequest, body)
        state = req["content_state"]
        act = self.state.stream_activity(key)
        if act is None:
            if "type" not in state:
                raise _bad("content_state.type: required to start a Live Activity")
            if self.state.active_count() >= MAX_ACTIVE:
                raise _limit()
            act = self.state.new_activity(key, req)
            op = "started"
        else:
            state = {"type": act.content_state.get("type"), **state}
            extras = {k: req.get(k) for k in ("action", "secondary_action", "alert")}
            same = state == act.content_state and all(
                v is None or v == getattr(act, k) for k, v in extras.items()
            )
            op = "noop" if same else "updated"
            act.content_state = state
            for k, v in extras.items():
                if v is not None:
                    setattr(act, k, v)
        act.history.append({"time": now_iso(), "operation": op, "state": state})
        return {
            "success": True,
            "operation": op,
            "stream_key": key,
            "activity_id": act.activity_id,
            "devices_notified": 0 if op == "noop" else 1,
            "users_notified": 1,
            "effective_channel_slugs": act.channels or [],
            "timestamp": now_iso(),
        }

    def _end(self, act: Activity, req: dict[str, Any]) -> None:
        final = req.get("content_state") or {}
        state = {**act.content_state, **final}
        secs = state.pop("auto_dismiss_seconds", None)
        mins = state.pop("auto_dismiss_minutes", None)
        delay = secs if secs is not None else (mins * 60 if mins is not None else 180)
        act.content_state = state
        for k in ("action", "secondary_action", "alert"):
            if req.get(k) is not None:
                setattr(act, k, req[k])
        act.status = "ended"
        act.ended = now_iso()
        act.dismiss_at = time.monotonic() + delay
        act.history.append(
            {"time": act.ended, "operation": "ended", "state": state, "auto_dismiss_seconds": delay}
        )

    def stream_delete(self, key: str, body: Any) -> dict[str, Any]:
        self._key(key)
        req = _validate(m.LiveActivityStreamDeleteRequest, body)
        act = self.state.stream_activity(key)
        if act is None:
            raise _not_found("Live Activity stream not found")
        self._end(act, req)
        return {
            "success": True,
            "operation": "ended",
            "stream_key": key,
            "activity_id": act.activity_id,
            "devices_notified": 1,
            "timestamp": now_iso(),
        }

    # -- legacy lifecycle ---------------------------------------------------------------------
    def _legacy(self, activity_id: str) -> Activity:
        act = self.state.activities.get(activity_id)
        if act is None or act.status != "active":
            raise _not_found("Live Activity not found")
        return act

    def start(self, body: Any) -> dict[str, Any]:
        req = _validate(m.LiveActivityStartRequest, body)
        if "type" not in req["content_state"]:
            raise _bad("content_state.type: required to start a Live Activity")
        if self.state.active_count() >= MAX_ACTIVE:
            raise _limit()
        act = self.state.new_activity(None, req)
        act.history.append({"time": now_iso(), "operation": "started", "state": act.content_state})
        return {
            "success": True,
            "activity_id": act.activity_id,
            "devices_notified": 1,
            "users_notified": 1,
            "effective_channel_slugs": act.channels or [],
            "timestamp": now_iso(),
        }

    def update(self, body: Any) -> dict[str, Any]:
        req = _validate(m.LiveActivityUpdateRequest, body)
        act = self._legacy(req["activity_id"])
        act.content_state = {"type": act.content_state.get("type"), **req["content_state"]}
        act.history.append({"time": now_iso(), "operation": "updated", "state": act.content_state})
        return {
            "success": True,
            "activity_id": act.activity_id,
            "devices_notified": 1,
            "timestamp": now_iso(),
        }

    def end(self, body: Any) -> dict[str, Any]:
        req = _validate(m.LiveActivityEndRequest, body)
        act = self._legacy(req["activity_id"])
        self._end(act, req)
        return {
            "success": True,
            "activity_id": act.activity_id,
            "devices_notified": 1,
            "timestamp": now_iso(),
        }

    # -- widgets and badge --------------------------------------------------------------------
    def metric(self, key: str, body: Any) -> dict[str, Any]:
        if not m.METRIC_KEY_RE.match(key):
            raise _Reply(
                400,
                {
                    "error": "Invalid metric key",
                    "message": "key must match ^[a-z0-9][a-z0-9_.-]{0,63}$",
                },
            )
        try:
            req = m.validate(m.MetricValueUpdateRequest, body or {}).to_wire()
        except ValidationError as exc:
            raise _Reply(
                400, {"error": "value must be a finite number", "message": str(exc)}
            ) from None
        self.state.metrics[key] = {"value": req["value"], "time": req.get("timestamp", now_iso())}
        return {"success": True}

    def set_badge(self, body: Any) -> dict[str, Any]:
        req = _validate(m.AppIconBadgeCountUpdateRequest, body)
        self.state.badge = req["badge"]
        return {
            "success": True,
            "badge": req["badge"],
            "devices_updated": 1,
            "users_updated": 1,
            "effective_channel_slugs": self._channels(req),
            "timestamp": now_iso(),
        }

"""Every error status maps to its exception, with the API's error/message and parsed body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from activitysmith_core import ActivitySmith, RetryPolicy
from activitysmith_core import errors as e


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls"),
    [
        (400, {"error": "Bad request", "message": "title is required"}, {}, e.BadRequestError),
        (401, {"error": "Unauthorized", "message": "Invalid API key"}, {}, e.AuthenticationError),
        (
            402,
            {
                "error": "trial_expired",
                "message": "Trial over",
                "upgrade_url": "https://activitysmith.com/upgrade",
            },
            {},
            e.BillingBlockedError,
        ),
        (403, {"error": "Forbidden", "message": "Invalid channel targeting"}, {}, e.ForbiddenError),
        (
            404,
            {"error": "Not found", "message": "Live Activity stream not found"},
            {},
            e.NotFoundError,
        ),
        (
            404,
            {"error": "No recipients", "message": "No recipients found"},
            {},
            e.NoRecipientsError,
        ),
        (409, {"error": "Conflict", "message": "Cannot replace"}, {}, e.ConflictError),
        (
            422,
            {"error": "No recipients", "message": "No devices", "effective_channel_slugs": []},
            {},
            e.NoRecipientsError,
        ),
        (
            429,
            {"error": "Rate limit exceeded", "message": "Slow down", "code": "rate_limited"},
            {"Retry-After": "7"},
            e.RateLimitError,
        ),
        (
            429,
            {
                "error": "Live Activity limit reached",
                "message": "Only 4 concurrent Live Activities are allowed per account",
                "limit": 4,
                "active": 4,
            },
            {},
            e.LiveActivityLimitError,
        ),
        (500, {"error": "Internal"}, {}, e.ServerError),
        (502, "<html>bad gateway</html>", {}, e.ServerError),
        (418, {"error": "teapot", "message": "?"}, {}, e.APIError),
    ],
)
def test_status_mapping(status: int, body: Any, headers: dict[str, str], cls: type) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if isinstance(body, dict):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, text=body, headers=headers)

    client = ActivitySmith(
        "ask_secret_value",
        base_url="https://api.test/api",
        retry=RetryPolicy(max_attempts=1),
        http_client=httpx.Client(transport=httpx.MockTransport(reply)),
    )
    with pytest.raises(e.APIError) as info:
        client.notifications.send(title="t")
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.body == body
    if isinstance(body, dict):
        assert err.error == body.get("error")
        assert str(err) == f"HTTP {status}: " + ": ".join(
            p for p in (body.get("error"), body.get("message")) if p
        )
    if cls is e.RateLimitError:
        assert err.retry_after == 7.0  # type: ignore[attr-defined]
    if cls is e.LiveActivityLimitError:
        assert (err.limit, err.active) == (4, 4)  # type: ignore[attr-defined]
        assert isinstance(err, e.RateLimitError)
    if cls is e.BillingBlockedError:
        assert err.upgrade_url == "https://activitysmith.com/upgrade"  # type: ignore[attr-defined]
    assert "ask_secret_value" not in str(err) + repr(err)


def test_unknown_operation_is_tolerated() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "success": True,
                "operation": "teleported",
                "stream_key": "k",
                "timestamp": "2026-01-01T00:00:00.000Z",
                "brand_new_field": 1,
            },
        )

    client = ActivitySmith(
        "ask_x",
        base_url="https://api.test/api",
        http_client=httpx.Client(transport=httpx.MockTransport(reply)),
    )
    res = client.live_activities.stream(
        "k", content_state={"title": "t", "type": "value", "value": 1}
    )
    assert res.operation == "teleported"
    assert res.model_extra == {"brand_new_field": 1}

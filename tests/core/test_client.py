"""The sync and async clients against the sandbox over loopback: every endpoint, every type."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from activitysmith_core import ActivitySmith, AsyncActivitySmith, RetryPolicy
from activitysmith_core import errors as e
from activitysmith_core.models import StreamOperation

STATES: dict[str, dict[str, Any]] = {
    "segmented_progress": {
        "title": "ETL",
        "type": "segmented_progress",
        "number_of_steps": 3,
        "current_step": 1,
        "step_colors": ["green"],
        "step_color": "blue",
        "badge": {"title": "prod", "color": "red"},
    },
    "progress": {"title": "Upload", "type": "progress", "percentage": 40},
    "metrics": {
        "title": "web-1",
        "type": "metrics",
        "metrics": [
            {"label": "CPU", "value": 9, "unit": "%"},
            {"label": "MEM", "value": 41, "unit": "%"},
        ],
    },
    "stats": {"title": "Sales", "type": "stats", "metrics": [{"label": "Orders", "value": 12}]},
    "value": {"title": "Revenue", "type": "value", "value": "$1,240"},
    "alert": {"title": "Deploy", "type": "alert", "message": "Rolled back"},
    "timer": {"title": "Standup", "type": "timer", "duration_seconds": 900},
}


def _client(sandbox: Any, **kw: Any) -> ActivitySmith:
    return ActivitySmith(sandbox.api_key, base_url=sandbox.url, **kw)


@pytest.mark.parametrize("kind", list(STATES))
def test_stream_lifecycle_every_type(sandbox: Any, kind: str) -> None:
    with _client(sandbox) as client:
        state = STATES[kind]
        key = f"t-{kind}"
        first = client.live_activities.stream(key, content_state=state)
        assert first.operation is StreamOperation.STARTED and first.stream_key == key
        again = client.live_activities.stream(key, content_state=state)
        assert again.operation is StreamOperation.NOOP
        changed = client.live_activities.stream(key, content_state={**state, "subtitle": "x"})
        assert changed.operation is StreamOperation.UPDATED
        end = client.live_activities.end_stream(
            key, content_state={**state, "auto_dismiss_seconds": 0}
        )
        assert end.operation is StreamOperation.ENDED
        with pytest.raises(e.NotFoundError):
            client.live_activities.end_stream(key)
        restarted = client.live_activities.stream(key, content_state=state)
        assert restarted.operation is StreamOperation.STARTED
        client.live_activities.end_stream(key)
    puts = [r for r in sandbox.requests if r.method == "PUT"]
    assert [r.body["content_state"]["type"] for r in puts] == [kind] * 4


def test_push_send_replace_metric_badge(sandbox: Any) -> None:
    with _client(sandbox, channels=["ops"]) as client:
        sent = client.notifications.send(
            title="Deploy",
            message="done",
            actions=[{"title": "Open", "type": "open_url", "url": "https://example.com"}],
        )
        assert sent.success and sent.notification_id
        replaced = client.notifications.replace(sent.notification_id, title="Deploy v2")
        assert replaced.notification_id == sent.notification_id
        assert client.metrics.update("cpu.load", 0.42).success
        badge = client.badges.set(3)
        assert badge.badge == 3
    push = next(
        r for r in sandbox.requests if r.method == "POST" and r.path.endswith("/push-notification")
    )
    assert push.body["target"] == {"channels": ["ops"]}
    assert "Authorization" not in push.headers and "authorization" not in push.headers


def test_legacy_lifecycle(sandbox: Any) -> None:
    with _client(sandbox) as client:
        started = client.live_activities.start(content_state=STATES["segmented_progress"])
        aid = started.activity_id
        updated = client.live_activities.update(activity_id=aid, title="ETL", current_step=2)
        assert updated.activity_id == aid
        ended = client.live_activities.end(activity_id=aid, title="ETL", current_step=3)
        assert ended.activity_id == aid


@pytest.mark.anyio
async def test_async_client_mirrors_sync(sandbox: Any) -> None:
    async with AsyncActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:
        for kind, state in STATES.items():
            res = await client.live_activities.stream(f"a-{kind}", content_state=state)
            assert res.operation is StreamOperation.STARTED
            end = await client.live_activities.end_stream(f"a-{kind}")
            assert end.operation is StreamOperation.ENDED
        sent = await client.notifications.send(title="hi")
        await client.notifications.replace(sent.notification_id or "", title="hi again")
        start = await client.live_activities.start(content_state=STATES["progress"])
        await client.live_activities.update(
            activity_id=start.activity_id, title="Upload", percentage=80
        )
        await client.live_activities.end(
            activity_id=start.activity_id, title="Upload", percentage=100
        )
        assert (await client.metrics.update("rows", 12)).success
        assert (await client.badges.set(0)).badge == 0


def test_wrong_key_is_401_and_never_leaks(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "ask_this_is_the_wrong_secret"
    client = ActivitySmith(secret, base_url=sandbox.url, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(e.AuthenticationError) as info:
        client.notifications.send(title="x")
    texts = [
        str(info.value),
        repr(info.value),
        repr(client),
        caplog.text,
        str(info.value.body),
        str(info.value.headers),
    ]
    assert all(secret not in t for t in texts)


def test_live_activity_cap(sandbox: Any) -> None:
    with _client(sandbox, retry=RetryPolicy(max_attempts=3, budget=5)) as client:
        for i in range(4):
            client.live_activities.stream(f"cap-{i}", content_state=STATES["value"])
        before = len(sandbox.requests)
        with pytest.raises(e.LiveActivityLimitError) as info:
            client.live_activities.stream("cap-4", content_state=STATES["value"])
        assert (info.value.limit, info.value.active) == (4, 4)
        assert len(sandbox.requests) == before + 1, "the capacity 429 must not be retried"
        client.live_activities.end_stream("cap-0")
        assert (
            client.live_activities.stream("cap-4", content_state=STATES["value"]).operation
            is StreamOperation.STARTED
        )

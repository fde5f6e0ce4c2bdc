"""The JSON we send validates against the official SDK's own request models (activitysmith 1.14.0)."""

from __future__ import annotations

from typing import Any

import pytest

from activitysmith_core import ActivitySmith

openapi = pytest.importorskip("activitysmith_openapi.models")

ICON = {"symbol": "bolt.fill", "color": "yellow"}
OPEN = {"title": "Open", "type": "open_url", "url": "https://example.com/run"}
HOOK = {
    "title": "Rerun",
    "type": "webhook",
    "url": "https://hooks.example.com/x",
    "method": "POST",
    "body": {"run": 1},
}
META = {"team": "data", "attempt": 2, "ratio": 0.5, "prod": True}

STATES: dict[str, dict[str, Any]] = {
    "segmented_progress": {
        "title": "ETL",
        "subtitle": "load",
        "type": "segmented_progress",
        "number_of_steps": 4,
        "current_step": 2,
        "color": "blue",
        "step_color": "orange",
        "step_colors": ["green", "red"],
        "icon": ICON,
        "badge": {"title": "Prod", "color": "red"},
    },
    "progress": {"title": "Upload", "type": "progress", "percentage": 42.5},
    "progress_value": {"title": "Upload", "type": "progress", "value": 3, "upper_limit": 10},
    "metrics": {
        "title": "web-1",
        "type": "metrics",
        "metrics": [
            {"label": "CPU", "value": 9, "unit": "%", "color": "green"},
            {"label": "MEM", "value": "4.2 GB"},
        ],
    },
    "stats": {
        "title": "Sales",
        "type": "stats",
        "metrics": [{"label": f"m{i}", "value": i} for i in range(8)],
    },
    "value": {"title": "Revenue", "type": "value", "value": "$1,240"},
    "alert": {"title": "Deploy", "type": "alert", "message": "Rolled back", "icon": ICON},
    "timer": {
        "title": "Standup",
        "type": "timer",
        "duration_seconds": 900,
        "counts_down": True,
        "is_running": False,
    },
}


@pytest.fixture
def client() -> ActivitySmith:
    return ActivitySmith("ask_test", base_url="https://api.test/api")


def _same(ours: dict[str, Any], theirs: dict[str, Any], path: str = "") -> None:
    """Every field we send survives the official model: nothing would be dropped."""
    for key, value in ours.items():
        assert key in theirs, f"{path}{key} dropped by the official model"
        if isinstance(value, dict) and key not in ("body", "payload"):
            _same(value, theirs[key], f"{path}{key}.")


def _check(model: Any, body: dict[str, Any]) -> None:
    obj = model.from_dict(body)
    assert obj is not None
    _same(body, obj.to_dict())


@pytest.mark.parametrize("name", list(STATES))
def test_stream_put_and_delete(client: ActivitySmith, name: str) -> None:
    state = STATES[name]
    secondary = (
        OPEN if state["type"] in ("alert", "progress", "segmented_progress", "value") else None
    )
    call = client._build.stream(
        "k-1",
        {
            "content_state": state,
            "action": HOOK,
            "alert": {"title": "a", "body": "b"},
            "tags": ["etl"],
            "metadata": META,
            "channels": ["ops"],
            "secondary_action": secondary,
        },
        {},
    )
    assert call.method == "PUT" and call.path == "/live-activity/stream/k-1"
    assert call.body is not None
    _check(openapi.LiveActivityStreamRequest, call.body)
    end = client._build.end_stream(
        "k-1", {"content_state": {**state, "auto_dismiss_seconds": 5}, "action": OPEN}, {}
    )
    assert end.method == "DELETE" and end.body is not None
    _check(openapi.LiveActivityStreamDeleteRequest, end.body)


def test_delete_without_body(client: ActivitySmith) -> None:
    assert client._build.end_stream("k", None, {}).body is None


@pytest.mark.parametrize("name", list(STATES))
def test_legacy_lifecycle(client: ActivitySmith, name: str) -> None:
    state = STATES[name]
    start = client._build.start({"content_state": state, "action": OPEN}, {"channels": "ops"})
    assert start.body is not None and start.body["target"] == {"channels": ["ops"]}
    _check(openapi.LiveActivityStartRequest, start.body)
    upd = client._build.update({"activity_id": "a1", "content_state": state, "tags": ["x"]}, {})
    assert upd.body is not None
    _check(openapi.LiveActivityUpdateRequest, upd.body)
    end = client._build.end({"activity_id": "a1", "content_state": state}, {})
    assert end.body is not None
    _check(openapi.LiveActivityEndRequest, end.body)


def test_push_send_and_replace(client: ActivitySmith) -> None:
    full = {
        "title": "Deploy",
        "message": "done",
        "subtitle": "prod",
        "icon": "https://x/i.png",
        "interruption_level": "time-sensitive",
        "redirection": "https://x/run",
        "actions": [OPEN, HOOK],
        "payload": {"k": [1, 2]},
        "badge": 3,
        "sound": "default",
        "tags": ["deploy"],
        "metadata": META,
    }
    send = client._build.push_send(full, {"channels": ["ops", "data"]})
    assert send.body is not None
    _check(openapi.PushNotificationRequest, send.body)
    media = client._build.push_send(
        {"title": "t", "media": "https://x/m.mp4", "redirection": "spotify:track:1"}, {}
    )
    assert media.body is not None
    _check(openapi.PushNotificationRequest, media.body)
    replace = {k: v for k, v in full.items() if k not in ("interruption_level", "sound")}
    rep = client._build.push_replace("n/1", replace, {})
    assert rep.path == "/push-notification/n%2F1" and rep.body is not None
    _check(openapi.PushNotificationReplaceRequest, rep.body)


def test_metric_and_badge(client: ActivitySmith) -> None:
    call = client._build.metric("cpu.load", 0.5, None)
    assert call.path == "/metrics/cpu.load/value" and call.body is not None
    _check(openapi.MetricValueUpdateRequest, call.body)
    badge = client._build.badge(7, "ops")
    assert badge.body is not None
    _check(openapi.AppIconBadgeCountUpdateRequest, badge.body)

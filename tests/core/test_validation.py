"""Every validation rule fails before any network call, with a message naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from activitysmith_core import (
    ActivitySmith,
    AsyncActivitySmith,
    check_base_url,
    parse_flag,
    split_channels,
)
from activitysmith_core.errors import ConfigurationError, ValidationError
from tests.base_urls import BASE_URL_RULE


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"network call made: {request.method} {request.url}")


@pytest.fixture
def client() -> ActivitySmith:
    return ActivitySmith(
        "ask_test",
        base_url="https://api.test/api",
        http_client=httpx.Client(transport=httpx.MockTransport(_never)),
    )


SEG = {"title": "t", "type": "segmented_progress", "number_of_steps": 3, "current_step": 1}
OPEN = {"title": "Open", "type": "open_url", "url": "https://example.com"}

PUSH_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({}, "title", "Field required"),
    ({"title": 1}, "title", "valid string"),
    ({"title": "t", "media": "https://a/x.png", "actions": [OPEN]}, "media", "cannot be combined"),
    ({"title": "t", "actions": [OPEN] * 5}, "actions", "at most 4"),
    ({"title": "t", "media": "http://a/x.png"}, "media", "https"),
    ({"title": "t", "icon": "http://a/x.png"}, "icon", "https"),
    ({"title": "t", "icon": "https://user:pw@a/x.png"}, "icon", "credentials"),
    ({"title": "t", "redirection": "no-scheme"}, "redirection", "scheme"),
    ({"title": "t", "redirection": "https://a/" + "x" * 2048}, "redirection", "2048"),
    ({"title": "t", "interruption_level": "loud"}, "interruption_level", "passive"),
    ({"title": "t", "actions": [{**OPEN, "url": "javascript:alert(1)"}]}, "actions[0].url", ""),
    (
        {"title": "t", "actions": [{"title": "w", "type": "webhook", "url": "http://h"}]},
        "actions[0].url",
        "https",
    ),
    ({"title": "t", "actions": [{**OPEN, "method": "GET"}]}, "actions[0].method", "webhook"),
    ({"title": "t", "actions": [{**OPEN, "type": "call"}]}, "actions[0].type", "open_url"),
    ({"title": "t", "tags": ["x" * 65]}, "tags[0]", "64"),
    ({"title": "t", "tags": [""]}, "tags[0]", "at least 1"),
    ({"title": "t", "metadata": {str(i): i for i in range(51)}}, "metadata", "50"),
    ({"title": "t", "metadata": {"a": "x" * 4001}}, "metadata.a", "4000"),
    ({"title": "t", "metadata": {"a": {"nested": 1}}}, "metadata.a", ""),
    ({"title": "t", "metadata": {"a": None}}, "metadata.a", ""),
    ({"title": "t", "metadata": {"a": float("nan")}}, "metadata.a", "finite"),
    ({"title": "t", "badge": "3"}, "badge", "integer"),
    ({"title": "t", "unknown_field": 1}, "unknown_field", "Extra inputs"),
    ({"title": "t", "channels": ["a"], "target": {"channels": ["b"]}}, "channels", "either"),
]


@pytest.mark.parametrize(("fields", "field", "text"), PUSH_CASES)
def test_push_rules(client: ActivitySmith, fields: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.notifications.send(fields)
    assert info.value.field == field
    assert str(info.value).startswith(field)
    assert text in str(info.value)


STREAM_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"content_state": {"title": "t", "subtitle": 3}}, "content_state.subtitle", "string"),
    ({"content_state": {**SEG, "current_step": 4}}, "content_state.current_step", "<="),
    (
        {"content_state": {**SEG, "number_of_steps": 0}},
        "content_state.number_of_steps",
        "greater than or equal to 1",
    ),
    (
        {"content_state": {**SEG, "current_step": -1}},
        "content_state.current_step",
        "greater than or equal to 0",
    ),
    ({"content_state": {**SEG, "color": "pink"}}, "content_state.color", "'lime'"),
    ({"content_state": {**SEG, "step_color": "teal"}}, "content_state.step_color", "'gray'"),
    (
        {"content_state": {**SEG, "step_colors": ["green", "nope"]}},
        "content_state.step_colors[1]",
        "'lime'",
    ),
    ({"content_state": {**SEG, "step_colors": ["green"] * 4}}, "content_state.step_colors", "3"),
    (
        {"content_state": {"title": "t", "type": "segmented_progress", "current_step": 1}},
        "content_state.number_of_steps",
        "required",
    ),
    ({"content_state": {"title": "t", "type": "metrics"}}, "content_state.metrics", "1 to 8"),
    (
        {
            "content_state": {
                "title": "t",
                "type": "stats",
                "metrics": [{"label": "a", "value": 1}] * 9,
            }
        },
        "content_state.metrics",
        "at most 8",
    ),
    (
        {"content_state": {"title": "t", "type": "metrics", "metrics": []}},
        "content_state.metrics",
        "at least 1",
    ),
    (
        {
            "content_state": {
                "title": "t",
                "type": "metrics",
                "metrics": [{"label": "a", "value": -1}],
            }
        },
        "content_state.metrics[0].value",
        ">= 0",
    ),
    (
        {
            "content_state": {
                "title": "t",
                "type": "metrics",
                "metrics": [{"label": "a", "value": True}],
            }
        },
        "content_state.metrics[0].value",
        "finite number",
    ),
    ({"content_state": {"title": "t", "type": "progress"}}, "content_state.percentage", "required"),
    (
        {"content_state": {"title": "t", "type": "progress", "percentage": 101}},
        "content_state.percentage",
        "100",
    ),
    ({"content_state": {"title": "t", "type": "alert"}}, "content_state.message", "required"),
    ({"content_state": {"title": "t", "type": "value"}}, "content_state.value", "required"),
    (
        {"content_state": {"title": "t", "type": "value", "value": "x" * 65}},
        "content_state.value",
        "64",
    ),
    (
        {"content_state": {"title": "t", "type": "timer", "duration_seconds": 0}},
        "content_state.duration_seconds",
        "greater than 0",
    ),
    (
        {"content_state": {"title": "t", "type": "timer", "badge": {"title": "b"}}},
        "content_state.badge",
        "not supported",
    ),
    ({"content_state": {"title": "t", "type": "mystery"}}, "content_state.type", "segmented"),
    ({"content_state": SEG, "action": {**OPEN, "url": "spotify://x"}}, "action.url", "http"),
    (
        {"content_state": SEG, "action": {"title": "w", "type": "webhook", "url": "http://x"}},
        "action.url",
        "https",
    ),
    (
        {"content_state": {"title": "t", "type": "timer"}, "secondary_action": OPEN},
        "secondary_action",
        "not supported",
    ),
    ({"content_state": SEG, "channels": []}, "channels", "at least 1"),
    ({"content_state": SEG, "icon": {"symbol": ""}}, "content_state.icon.symbol", "at least 1"),
    (
        {"content_state": {**SEG, "auto_dismiss_minutes": -1}},
        "content_state.auto_dismiss_minutes",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("fields", "field", "text"), STREAM_CASES)
def test_stream_rules(client: ActivitySmith, fields: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.live_activities.stream("key", fields)
    assert info.value.field == field, str(info.value)
    assert text in str(info.value)


@pytest.mark.parametrize("key", ["", "a:b", "a b", "x" * 256, "ü", "a/b"])
def test_stream_key_pattern(client: ActivitySmith, key: str) -> None:
    with pytest.raises(ValidationError, match="^stream_key: "):
        client.live_activities.stream(key, content_state=SEG)
    with pytest.raises(ValidationError, match="^stream_key: "):
        client.live_activities.end_stream(key)


def test_other_endpoints(client: ActivitySmith) -> None:
    with pytest.raises(ValidationError, match="^key: "):
        client.metrics.update("Upper", 1)
    with pytest.raises(ValidationError, match="^value: "):
        client.metrics.update("cpu", float("inf"))
    with pytest.raises(ValidationError, match="^badge: "):
        client.badges.set(2**31)
    with pytest.raises(ValidationError, match="^activity_id: "):
        client.live_activities.update(content_state={"title": "t", "current_step": 1})
    with pytest.raises(ValidationError, match="^tags: "):
        client.live_activities.end(activity_id="a", content_state={"title": "t"}, tags=["t"] * 21)
    with pytest.raises(ValidationError, match="^interruption_level: Extra"):
        client.notifications.replace("n1", title="t", interruption_level="active")
    with pytest.raises(ValidationError, match="^notification_id: "):
        client.notifications.replace("", title="t")
    with pytest.raises(ValidationError, match="^request: "):
        client.notifications.send(["not", "a", "mapping"])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_async_client_validates_too() -> None:
    transport = httpx.MockTransport(_never)
    async with AsyncActivitySmith(
        "ask_test",
        base_url="https://api.test/api",
        http_client=httpx.AsyncClient(transport=transport),
    ) as client:
        with pytest.raises(ValidationError, match=r"^content_state\.current_step: "):
            await client.live_activities.stream("k", content_state={**SEG, "current_step": 9})


def test_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIVITYSMITH_API_KEY", raising=False)
    monkeypatch.delenv("ACTIVITYSMITH_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="^api_key: "):
        ActivitySmith()
    monkeypatch.setenv("ACTIVITYSMITH_API_KEY", "ask_env")
    assert ActivitySmith().base_url == "https://activitysmith.com/api"
    monkeypatch.setenv("ACTIVITYSMITH_BASE_URL", "http://127.0.0.1:1234/api/")
    assert ActivitySmith().base_url == "http://127.0.0.1:1234/api"
    for url in ("http://example.com/api", "http://10.0.0.1/api", "ftp://x"):
        with pytest.raises(ConfigurationError, match="^base_url: "):
            ActivitySmith(base_url=url)
    for url in ("http://localhost:1/api", "http://[::1]:1/api", "https://example.com/api"):
        assert ActivitySmith(base_url=url).base_url == url


def test_flat_content_fields_and_channels(client: ActivitySmith) -> None:
    call = client._build.stream(
        "k", None, {"title": "t", "type": "value", "value": "$1", "channels": "ops, data ,"}
    )
    assert call.body == {
        "content_state": {"title": "t", "type": "value", "value": "$1"},
        "channels": ["ops", "data"],
    }
    push = client._build.push_send({"title": "t"}, {"channels": ["ops"]})
    assert push.body == {"title": "t", "target": {"channels": ["ops"]}}


@pytest.mark.parametrize(("url", "accepted"), BASE_URL_RULE)
def test_the_client_follows_the_one_base_url_rule(url: str, accepted: bool) -> None:
    if accepted:
        assert check_base_url(url + "/") == url
        assert ActivitySmith("ask_test", base_url=url).base_url == url
        return
    with pytest.raises(ConfigurationError, match="^base_url: ") as info:
        check_base_url(url)
    with pytest.raises(ConfigurationError, match="^base_url: "):
        ActivitySmith("ask_test", base_url=url)
    assert "ask_test" not in str(info.value)


def test_channel_lists_split_one_way() -> None:
    assert split_channels(None) is None
    assert split_channels("ops, data ,") == ["ops", "data"]
    assert split_channels(" , ") == []
    assert split_channels([" ops", "", 3]) == ["ops", "", 3]


ON = ["1", "TRUE", " yes ", "on", "t", "y"]
OFF = ["0", "False", "no", "off", "", "n"]


@pytest.mark.parametrize(("value", "expected"), [(v, True) for v in ON] + [(v, False) for v in OFF])
def test_parse_flag_reads_the_usual_spellings(value: str, expected: bool) -> None:
    assert parse_flag(value, field="switch") is expected


def test_parse_flag_names_the_field_and_where_the_value_came_from() -> None:
    with pytest.raises(ConfigurationError, match=r"^switch: 'maybe' is not one of .* \(env\)$"):
        parse_flag("maybe", field="switch", source="env")

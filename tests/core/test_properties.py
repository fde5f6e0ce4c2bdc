"""Property-based: any input becomes a request the official SDK's models accept, or raises our
ValidationError naming the field. Never another crash, never a silently dropped field."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activitysmith_core import ActivitySmith
from activitysmith_core.errors import ValidationError

openapi = pytest.importorskip("activitysmith_openapi.models")

settings.register_profile(
    "ci",
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=150, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

CLIENT = ActivitySmith("ask_property", base_url="https://api.test/api")
COLORS = ["lime", "green", "cyan", "blue", "purple", "magenta", "red", "orange", "yellow", "gray"]
TYPES = ["segmented_progress", "progress", "metrics", "stats", "alert", "timer", "value"]

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(allow_nan=True),
    st.text(max_size=70),
    st.lists(st.integers(), max_size=3),
)
color = st.one_of(st.sampled_from(COLORS), st.text(max_size=8))
url = st.one_of(
    st.sampled_from(
        [
            "https://example.com/x",
            "http://example.com",
            "shortcuts://run",
            "spotify:track:1",
            "javascript:alert(1)",
            "nope",
            "",
        ]
    ),
    st.text(max_size=20),
)
action = st.fixed_dictionaries(
    {
        "title": st.one_of(st.text(max_size=10), junk),
        "type": st.one_of(st.sampled_from(["open_url", "webhook"]), st.text(max_size=6)),
        "url": url,
    },
    optional={"method": st.sampled_from(["GET", "POST", "PUT"]), "body": st.just({"a": 1})},
)
metric = st.fixed_dictionaries(
    {"label": st.one_of(st.text(max_size=8), junk), "value": junk},
    optional={"unit": st.text(max_size=3), "color": color},
)
content_state = st.fixed_dictionaries(
    {"title": st.one_of(st.text(max_size=20), junk)},
    optional={
        "type": st.one_of(st.sampled_from(TYPES), st.text(max_size=6)),
        "subtitle": st.one_of(st.text(max_size=20), junk),
        "number_of_steps": st.integers(-1, 12),
        "current_step": st.integers(-1, 14),
        "percentage": st.one_of(st.floats(-10, 120), junk),
        "value": junk,
        "upper_limit": junk,
        "duration_seconds": junk,
        "metrics": st.lists(metric, max_size=10),
        "message": junk,
        "color": color,
        "step_color": color,
        "step_colors": st.lists(color, max_size=14),
        "icon": st.fixed_dictionaries({"symbol": st.text(max_size=8)}, optional={"color": color}),
        "badge": st.fixed_dictionaries({"title": st.text(max_size=8)}, optional={"color": color}),
        "auto_dismiss_minutes": st.integers(-2, 10),
        "is_running": junk,
    },
)
stream_body = st.fixed_dictionaries(
    {"content_state": content_state},
    optional={
        "action": action,
        "secondary_action": action,
        "channels": st.lists(st.text(max_size=6), max_size=3),
        "tags": st.lists(st.text(max_size=70), max_size=3),
        "metadata": st.dictionaries(st.text(max_size=5), junk, max_size=3),
        "alert": st.fixed_dictionaries({}, optional={"title": junk, "body": junk}),
        "bogus_field": junk,
    },
)
push_body = st.fixed_dictionaries(
    {"title": st.one_of(st.text(max_size=20), junk)},
    optional={
        "message": junk,
        "subtitle": junk,
        "media": url,
        "icon": url,
        "redirection": url,
        "actions": st.lists(action, max_size=6),
        "interruption_level": st.one_of(
            st.sampled_from(["passive", "active", "time-sensitive"]), junk
        ),
        "badge": junk,
        "tags": st.lists(st.text(max_size=70), max_size=3),
        "metadata": st.dictionaries(st.text(max_size=5), junk, max_size=3),
        "surprise": junk,
    },
)


def _kept(sent: Any, wire: Any, path: str = "") -> None:
    """Every non-null field the caller sent is on the wire."""
    if isinstance(sent, dict):
        for key, value in sent.items():
            if value is None:
                continue
            assert key in wire, f"{path}{key} dropped"
            _kept(value, wire[key], f"{path}{key}.")
    elif isinstance(sent, list):
        assert len(sent) == len(wire)
        for i, (a, b) in enumerate(zip(sent, wire, strict=True)):
            _kept(a, b, f"{path}[{i}].")


def _check(build: Any, model: Any, body: dict[str, Any]) -> None:
    try:
        call = build(body)
    except ValidationError as exc:
        event("rejected")
        assert exc.field, str(exc)
        assert str(exc).startswith(exc.field.split("[")[0].split(".")[0]), str(exc)
        return
    assert call.body is not None
    _kept({k: v for k, v in body.items() if k != "channels"}, call.body)
    model.from_dict(call.body)
    event("accepted")


@given(stream_body)
def test_stream_requests(body: dict[str, Any]) -> None:
    _check(
        lambda b: CLIENT._build.stream("prop-key", b, {}), openapi.LiveActivityStreamRequest, body
    )


@given(push_body)
def test_push_requests(body: dict[str, Any]) -> None:
    _check(lambda b: CLIENT._build.push_send(b, {}), openapi.PushNotificationRequest, body)


@given(st.fixed_dictionaries({"content_state": content_state}))
def test_end_stream_requests(body: dict[str, Any]) -> None:
    _check(
        lambda b: CLIENT._build.end_stream("prop-key", b, {}),
        openapi.LiveActivityStreamDeleteRequest,
        body,
    )


@st.composite
def valid_states(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    state: dict[str, Any] = {
        "title": draw(st.text(max_size=30)),
        "type": kind,
        "color": draw(st.sampled_from(COLORS)),
    }
    if kind == "segmented_progress":
        n = draw(st.integers(1, 20))
        done = draw(st.integers(0, n))
        state |= {
            "number_of_steps": n,
            "current_step": done,
            "step_colors": draw(st.lists(st.sampled_from(COLORS), max_size=done)),
        }
    elif kind == "progress":
        state["percentage"] = draw(st.floats(0, 100))
    elif kind in ("metrics", "stats"):
        state["metrics"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "label": st.text(min_size=1, max_size=10),
                        "value": st.one_of(
                            st.integers(0, 10**6),
                            st.floats(0, 1e6),
                            st.text(min_size=1, max_size=64),
                        ),
                    }
                ),
                min_size=1,
                max_size=8,
            )
        )
    elif kind == "alert":
        state["message"] = draw(st.text(min_size=1, max_size=40))
    elif kind == "value":
        state["value"] = draw(st.one_of(st.integers(), st.text(min_size=1, max_size=64)))
    elif kind == "timer":
        state["duration_seconds"] = draw(st.integers(1, 10**5))
    if draw(st.booleans()):
        state["icon"] = {"symbol": draw(st.text(min_size=1, max_size=12))}
    return state


@given(valid_states(), st.lists(st.text(min_size=1, max_size=64), max_size=5))
def test_valid_requests_are_accepted_and_complete(state: dict[str, Any], tags: list[str]) -> None:
    body = {"content_state": state, "tags": tags}
    call = CLIENT._build.stream("prop-key", body, {})
    assert call.body is not None
    _kept(body, call.body)
    openapi.LiveActivityStreamRequest.from_dict(call.body)

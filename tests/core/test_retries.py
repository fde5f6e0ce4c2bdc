"""Retries proven with the sandbox's fault switches: attempts counted, Retry-After honoured,
the budget bounding the total time, non-idempotent calls not repeated once they may have landed."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from activitysmith_core import ActivitySmith, AsyncActivitySmith, RetryPolicy
from activitysmith_core import errors as e
from activitysmith_core.sandbox import Faults

STATE = {"title": "t", "type": "value", "value": 1}


def _client(sandbox: Any, **policy: Any) -> ActivitySmith:
    retry = RetryPolicy(**{"initial_backoff": 0.05, "max_backoff": 0.2, **policy})
    return ActivitySmith(sandbox.api_key, base_url=sandbox.url, retry=retry, timeout=1.0)


def _api(sandbox: Any) -> list[Any]:
    return [r for r in sandbox.requests if "/_sandbox" not in r.path]


def test_5xx_is_retried_up_to_max_attempts(sandbox: Any) -> None:
    sandbox.set_faults(Faults(error_rate=1.0, status=503))
    with _client(sandbox, max_attempts=3) as client, pytest.raises(e.ServerError) as info:
        client.live_activities.stream("k", content_state=STATE)
    assert info.value.status_code == 503
    assert len(_api(sandbox)) == 3


def test_429_honours_retry_after(sandbox: Any) -> None:
    sandbox.set_faults(Faults(rate_limit_burst=2, retry_after=1))
    with _client(sandbox, max_attempts=4, budget=10) as client:
        res = client.live_activities.stream("k", content_state=STATE)
    assert res.success
    reqs = _api(sandbox)
    assert [r.status for r in reqs] == [429, 429, 200]
    gaps = [b.time - a.time for a, b in itertools.pairwise(reqs)]
    assert all(g >= 0.95 for g in gaps), gaps


def test_retry_after_beyond_budget_gives_up_at_once(sandbox: Any) -> None:
    sandbox.set_faults(Faults(rate_limit_burst=5, retry_after=30))
    t0 = time.monotonic()
    with (
        _client(sandbox, max_attempts=4, budget=2) as client,
        pytest.raises(e.RateLimitError) as info,
    ):
        client.notifications.send(title="x")
    assert info.value.retry_after == 30
    assert len(_api(sandbox)) == 1
    assert time.monotonic() - t0 < 30


def test_hanging_requests_are_bounded_by_the_budget(sandbox: Any) -> None:
    sandbox.set_faults(Faults(hang_rate=1.0, hang_seconds=30))
    t0 = time.monotonic()
    with _client(sandbox, max_attempts=10, budget=2.5) as client, pytest.raises(e.APITimeoutError):
        client.live_activities.stream("k", content_state=STATE)
    assert time.monotonic() - t0 < 10
    assert len(_api(sandbox)) >= 2, "an idempotent stream PUT is retried after a read timeout"


def test_push_is_not_repeated_after_a_read_timeout(sandbox: Any) -> None:
    sandbox.set_faults(Faults(hang_rate=1.0, hang_seconds=30))
    with _client(sandbox, max_attempts=4, budget=3) as client, pytest.raises(e.APITimeoutError):
        client.notifications.send(title="only once")
    assert len(_api(sandbox)) == 1


def test_push_retry_can_be_asked_for(sandbox: Any) -> None:
    sandbox.set_faults(Faults(error_rate=1.0, status=500))
    with _client(sandbox, max_attempts=3) as client, pytest.raises(e.ServerError):
        client.notifications.send(title="not retried on 500")
    assert len(_api(sandbox)) == 1
    sandbox.reset()
    sandbox.set_faults(Faults(error_rate=1.0, status=500))
    with (
        _client(sandbox, max_attempts=3, retry_non_idempotent=True) as client,
        pytest.raises(e.ServerError),
    ):
        client.notifications.send(title="retried on request")
    assert len(_api(sandbox)) == 3


def test_dropped_connections(sandbox: Any) -> None:
    sandbox.set_faults(Faults(drop_rate=1.0))
    with _client(sandbox, max_attempts=3) as client:
        with pytest.raises(e.APIConnectionError):
            client.live_activities.stream("k", content_state=STATE)
        assert len(_api(sandbox)) == 3
        sandbox.reset()
        sandbox.set_faults(Faults(drop_rate=1.0))
        with pytest.raises(e.APIConnectionError):
            client.notifications.send(title="maybe delivered")
        assert len(_api(sandbox)) == 1


def test_other_4xx_are_not_retried(sandbox: Any) -> None:
    with _client(sandbox, max_attempts=5) as client, pytest.raises(e.NotFoundError):
        client.live_activities.end_stream("never-started")
    assert len(_api(sandbox)) == 1


def test_server_down_is_a_connection_error_and_retried() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ActivitySmith(
        "ask_x",
        base_url=f"http://127.0.0.1:{port}/api",
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.01),
    )
    with pytest.raises(e.APIConnectionError) as info:
        client.notifications.send(title="x")
    assert info.value.maybe_delivered is False


@pytest.mark.anyio
async def test_async_retries_too(sandbox: Any) -> None:
    sandbox.set_faults(Faults(rate_limit_burst=1, retry_after=1))
    retry = RetryPolicy(initial_backoff=0.05)
    async with AsyncActivitySmith(sandbox.api_key, base_url=sandbox.url, retry=retry) as client:
        res = await client.live_activities.stream("k", content_state=STATE)
    assert res.success
    assert [r.status for r in _api(sandbox)] == [429, 200]

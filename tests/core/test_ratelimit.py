"""Rate-limit headers: the sandbox sends them on every answer, the parser never raises, and both
clients keep the latest status per policy, shared by their ``with_options`` copies."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitysmith_core import ActivitySmith, AsyncActivitySmith, RetryPolicy
from activitysmith_core import errors as e
from activitysmith_core.sandbox import Sandbox
from activitysmith_core.types import RateLimitStatus, parse_rate_limit

SEG = {"title": "ETL", "type": "segmented_progress", "number_of_steps": 2, "current_step": 1}
DEFAULTS = {"push": 60, "live_activity": 300, "metric": 300, "badge": 60}


def _policy(response: httpx.Response, name: str) -> RateLimitStatus:
    found = parse_rate_limit(response.headers)
    assert name in found, response.headers
    return found[name]


# -- parsing --------------------------------------------------------------------------------


def test_parse_one_policy() -> None:
    status = parse_rate_limit(
        {
            "RateLimit": '"live_activity";r=250;t=42',
            "RateLimit-Policy": '"live_activity";q=300;w=60',
        },
        observed_at=100.0,
    )
    assert status == {
        "live_activity": RateLimitStatus("live_activity", 250, 42.0, 300, 60.0, 100.0)
    }
    assert status["live_activity"].reset_at == 142.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        status["live_activity"].remaining = 1  # type: ignore[misc]


def test_parse_several_policies_any_case_and_order() -> None:
    headers = httpx.Headers(
        [
            ("ratelimit", '"push";r=3;t=10,  "ip";r=599;t=1.5'),
            ("RATELIMIT", "badge;t=7;r=0;pk=:YWJj:"),  # a token name, another line
            ("RateLimit-Policy", '"push";q=60;w=60, "ip";q=600;w=60;qu="requests"'),
        ]
    )
    found = parse_rate_limit(headers)
    assert set(found) == {"push", "ip", "badge"}
    assert (found["push"].remaining, found["push"].reset, found["push"].quota) == (3, 10.0, 60)
    assert (found["ip"].remaining, found["ip"].reset, found["ip"].window) == (599, 1.5, 60.0)
    assert (found["badge"].remaining, found["badge"].reset) == (0, 7.0)
    assert found["badge"].quota is None and found["badge"].window is None
    assert parse_rate_limit([("RateLimit", '"m";r=1')])["m"].reset == 0.0, "t is optional"


@pytest.mark.parametrize(
    "value",
    [
        "",
        '"push";r=',
        '"push";r=1,',
        '"push";r=1 "x"',
        '"push;r=1',
        "limit=100, remaining=5, reset=3",  # the draft-7 dictionary form
        '"push";R=1',
        "1;r=1",
        '"push";r=?2',
        '"push";r=1;pk=:YW*:',
        '"pu\\sh";r=1',
        '"push";r=1;;t=2',
        '"é";r=1',
    ],
)
def test_malformed_header_gives_nothing(value: str) -> None:
    assert parse_rate_limit({"RateLimit": value, "RateLimit-Policy": '"push";q=1'}) == {}


def test_unusable_policies_are_skipped() -> None:
    found = parse_rate_limit(
        {"RateLimit": '"a";t=1, "b";r=-1;t=1, "c";r="x", "d";r=?1, "e";r=2;t=-3, "f";r=4;t=5'}
    )
    assert set(found) == {"e", "f"}
    assert found["e"].reset == 0.0


@pytest.mark.parametrize("headers", [None, 42, "RateLimit", [1, 2], [("RateLimit", None)], {1: 2}])
def test_garbage_never_raises(headers: Any) -> None:
    assert parse_rate_limit(headers) == {}


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_parse_never_raises(limit: str, policy: str) -> None:
    found = parse_rate_limit({"RateLimit": limit, "RateLimit-Policy": policy})
    assert all(s.remaining >= 0 and s.reset >= 0 for s in found.values())


# -- the sandbox's headers ------------------------------------------------------------------


def test_every_answer_carries_both_headers(sandbox: Sandbox, http: httpx.Client) -> None:
    first = http.post("/push-notification", json={"title": "x"})
    assert first.status_code == 200
    push = _policy(first, "push")
    assert (push.remaining, push.quota, push.window) == (59, 60, 60.0)
    assert 0 < push.reset <= 60
    assert first.headers["RateLimit-Policy"] == '"push";q=60;w=60'
    assert _policy(http.post("/push-notification", json={"title": "x"}), "push").remaining == 58

    bad = http.post("/push-notification", json={"title": 1})
    assert bad.status_code == 400
    assert _policy(bad, "push").remaining == 57
    for path, body, name in [
        ("/badge", {"badge": 2}, "badge"),
        ("/metrics/cpu/value", {"value": 1}, "metric"),
        ("/live-activity/stream/k", {"content_state": SEG}, "live_activity"),
    ]:
        answer = http.request("PUT" if "stream" in path else "POST", path, json=body)
        status = _policy(answer, name)
        assert (status.remaining, status.quota) == (DEFAULTS[name] - 1, DEFAULTS[name])
        assert set(parse_rate_limit(answer.headers)) == {name}, "one feature's policy"

    unauthorized = httpx.post(f"{sandbox.url}/badge", json={"badge": 1})
    assert unauthorized.status_code == 401
    assert _policy(unauthorized, "badge").remaining == 59, "not counted"

    unknown = http.get("/nowhere")
    assert unknown.status_code == 404
    assert set(parse_rate_limit(unknown.headers)) == set(DEFAULTS)


def test_defaults_are_reported_but_not_enforced(sandbox: Sandbox, http: httpx.Client) -> None:
    codes = [http.post("/badge", json={"badge": i}).status_code for i in range(62)]
    assert codes == [200] * 62
    last = http.post("/badge", json={"badge": 0})
    assert last.status_code == 200 and _policy(last, "badge").remaining == 0


def test_configured_quota_429_keeps_retry_after() -> None:
    with Sandbox(rate_limits={"push": 2}) as sb:
        http = httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.api_key}"})
        answers = [http.post("/push-notification", json={"title": "x"}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [_policy(a, "push").remaining for a in answers] == [1, 0, 0]
        assert all(a.headers["RateLimit-Policy"] == '"push";q=2;w=60' for a in answers)
        limited = _policy(answers[2], "push")
        assert abs(limited.reset - int(answers[2].headers["Retry-After"])) <= 1
        badge = http.post("/badge", json={"badge": 1})
        assert _policy(badge, "badge").quota == 60, "unconfigured features report the default"
        http.close()


def test_burst_and_capacity_429s(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_faults(rate_limit_burst=1, retry_after=3)
    burst = http.post("/metrics/cpu/value", json={"value": 1})
    assert burst.status_code == 429 and burst.headers["Retry-After"] == "3"
    status = _policy(burst, "metric")
    assert (status.remaining, status.reset, status.quota) == (0, 3.0, 300)
    sandbox.set_faults()
    for i in range(4):
        assert http.put(f"/live-activity/stream/s{i}", json={"content_state": SEG}).is_success
    full = http.post("/live-activity/start", json={"content_state": SEG})
    assert full.status_code == 429 and "Retry-After" not in full.headers
    assert _policy(full, "live_activity").remaining == 295


# -- the clients' state ---------------------------------------------------------------------


def test_client_keeps_the_latest_status(sandbox: Sandbox) -> None:
    with ActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:
        assert client.rate_limits == {} and client.rate_limit("push") is None
        client.notifications.send(title="one")
        first = client.rate_limit("push")
        assert first is not None and (first.remaining, first.quota, first.window) == (59, 60, 60.0)
        client.notifications.send(title="two")
        second = client.rate_limit("push")
        assert second is not None and second.remaining == 58
        assert second.observed_at >= first.observed_at
        assert second.reset_at == second.observed_at + second.reset

        client.live_activities.stream("k", content_state=SEG)
        client.live_activities.stream("k", content_state={**SEG, "current_step": 2})
        live = client.rate_limit("live_activity")
        assert live is not None and live.remaining == 298
        assert set(client.rate_limits) == {"push", "live_activity"}

        fast = client.with_options(retry=RetryPolicy(max_attempts=1), timeout=5.0)
        assert fast.rate_limits is client.rate_limits
        fast.badges.set(1)
        assert client.rate_limit("badge") is not None
        assert client.rate_limit("badge") is fast.rate_limit("badge")


def test_client_records_error_answers() -> None:
    with Sandbox(rate_limits={"badge": 1}) as sb:
        client = ActivitySmith(sb.api_key, base_url=sb.url, retry=RetryPolicy(max_attempts=1))
        client.badges.set(1)
        with pytest.raises(e.RateLimitError) as info:
            client.badges.set(2)
        status = client.rate_limit("badge")
        assert status is not None and status.remaining == 0 and status.quota == 1
        assert info.value.retry_after is not None
        assert abs(status.reset - info.value.retry_after) <= 1

        wrong = ActivitySmith("sk_wrong", base_url=sb.url)
        with pytest.raises(e.AuthenticationError):
            wrong.notifications.send(title="x")
        assert wrong.rate_limit("push") is not None
        client.close()
        wrong.close()


def test_retried_burst_ends_with_the_success(sandbox: Sandbox) -> None:
    sandbox.set_faults(rate_limit_burst=1, retry_after=0)
    with ActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:
        client.metrics.update("cpu", 1)
        status = client.rate_limit("metric")
        assert status is not None and status.remaining == 299


def test_no_headers_no_state() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"success": True}))
    with ActivitySmith(
        "ask_test", base_url="https://api.test/api", http_client=httpx.Client(transport=transport)
    ) as client:
        client.metrics.update("cpu", 1)
        assert client.rate_limits == {} and client.rate_limit("metric") is None


def test_concurrent_updates_and_reads(sandbox: Sandbox) -> None:
    problems: list[BaseException] = []
    done = threading.Event()
    with ActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:

        def send() -> None:
            try:
                for i in range(10):
                    client.metrics.update("rows", i)
            except BaseException as exc:  # pragma: no cover - reported below
                problems.append(exc)

        def read() -> None:
            while not done.is_set():
                try:
                    snapshot = dict(client.rate_limits)
                    assert all(isinstance(s, RateLimitStatus) for s in snapshot.values())
                except BaseException as exc:  # pragma: no cover - reported below
                    problems.append(exc)
                    return

        reader = threading.Thread(target=read)
        reader.start()
        senders = [threading.Thread(target=send) for _ in range(4)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        done.set()
        reader.join()
        assert problems == []
        status = client.rate_limit("metric")
        assert status is not None and 260 <= status.remaining < 300


@pytest.mark.anyio
async def test_async_client_mirrors(sandbox: Sandbox) -> None:
    async with AsyncActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:
        assert client.rate_limit("push") is None
        await client.notifications.send(title="one")
        await client.notifications.send(title="two")
        push = client.rate_limit("push")
        assert push is not None and push.remaining == 58
        clone = client.with_options(timeout=5.0)
        assert clone.rate_limits is client.rate_limits
        sandbox.set_faults(rate_limit_burst=5, retry_after=9)
        with pytest.raises(e.RateLimitError):
            await clone.with_options(retry=RetryPolicy(max_attempts=1)).badges.set(1)
        badge = client.rate_limit("badge")
        assert badge is not None and (badge.remaining, badge.reset) == (0, 9.0)

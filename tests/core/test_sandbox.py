"""The sandbox speaks the API over raw HTTP: auth, routes, stream semantics, the cap, rate limits,
fault switches, and the admin endpoints."""

from __future__ import annotations

from dataclasses import asdict

import httpx
import pytest

from activitysmith_core.sandbox import Faults, Sandbox

SEG = {"title": "t", "type": "segmented_progress", "number_of_steps": 2, "current_step": 0}


def test_auth(sandbox: Sandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": sandbox.api_key}):
        r = httpx.post(f"{sandbox.url}/push-notification", json={"title": "x"}, headers=headers)
        assert r.status_code == 401
        assert set(r.json()) == {"error", "message"}
    assert sandbox.pushes == []


def test_validation_errors_are_400_with_the_field(http: httpx.Client) -> None:
    r = http.post("/push-notification", json={"title": "t", "media": "http://x"})
    assert r.status_code == 400 and r.json()["message"].startswith("media:")
    r = http.put("/live-activity/stream/k", json={"content_state": {"title": "t"}})
    assert r.status_code == 400 and r.json()["message"].startswith("content_state.type:")
    r = http.put("/live-activity/stream/a:b", json={"content_state": SEG})
    assert r.status_code == 400 and "stream_key" in r.json()["message"]
    r = http.post("/metrics/Bad/value", json={"value": 1})
    assert r.status_code == 400 and r.json()["error"] == "Invalid metric key"
    assert http.get("/nothing").status_code == 404


def test_stream_semantics(sandbox: Sandbox, http: httpx.Client) -> None:
    ops = [
        http.put("/live-activity/stream/k", json={"content_state": s}).json()["operation"]
        for s in (
            SEG,
            SEG,
            {**SEG, "current_step": 1},
            {"title": "t", "current_step": 2, "number_of_steps": 2},
        )
    ]
    assert ops == ["started", "noop", "updated", "updated"]
    assert sandbox.activities["k"]["content_state"]["type"] == "segmented_progress"
    end = http.request("DELETE", "/live-activity/stream/k")
    assert end.json()["operation"] == "ended"
    missing = http.request("DELETE", "/live-activity/stream/k")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not found", "message": "Live Activity stream not found"}
    again = http.put("/live-activity/stream/k", json={"content_state": SEG}).json()
    assert again["operation"] == "started"
    assert [r.status for r in sandbox.stream_requests("k")] == [200, 200, 200, 200, 200, 404, 200]


def test_cap_of_four(http: httpx.Client) -> None:
    for i in range(4):
        assert http.put(f"/live-activity/stream/s{i}", json={"content_state": SEG}).is_success
    r = http.post("/live-activity/start", json={"content_state": SEG})
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json() == {
        "error": "Live Activity limit reached",
        "message": "Only 4 concurrent Live Activities are allowed per account",
        "limit": 4,
        "active": 4,
    }
    assert (
        http.put(
            "/live-activity/stream/s0", json={"content_state": {**SEG, "current_step": 1}}
        ).json()["operation"]
        == "updated"
    ), "updating an active one is fine"


def test_rate_limits_with_retry_after() -> None:
    with Sandbox(rate_limits={"push": 2}) as sb:
        client = httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.api_key}"})
        codes = [
            client.post("/push-notification", json={"title": "x"}).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        r = client.post("/push-notification", json={"title": "x"})
        assert r.json()["code"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60
        assert client.post("/badge", json={"badge": 1}).is_success, "quotas are per feature"


@pytest.mark.parametrize(
    ("switches", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"status": 200}, "status"),
        ({"refuse": 404}, "refuse"),
        ({"latency": -1}, "latency"),
        ({"down": "sometimes"}, "down"),
        ({"eror_rate": 0.5}, "eror_rate"),
    ],
)
def test_a_bad_fault_switch_is_refused_naming_it(
    sandbox: Sandbox, switches: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        Faults(**switches)  # type: ignore[arg-type]
    r = httpx.post(f"{sandbox.root}/_sandbox/faults", json=switches)
    assert r.status_code == 400 and field in r.json()["message"]
    assert httpx.get(f"{sandbox.root}/_sandbox/faults").json() == asdict(Faults())  # unchanged


def test_fault_switches_over_admin(sandbox: Sandbox, http: httpx.Client) -> None:
    admin = sandbox.root + "/_sandbox"
    r = httpx.post(f"{admin}/faults", json={"error_rate": 1.0, "status": 502})
    assert r.json()["error_rate"] == 1.0
    assert http.post("/badge", json={"badge": 1}).status_code == 502
    assert httpx.post(f"{admin}/faults", json={"bogus": 1}).status_code == 400
    httpx.post(f"{admin}/faults", json={"rate_limit_burst": 1, "retry_after": 3})
    r = http.post("/badge", json={"badge": 1})
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert http.post("/badge", json={"badge": 2}).is_success
    httpx.post(f"{admin}/faults", json={"drop_rate": 1.0})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post("/badge", json={"badge": 3})
    httpx.post(f"{admin}/faults", json={"hang_rate": 1.0, "hang_seconds": 5})
    with pytest.raises(httpx.ReadTimeout):
        http.post("/badge", json={"badge": 4}, timeout=0.5)
    httpx.post(f"{admin}/faults", json={"latency": 0.3})
    r = http.post("/badge", json={"badge": 5})
    assert r.is_success and r.elapsed.total_seconds() >= 0.3
    httpx.post(f"{admin}/faults", json={"no_recipients": True})
    assert http.post("/push-notification", json={"title": "x"}).status_code == 422
    records = httpx.get(f"{admin}/requests").json()
    assert [r["fault"] for r in records] == ["502", "429", None, "drop", "hang", None, None]
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in records)
    state = httpx.get(f"{admin}/state").json()
    assert state["badge"] == 5
    assert httpx.post(f"{admin}/reset").json() == {"success": True}
    assert httpx.get(f"{admin}/requests").json() == []


def test_push_replace_and_legacy_lifecycle(sandbox: Sandbox, http: httpx.Client) -> None:
    sent = http.post("/push-notification", json={"title": "a", "tags": ["x"]}).json()
    nid = sent["notification_id"]
    assert (
        http.put(f"/push-notification/{nid}", json={"title": "b"}).json()["notification_id"] == nid
    )
    assert sandbox.pushes[0]["title"] == "b" and sandbox.pushes[0]["tags"] == ["x"]
    assert http.put("/push-notification/unknown", json={"title": "b"}).status_code == 404
    aid = http.post("/live-activity/start", json={"content_state": SEG}).json()["activity_id"]
    assert http.post(
        "/live-activity/update",
        json={"activity_id": aid, "content_state": {"title": "t", "current_step": 1}},
    ).is_success
    assert http.post(
        "/live-activity/end",
        json={"activity_id": aid, "content_state": {"title": "t", "current_step": 2}},
    ).is_success
    assert (
        http.post(
            "/live-activity/update", json={"activity_id": aid, "content_state": {"title": "t"}}
        ).status_code
        == 404
    )
    assert sandbox.activities[aid]["status"] == "ended"

"""A client the caller passes in stays theirs: the key goes on each API request, never into the
httpx client's headers, so the client's other requests (to any host) never carry it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from activitysmith_core import ActivitySmith, AsyncActivitySmith, RetryPolicy

SEG = {"title": "ETL", "type": "segmented_progress", "number_of_steps": 2, "current_step": 1}


class _Elsewhere(ThreadingHTTPServer):
    """Another loopback server: it records the headers of every request it gets."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/somewhere-else"


class _Handler(BaseHTTPRequestHandler):
    server: _Elsewhere

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[_Elsewhere]:
    server = _Elsewhere()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _assert_authenticated(sent: list[httpx.Request], sandbox: Any) -> None:
    api = [r for r in sent if str(r.url).startswith(sandbox.url)]
    assert len(api) == 4
    assert all(r.headers.get("authorization") == f"Bearer {sandbox.api_key}" for r in api)
    records = sandbox.requests
    assert [r.status for r in records] == [200, 200, 200, 200], "the sandbox accepted the key"
    assert all("authorization" not in {k.lower() for k in r.headers} for r in records)


def test_sync_client_passed_in_is_never_changed(sandbox: Any, elsewhere: _Elsewhere) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(headers={"X-Mine": "1"}, event_hooks={"request": [sent.append]})
    before = dict(http.headers)
    client = ActivitySmith(sandbox.api_key, base_url=sandbox.url, http_client=http)
    assert dict(http.headers) == before
    client.notifications.send(title="hello")
    client.live_activities.stream("untouched", content_state=SEG)
    clone = client.with_options(retry=RetryPolicy(max_attempts=1), timeout=5.0)
    clone.live_activities.end_stream("untouched")
    clone.badges.set(1)

    assert dict(http.headers) == before
    assert "authorization" not in http.headers
    _assert_authenticated(sent, sandbox)
    assert sent[0].headers["x-mine"] == "1", "the caller's own defaults still apply"

    assert http.get(elsewhere.url).text == "ok"
    assert elsewhere.seen and "authorization" not in elsewhere.seen[0]
    assert sandbox.api_key not in str(elsewhere.seen)
    client.close()


@pytest.mark.anyio
async def test_async_client_passed_in_is_never_changed(sandbox: Any, elsewhere: _Elsewhere) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    http = httpx.AsyncClient(event_hooks={"request": [record]})
    before = dict(http.headers)
    client = AsyncActivitySmith(sandbox.api_key, base_url=sandbox.url, http_client=http)
    await client.notifications.send(title="hello")
    await client.live_activities.stream("untouched", content_state=SEG)
    clone = client.with_options(timeout=5.0)
    await clone.live_activities.end_stream("untouched")
    await clone.badges.set(1)

    assert dict(http.headers) == before
    assert "authorization" not in http.headers
    _assert_authenticated(sent, sandbox)

    assert (await http.get(elsewhere.url)).text == "ok"
    assert elsewhere.seen and "authorization" not in elsewhere.seen[0]
    assert sandbox.api_key not in str(elsewhere.seen)
    await client.aclose()


def test_own_client_carries_no_key_either(sandbox: Any) -> None:
    with ActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:
        assert client.notifications.send(title="x").success
        assert "authorization" not in client._http.headers
        assert sandbox.api_key not in str(dict(client._http.headers))

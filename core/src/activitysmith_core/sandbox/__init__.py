"""A local ActivitySmith: same API, validation and stream semantics, fault switches, a record
of every request, and a live preview page. Tests use it instead of mocks; ``make demo`` uses it
when no API key is set.

    sb = Sandbox().start()          # a thread serving on a free loopback port
    client = ActivitySmith(sb.api_key, base_url=sb.url)
    ...
    sb.requests, sb.activities, sb.pushes
    sb.set_faults(Faults(error_rate=0.5)); sb.reset(); sb.stop()
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from ._server import build_app
from ._state import Faults, RecordedRequest, State

__all__ = ["Faults", "RecordedRequest", "Sandbox"]

DEFAULT_KEY = "sk_test_sandbox"


class Sandbox:
    """The sandbox server, run in a background thread."""

    def __init__(
        self,
        api_key: str = DEFAULT_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        rate_limits: dict[str, int] | None = None,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.state = State(faults, rate_limits)
        self.app = build_app(self.state, api_key)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url!r})"

    @property
    def root(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL to give a client."""
        return f"{self.root}/api"

    def _socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it, each answer waits ~40 ms for the
        # client's delayed ACK (Nagle), and the sandbox is 30 times slower than it needs to be.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        return sock

    def start(self) -> Sandbox:
        sock = self._socket()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name="activitysmith-sandbox",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread (the command line)."""
        sock = self._socket()
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        uvicorn.Server(config).run(sockets=[sock])

    # -- record and state ------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def stream_requests(self, key: str) -> list[RecordedRequest]:
        """The PUT/DELETE requests of one stream, in the order received."""
        return [r for r in self.requests if r.path.endswith(f"/live-activity/stream/{key}")]

    @property
    def activities(self) -> dict[str, dict[str, Any]]:
        """Every activity by stream key (legacy ones by activity id); the newest wins."""
        with self.state.lock:
            self.state.expire()
            return {
                a.stream_key or a.activity_id: a.to_dict() for a in self.state.activities.values()
            }

    @property
    def pushes(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(p) for p in self.state.pushes]

    @property
    def metrics(self) -> dict[str, Any]:
        with self.state.lock:
            return dict(self.state.metrics)

    def set_faults(self, faults: Faults | None = None, **switches: Any) -> None:
        self.state.set_faults(faults or Faults(**switches))

    def set_rate_limits(self, limits: dict[str, int], *, window: int = 60) -> None:
        """Enforce per-feature quotas (``{"live_activity": 300, "push": 60}``) over ``window``
        seconds, as the API does per account; ``reset()`` goes back to the configured ones."""
        with self.state.lock:
            self.state.rate_limits = dict(limits)
            self.state.rate_window = window
            self.state._hits.clear()

    def reset(self) -> None:
        self.state.reset()

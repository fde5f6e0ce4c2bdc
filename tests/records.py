"""Reading the sandbox's record the same way in every suite."""

from __future__ import annotations

import threading
from typing import Any


def stream_states(sandbox: Any) -> list[tuple[str, dict[str, Any]]]:
    """(method, content_state) of every stream request, in the order the sandbox got them."""
    return [
        (r.method, (r.body or {}).get("content_state", {}))
        for r in sandbox.requests
        if "/live-activity/stream/" in r.path
    ]


def push_bodies(sandbox: Any) -> list[dict[str, Any]]:
    """The body of every push request, in order."""
    return [r.body for r in sandbox.requests if r.path.endswith("/push-notification")]


class ActivePeak:
    """The most activities the sandbox showed at once, sampled every 50 ms until :meth:`stop`."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox, self.most, self._stop = sandbox, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.most = max(self.most, self.sandbox.state.active_count())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.most

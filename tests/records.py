"""Reading the sandbox's record the same way in every suite."""

from __future__ import annotations

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

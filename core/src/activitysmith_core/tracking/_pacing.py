"""Pacing by the API's quotas: its ``RateLimit`` headers, and the holds a 429 asks for.

The client records the headers of every answer. When a feature's remaining budget falls to a
tenth of its quota, updates (``reserve``) wait for the window to reset and final states and
pushes use the rest; a 429 holds that feature's requests for its ``Retry-After``. Guarded by
the sender's lock.
"""

from __future__ import annotations

import time
from typing import Any

LIVE_ACTIVITY = "live_activity"
PUSH = "push"


def feature_of(kind: str) -> str:
    """The API feature (quota) a job's requests count against."""
    return PUSH if kind == "push" else LIVE_ACTIVITY


class Pacing:
    """When each feature's next request may go, for one client's account."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._blocked: dict[str, float] = {}

    def wait(self, feature: str, now: float, *, reserve: bool) -> float:
        """Seconds until a request of ``feature`` may go (0 = now)."""
        wait = max(0.0, self._blocked.get(feature, 0.0) - now)
        lookup = getattr(self._client, "rate_limit", None)
        status = lookup(feature) if callable(lookup) else None
        if status is not None:
            quota = getattr(status, "quota", None) or 0
            keep_back = max(1, quota // 10) if reserve else 0
            if status.remaining <= keep_back:
                wait = max(wait, float(status.reset_at) - now)
        return wait

    def hold(self, feature: str, seconds: float) -> None:
        """A 429: no request of ``feature`` before ``seconds`` have passed."""
        self._blocked[feature] = time.monotonic() + seconds

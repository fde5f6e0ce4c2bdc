"""The outage cool-down: once the API is found down, nothing waits on it until it has passed.

A 5xx, a timeout or a refused connection holds every request of the account for a cool-down
(2 s, doubling up to 60 s, back to 2 s at the first success). The cool-down is also written as
a host-wide mark through the store, which the other processes of the host (same user) read:
they keep their states instead of trying, so a run pays for an outage at most once.
"""

from __future__ import annotations

import threading
import time

from ._store import KeptStore

MIN_COOLDOWN = 2.0
MAX_COOLDOWN = 60.0


class Breaker:
    """The cool-down of one account in this process, and its host-wide mark."""

    def __init__(self, store: KeptStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._cooldown = MIN_COOLDOWN

    def down_for(self, now: float | None = None) -> float:
        """Seconds left of the cool-down (0 when the API is taken to be up)."""
        with self._lock:
            return max(0.0, self._down_until - (time.monotonic() if now is None else now))

    def host_down(self) -> bool:
        """Whether another process of the host marked the API down: this one holds too."""
        left = self._store.down_until() - time.time()
        if left <= 0:
            return False
        with self._lock:
            self._down_until = max(self._down_until, time.monotonic() + left)
        return True

    def trip(self) -> float:
        """The API was found down: hold for the cool-down (then a longer one); its seconds."""
        with self._lock:
            held = self._cooldown
            self._down_until = time.monotonic() + held
            self._cooldown = min(self._cooldown * 2, MAX_COOLDOWN)
        self._store.mark_down(time.time() + held)
        return held

    def succeeded(self) -> bool:
        """A request got through: the cool-down resets. True when the API had been down."""
        with self._lock:
            was_down = self._cooldown > MIN_COOLDOWN
            self._cooldown = MIN_COOLDOWN
        if was_down:
            self._store.mark_up()
        return was_down

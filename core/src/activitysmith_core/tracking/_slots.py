"""The slot gate: a new Live Activity waits for one of the account's slots, never lost.

The API shows at most 4 Live Activities per account at once. When a new activity (its first
update, or a final state that has to start it) finds the account full, it waits in the queue
until a slot frees: at once when this sender ends one of its own, else at a retry after a
back-off (5 s, doubling up to 30 s). Waiters are served strictly in the order they began
waiting: the retry is one request for the oldest, a freed slot goes to the oldest, and a
younger one never starts before an older one (a new activity queues behind them). Activities
already shown go on updating; pushes never wait. Guarded by the sender's lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from ._signals import Signal, emit
from ._stats import SenderStats

logger = logging.getLogger("activitysmith_core.tracking")

RETRY_MIN = 5.0
RETRY_MAX = 30.0
BEHIND = 3600.0
"""The wait of a waiter behind an older one: it goes only once that one has started."""


class SlotGate:
    """Which new activities wait for a slot, since when, and when the next retry goes."""

    def __init__(self, stats: SenderStats) -> None:
        self._stats = stats
        self.waiting: dict[str, float] = {}
        self.retry_at = 0.0
        self._backoff = RETRY_MIN
        self._limit = 4

    def start_wait(self, key: str, flushing: bool, now: float) -> float:
        """Seconds until the new activity ``key`` may try to start: after the account was found
        full, starts wait for the retry, oldest waiter first (a flush with nobody waiting tries
        each new one once)."""
        wait = max(0.0, self.retry_at - now)
        if not self.waiting and (wait <= 0 or flushing):
            return 0.0
        if key not in self.waiting:
            self._note(key)
        return wait if next(iter(self.waiting)) == key else BEHIND

    def keep_only(self, queued: Collection[str]) -> None:
        """Forget the waiters with nothing queued any more (kept by a flush, dropped): they
        must not hold the line."""
        for key in [k for k in self.waiting if k not in queued]:
            del self.waiting[key]

    def refused(self, key: str, limit: int | None, active: int | None) -> None:
        """Starting ``key`` found the account full: it waits, and the next retry backs off."""
        if isinstance(limit, int):
            self._limit = limit
        if key not in self.waiting:
            self._note(key, active)
        self.retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RETRY_MAX)

    def _note(self, key: str, active: int | None = None) -> None:
        self.waiting[key] = time.monotonic()
        self._stats.slot_waits += 1
        emit(Signal("slot_wait", "live_activity", len(self.waiting), stream=key))
        logger.warning(
            "ActivitySmith: Live Activity limit reached (%s of %d active); %s waits for a free "
            "slot (%d waiting). Failure pushes are still sent.",
            active if isinstance(active, int) else self._limit,
            self._limit,
            key,
            len(self.waiting),
        )

    def started(self, key: str) -> None:
        """``key``'s activity is shown: it no longer waits."""
        since = self.waiting.pop(key, None)
        if since is not None:
            logger.info(
                "ActivitySmith: %s shown after waiting %.0f s for a Live Activity slot",
                key,
                time.monotonic() - since,
            )
        if not self.waiting:
            self._backoff = RETRY_MIN

    def freed(self) -> None:
        """One of this sender's activities ended: the waiting may try at once."""
        self.retry_at = 0.0
        self._backoff = RETRY_MIN

    def retries_before(self, end: float) -> bool:
        """Whether a retry for the waiting comes before ``end`` (monotonic)."""
        return self.retry_at < end

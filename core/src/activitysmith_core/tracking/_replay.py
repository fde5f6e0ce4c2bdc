"""Kept states: writing what a flush could not deliver, and replaying what earlier flushes
left on disk for this account.

After a success (at once when the API had been down, else at most every 30 s) the sender
claims the account's kept entries from the store — final states first — and delivers them; an
entry that fails goes back to the store with the rest of its batch, for the next check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ._jobs import FinalJob, Job, PushJob
from ._signals import Signal, emit
from ._stats import SenderStats, failure_detail
from ._store import KeptStore

logger = logging.getLogger("activitysmith_core.tracking")

CHECK_EVERY = 30.0
ROUNDS = 10
"""Batches of the store's claim size (20) delivered per check; the rest at the next check."""


class Replay:
    """Delivers the kept entries of one account."""

    def keep(self, left: list[Job]) -> None:
        """Write to disk the final states and pushes a flush could not deliver in time."""
        for job in left:
            if isinstance(job, FinalJob):
                self._store.keep_final(job.key, job.put, job.end)
            elif isinstance(job, PushJob):
                self._store.keep_push(job.body())
            emit(Signal("kept", job.kind, stream=job.stream))
            self._stats.kept += 1
        if left:
            logger.warning(
                "ActivitySmith: %d final state(s)/push(es) not delivered in time; kept for the "
                "next run to deliver",
                len(left),
            )

    def __init__(self, store: KeptStore, stats: SenderStats) -> None:
        self._store = store
        self._stats = stats
        self._checked = 0.0

    def after_success(self, api: Callable[[], Any], was_down: bool) -> None:
        """A request got through: replay kept entries if a check is due."""
        now = time.monotonic()
        if now - self._checked >= CHECK_EVERY or was_down:
            self._checked = now
            for _ in range(ROUNDS):
                claimed = self._store.claim()
                if not claimed or not self._deliver(api, claimed):
                    return

    def _deliver(self, api: Callable[[], Any], claimed: list[tuple[str, dict[str, Any]]]) -> bool:
        from ..errors import NotFoundError

        for index, (path, entry) in enumerate(claimed):
            kind, key = entry.get("kind"), entry.get("key")
            try:
                client = api()
                if kind == "final":
                    try:
                        client.live_activities.end_stream(key, entry["end"])
                    except NotFoundError:
                        client.live_activities.stream(key, entry["put"])
                        client.live_activities.end_stream(key, entry["end"])
                else:
                    client.notifications.send(entry["body"])
            except Exception as exc:
                for unsent, _ in claimed[index:]:
                    self._store.release(unsent)
                emit(Signal("failed", kind, stream=key, detail=failure_detail(exc)))
                logger.warning("ActivitySmith: kept %s still not delivered: %s", kind, exc)
                return False
            self._store.done(path)
            emit(Signal("replayed", kind, stream=key))
            self._stats.delivered_kept += 1
            logger.info("ActivitySmith: delivered a kept %s", kind)
        return True

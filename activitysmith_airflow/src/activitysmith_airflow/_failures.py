"""A run's failure log: which failed or retried task instances to report, once each.

The watcher feeds it every read of the run's task instances; it queues the failures the read
shows (a final failure is one event per task instance, each retry its own), finds the retries
that happened between two reads (a try number that grew past a try not seen ending), and hands
out the failures whose error arrived or which waited long enough for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from ._reads import TaskRow

SEEN_ENDING = frozenset(
    {"success", "skipped", "failed", "up_for_retry", "upstream_failed", "removed"}
)
"""States that show how a try ended: a later try of it was a clear, or a retry already seen."""

Instance = tuple[str, int]
"""(task_id, map_index) of a task instance in its run."""


@dataclass(frozen=True)
class FailureKey:
    """What makes a failure one event: a final failure (``try_number`` None) once per task
    instance, a retry once per try."""

    task_id: str
    map_index: int
    try_number: int | None
    retrying: bool

    @classmethod
    def final(cls, task_id: str, map_index: int) -> FailureKey:
        return cls(task_id, map_index, None, False)

    @classmethod
    def retry(cls, task_id: str, map_index: int, try_number: int) -> FailureKey:
        return cls(task_id, map_index, try_number, True)

    @property
    def ident(self) -> str:
        """The engine's idempotency string of the event (stable across processes)."""
        tries = -1 if self.try_number is None else self.try_number
        return f"{self.task_id}|{self.map_index}|{tries}|{self.retrying}"


@dataclass
class PendingFailure:
    """A failed (or retrying) task instance waiting, briefly, for the error its process left."""

    task_id: str
    map_index: int
    try_number: int
    retrying: bool
    seen: float


class MissedRetry(NamedTuple):
    """A task instance whose try number grew from ``low`` to ``high`` between two reads."""

    task_id: str
    map_index: int
    low: int
    high: int


@dataclass
class Due:
    """A failure to report now, with its error if one arrived."""

    key: FailureKey
    failure: PendingFailure
    error: str | None


@dataclass
class FailureLog:
    """The failures of one run: waiting for their error, and reported."""

    reported: set[FailureKey] = field(default_factory=set)
    waiting: dict[FailureKey, PendingFailure] = field(default_factory=dict)
    errors: dict[Instance, str] = field(default_factory=dict)
    """Errors handed over directly (the listener of a local run)."""
    tries: dict[Instance, tuple[int, str]] = field(default_factory=dict)
    """Each task instance's try number and state at its last read."""
    try_sums: dict[str, int] = field(default_factory=dict)
    """Per task, the sum of its instances' try numbers in ``tries``: less than the database's
    sum means a try grew unseen (a change the last read missed)."""

    def add_error(self, task_id: str, map_index: int, error: str) -> None:
        self.errors[(task_id, map_index)] = error

    def note(self, rows: Iterable[TaskRow], now: float) -> list[MissedRetry]:
        """Queue the failures a read shows; returns the task instances whose try number grew
        past a try neither seen ending nor seen retrying (to look up in the history)."""
        missed: list[MissedRetry] = []
        for row in rows:
            instance = (row.task_id, row.map_index)
            before = self.tries.get(instance)
            self.tries[instance] = (row.try_number, row.state)
            grown = row.try_number - (before[0] if before is not None else 0)
            if grown:
                self.try_sums[row.task_id] = self.try_sums.get(row.task_id, 0) + grown
            if (
                before is not None
                and 1 <= before[0] < row.try_number
                and before[1] not in SEEN_ENDING
            ):
                missed.append(MissedRetry(row.task_id, row.map_index, before[0], row.try_number))
            if row.state not in ("failed", "up_for_retry"):
                continue
            retrying = row.state == "up_for_retry"
            key = (
                FailureKey.retry(row.task_id, row.map_index, row.try_number)
                if retrying
                else FailureKey.final(row.task_id, row.map_index)
            )
            self._queue(key, row.try_number, now)
        return missed

    def note_history(self, missed: MissedRetry, failed_try: int, now: float) -> None:
        """A try the history records as failed: a retry missed between two reads, unless it
        lies outside the growth or the instance's failure was already reported as final (then
        cleared: not a retry)."""
        if not missed.low <= failed_try < missed.high:
            return
        if FailureKey.final(missed.task_id, missed.map_index) in self.reported:
            return
        self._queue(FailureKey.retry(missed.task_id, missed.map_index, failed_try), failed_try, now)

    def _queue(self, key: FailureKey, try_number: int, now: float) -> None:
        if key in self.reported or key in self.waiting:
            return
        self.waiting[key] = PendingFailure(
            key.task_id, key.map_index, try_number, key.retrying, now
        )

    def due(self, now: float, wait: float, found: dict[Instance, str] | None = None) -> list[Due]:
        """The failures to report now (error found, or waited ``wait`` seconds), marked
        reported; ``found`` holds the errors read from the database."""
        ready: list[Due] = []
        for key, failure in list(self.waiting.items()):
            instance = (failure.task_id, failure.map_index)
            error = self.errors.get(instance) or (found or {}).get(instance)
            if error is None and now - failure.seen < wait:
                continue
            del self.waiting[key]
            self.reported.add(key)
            ready.append(Due(key, failure, error))
        return ready

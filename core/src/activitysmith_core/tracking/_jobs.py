"""What waits to be sent: typed jobs, and the queue that coalesces them.

The queue holds at most one progress update and one final state per stream (a newer state
replaces a queued older one; a final state drops the queued update and blocks later ones), and
pushes, of which those of one group added inside a window fold into one. It neither locks nor
touches the network: the sender's lock guards it, the sender's thread sends what it takes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._render import Failure

Render = Callable[[list[Failure]], dict[str, Any]]


@dataclass(frozen=True)
class _StreamJob:
    key: str

    @property
    def stream(self) -> str:
        return self.key


@dataclass(frozen=True)
class UpdateJob(_StreamJob):
    """A progress update of a stream's activity."""

    body: dict[str, Any]
    kind: ClassVar[str] = "update"


@dataclass(frozen=True)
class FinalJob(_StreamJob):
    """A stream's final state: ``put`` starts the activity if it never started, ``end`` ends it."""

    put: dict[str, Any]
    end: dict[str, Any]
    kind: ClassVar[str] = "final"


@dataclass(frozen=True)
class PushJob:
    """A push taken from the queue: nothing folds into it any more."""

    render: Render
    items: tuple[Failure, ...] = ()
    run: str | None = None
    kind: ClassVar[str] = "push"

    @property
    def stream(self) -> str | None:
        return self.run

    def body(self) -> dict[str, Any]:
        return self.render(list(self.items))


Job = UpdateJob | FinalJob | PushJob


@dataclass
class Stream:
    """What is queued for one stream."""

    update: dict[str, Any] | None = None
    final: FinalJob | None = None
    interval: float = 2.0


@dataclass
class Push:
    """A queued push, open to folding until it is taken."""

    due: float
    render: Render
    items: list[Failure] = field(default_factory=list)
    group: str | None = None
    run: str | None = None
    """The stream of the run the push is about: it leaves no later than that run's final."""


class JobQueue:
    """The coalescing queue of one sender (guarded by the sender's lock)."""

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}
        self.pushes: list[Push] = []
        self._folds: dict[str, Push] = {}

    def put_update(self, key: str, body: dict[str, Any], interval: float) -> None:
        stream = self.streams.setdefault(key, Stream())
        if stream.final is None:
            stream.update = body
        stream.interval = interval

    def put_final(self, key: str, put: dict[str, Any], end: dict[str, Any]) -> None:
        stream = self.streams.setdefault(key, Stream())
        stream.update = None
        stream.final = FinalJob(key, put, end)

    def add_push(
        self,
        render: Render,
        item: Failure | None,
        group: str | None,
        due: float,
        run: str | None,
    ) -> bool:
        """Queue a push, or fold ``item`` into the open push of ``group``: True when queued."""
        fold = self._folds.get(group) if group else None
        if fold is not None:
            if item is not None:
                fold.items.append(item)
            return False
        push = Push(due, render, [item] if item else [], group, run)
        self.pushes.append(push)
        if group:
            self._folds[group] = push
        return True

    def release_pushes(self, run: str, now: float) -> None:
        for push in self.pushes:
            if push.run == run:
                push.due = min(push.due, now)

    def take_final(self, key: str) -> FinalJob:
        stream = self.streams[key]
        final, stream.final = stream.final, None
        assert final is not None
        self._tidy(key)
        return final

    def take_update(self, key: str) -> UpdateJob:
        stream = self.streams[key]
        body, stream.update = stream.update, None
        assert body is not None
        self._tidy(key)
        return UpdateJob(key, body)

    def take_push(self, push: Push) -> PushJob:
        self.pushes.remove(push)
        if push.group and self._folds.get(push.group) is push:
            del self._folds[push.group]
        return PushJob(push.render, tuple(push.items), push.run)

    def _tidy(self, key: str) -> None:
        stream = self.streams.get(key)
        if stream is not None and stream.update is None and stream.final is None:
            del self.streams[key]

    def requeue(self, job: Job) -> None:
        """Put back a job that was not delivered, unless something newer replaced it."""
        if isinstance(job, PushJob):
            self.pushes.insert(0, Push(0.0, job.render, list(job.items), None, job.run))
            return
        stream = self.streams.setdefault(job.key, Stream())
        if isinstance(job, FinalJob):
            stream.final = stream.final or job
            stream.update = None
        elif stream.final is None and stream.update is None:
            stream.update = job.body

    def final_queued(self, key: str) -> bool:
        stream = self.streams.get(key)
        return stream is not None and stream.final is not None

    def count(self, keys: Collection[str] | None = None) -> int:
        """Jobs queued (of the streams in ``keys`` only, when given: pushes not counted)."""
        if keys is not None:
            return sum(
                (s.update is not None) + (s.final is not None)
                for k, s in self.streams.items()
                if k in keys
            )
        streams = sum((s.update is not None) + (s.final is not None) for s in self.streams.values())
        return streams + len(self.pushes)

    def take_all(self) -> tuple[list[Job], int]:
        """Empty the queue: the final states and pushes left, and how many updates it drops."""
        left: list[Job] = []
        dropped = 0
        for stream in self.streams.values():
            if stream.final is not None:
                left.append(stream.final)
            elif stream.update is not None:
                dropped += 1
        left.extend(PushJob(p.render, tuple(p.items), p.run) for p in self.pushes)
        self.clear()
        return left, dropped

    def clear(self) -> None:
        self.streams.clear()
        self.pushes.clear()
        self._folds.clear()

    def __len__(self) -> int:
        return len(self.streams)

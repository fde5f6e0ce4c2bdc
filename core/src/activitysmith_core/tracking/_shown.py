"""What a sender showed: the last state of each live stream, and the streams it ended.

An update equal to (or older than) what a stream shows is skipped; a late update for an ended
stream is dropped instead of bringing the ended activity back. Bounded for long-lived
processes: a live stream is forgotten when it ends, an ended one after ``ENDED_MAX_AGE`` seconds
or once ``ENDED_KEEP`` newer ones ended. Guarded by the sender's lock.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

ENDED_KEEP = 256
ENDED_MAX_AGE = 900.0


def digest(body: dict[str, Any]) -> int:
    return hash(json.dumps(body, sort_keys=True, default=str))


@dataclass
class Shown:
    """What a live stream last showed."""

    at: float
    step: int
    digest: int


class Showing:
    """The live streams' last states and the ended streams' final digests."""

    def __init__(self) -> None:
        self.live: dict[str, Shown] = {}
        self._ended: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def ended(self, key: str, now: float) -> bool:
        """Whether this sender ended stream ``key`` (within ``ENDED_MAX_AGE``)."""
        entry = self._ended.get(key)
        return entry is not None and now - entry[0] <= ENDED_MAX_AGE

    def ended_with(self, key: str, body_digest: int, now: float) -> bool:
        """Whether stream ``key`` was ended with this very final state."""
        return self.ended(key, now) and self._ended[key][1] == body_digest

    def stale(self, key: str, step: int, body_digest: int, now: float) -> bool:
        """Whether an update adds nothing: the stream ended, or shows it (or a later step)."""
        shown = self.live.get(key)
        return self.ended(key, now) or (
            shown is not None and (shown.digest == body_digest or step < shown.step)
        )

    def show(self, key: str, now: float, step: int, body_digest: int) -> None:
        self.live[key] = Shown(now, step, body_digest)

    def end(self, key: str, now: float, body_digest: int) -> None:
        self._ended[key] = (now, body_digest)
        self._ended.move_to_end(key)
        self.live.pop(key, None)
        self.trim(now)

    def trim(self, now: float) -> None:
        """Forget the ended streams past their age or count."""
        while self._ended:
            oldest, (at, _) = next(iter(self._ended.items()))
            if now - at <= ENDED_MAX_AGE and len(self._ended) <= ENDED_KEEP:
                break
            del self._ended[oldest]

    def __len__(self) -> int:
        return len(self.live) + len(self._ended)

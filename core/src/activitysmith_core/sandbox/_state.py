"""The sandbox's memory: faults, the request record, activities, pushes. Thread-safe."""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

MAX_ACTIVE = 4
# The API's per-account quotas (requests per RATE_WINDOW seconds), reported in the RateLimit
# headers of every answer. Only the quotas given as ``rate_limits`` are enforced.
DEFAULT_QUOTAS: dict[str, int] = {"push": 60, "live_activity": 300, "metric": 300, "badge": 60}
RATE_WINDOW = 60


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pydantic_dataclass(config=ConfigDict(extra="forbid", use_attribute_docstrings=True))
class Faults:
    """Fault switches, checked when set (a bad or unknown switch is a ``ValidationError`` naming
    it). Fractions are per request, drawn from a seeded generator."""

    latency: float = Field(default=0.0, ge=0)
    """Seconds every API request waits before it is answered."""
    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of requests answered with ``status``."""
    status: int = Field(default=500, ge=400, le=599)
    """The HTTP status of an injected error (400-599)."""
    rate_limit_burst: int = Field(default=0, ge=0)
    """The next N requests are answered 429 with ``Retry-After: retry_after``."""
    retry_after: int = Field(default=1, ge=0)
    hang_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of requests that hang ``hang_seconds`` (or until a reset) and then get a 503."""
    hang_seconds: float = Field(default=60.0, ge=0)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    """Fraction of requests whose connection is closed without an answer."""
    down: bool = False
    """Every request's connection is closed without an answer, as if the service were gone."""
    no_recipients: bool = False
    """Pushes are refused 422: no device would receive them."""
    refuse: Literal[0, 401, 402, 403] = 0
    """401, 402 or 403: the account refuses every API request with it (0: off)."""
    seed: int | None = None
    """Seed of the generator the fractions draw from (None: seeded by the OS)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        if not isinstance(data, dict):
            raise TypeError("faults: must be a JSON object of fault switches")
        return cls(**data)


@dataclass
class RecordedRequest:
    """One API request as the sandbox saw it (the Authorization header is never kept)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float
    wall: str
    status: int | None = None
    response: Any = None
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Activity:
    activity_id: str
    stream_key: str | None
    content_state: dict[str, Any]
    started: str
    status: str = "active"
    ended: str | None = None
    dismiss_at: float | None = None
    action: dict[str, Any] | None = None
    secondary_action: dict[str, Any] | None = None
    alert: dict[str, Any] | None = None
    channels: list[str] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class State:
    """Everything the sandbox knows. Every mutation notifies the listeners (the live page)."""

    def __init__(self, faults: Faults | None = None, rate_limits: dict[str, int] | None = None):
        self.lock = threading.RLock()
        self.faults = faults or Faults()
        self.random = random.Random(self.faults.seed)
        self.rate_limits = dict(rate_limits or {})
        self.rate_window = RATE_WINDOW
        self._configured_limits = dict(self.rate_limits)
        self.requests: list[RecordedRequest] = []
        self.activities: dict[str, Activity] = {}
        self.streams: dict[str, str] = {}
        self.pushes: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}
        self.badge: int | None = None
        self.version = 0
        self.epoch = 0  # bumped by reset(): requests still hanging from before give up
        self._hits: dict[str, deque[float]] = {}
        self.listeners: list[Callable[[], None]] = []

    def changed(self) -> None:
        self.version += 1
        for listener in list(self.listeners):
            listener()

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            self.random = random.Random(faults.seed)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.activities.clear()
            self.streams.clear()
            self.pushes.clear()
            self.metrics.clear()
            self.badge = None
            self._hits.clear()
            self.rate_limits = dict(self._configured_limits)
            self.rate_window = RATE_WINDOW
            self.faults = Faults()
            self.random = random.Random()
            self.epoch += 1
            self.changed()

    def draw(self, rate: float) -> bool:
        with self.lock:
            return rate > 0 and self.random.random() < rate

    def take_burst(self) -> bool:
        with self.lock:
            if self.faults.rate_limit_burst > 0:
                self.faults.rate_limit_burst -= 1
                return True
            return False

    def _window(self, feature: str, now: float) -> deque[float]:
        """The feature's hits within the last RATE_WINDOW seconds (call with the lock held)."""
        hits = self._hits.setdefault(feature, deque())
        while hits and now - hits[0] >= self.rate_window:
            hits.popleft()
        return hits

    def rate_limited(self, feature: str) -> int | None:
        """Count a request of ``feature``; seconds to wait when it is over its configured
        quota (``rate_limits``), else None. Unconfigured features are counted, never limited."""
        quota = self.rate_limits.get(feature)
        if not quota and feature not in DEFAULT_QUOTAS:
            return None
        with self.lock:
            now = time.monotonic()
            hits = self._window(feature, now)
            if quota and len(hits) >= quota:
                return max(1, int(self.rate_window - (now - hits[0]) + 0.999))
            hits.append(now)
            return None

    def rate_limit_status(self, feature: str) -> tuple[int, int, int]:
        """(quota, remaining, seconds until the oldest counted request leaves the window)."""
        quota = self.rate_limits.get(feature) or DEFAULT_QUOTAS.get(feature, 0)
        with self.lock:
            now = time.monotonic()
            hits = self._window(feature, now)
            reset = max(1, int(self.rate_window - (now - hits[0]) + 0.999)) if hits else 0
            return quota, max(0, quota - len(hits)), reset

    def active_count(self) -> int:
        self.expire()
        return sum(1 for a in self.activities.values() if a.status == "active")

    def expire(self) -> None:
        now = time.monotonic()
        for act in self.activities.values():
            if act.status == "ended" and act.dismiss_at is not None and now >= act.dismiss_at:
                act.status = "dismissed"

    def new_activity(self, key: str | None, body: dict[str, Any]) -> Activity:
        act = Activity(
            activity_id=f"act_{uuid.uuid4().hex[:16]}",
            stream_key=key,
            content_state=dict(body["content_state"]),
            started=now_iso(),
            action=body.get("action"),
            secondary_action=body.get("secondary_action"),
            alert=body.get("alert"),
            channels=body.get("channels") or (body.get("target") or {}).get("channels"),
        )
        self.activities[act.activity_id] = act
        if key:
            self.streams[key] = act.activity_id
        return act

    def stream_activity(self, key: str) -> Activity | None:
        aid = self.streams.get(key)
        act = self.activities.get(aid) if aid else None
        return act if act and act.status == "active" else None

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            self.expire()
            return {
                "version": self.version,
                "activities": [a.to_dict() for a in self.activities.values()],
                "pushes": copy.deepcopy(self.pushes),
                "metrics": dict(self.metrics),
                "badge": self.badge,
                "faults": asdict(self.faults),
                "requests": len(self.requests),
            }

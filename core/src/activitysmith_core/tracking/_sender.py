"""Delivery off the orchestrator's threads: one sender per process and account.

Callers only queue; a daemon thread sends. The queue holds at most one progress update and one
final state per stream (a newer state replaces a queued older one), and pushes, of which the
failures of one run inside a short window fold into one. Requests are paced by the API's
``RateLimit`` headers and by a minimum interval per stream; once the API is found down (5xx,
refused, hanging) nothing waits on it until a cool-down has passed, and the other processes of
the host see that too. The one blocking call is :meth:`Sender.flush`, bounded by one total
deadline; what it could not deliver by then (final states, pushes) is kept on disk, bound to
the account, and delivered by the next sender of that account that reaches the API.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._render import Failure
from ._signals import Signal, emit
from ._store import Binding, KeptStore, binding_of, default_state_dir

logger = logging.getLogger("activitysmith_core.tracking")

LIVE_ACTIVITY = "live_activity"
PUSH = "push"
_MIN_COOLDOWN = 2.0
_MAX_COOLDOWN = 60.0
_KEPT_CHECK_EVERY = 30.0
_ENDED_KEEP = 256
"""How many ended streams a sender remembers (at most ``_ENDED_MAX_AGE`` seconds): a late
update for one of them is dropped instead of bringing the ended activity back."""
_ENDED_MAX_AGE = 900.0
_SLOT_RETRY_MIN = 5.0
_SLOT_RETRY_MAX = 30.0


def _digest(body: dict[str, Any]) -> int:
    return hash(json.dumps(body, sort_keys=True, default=str))


@dataclass
class _Stream:
    update: dict[str, Any] | None = None
    final: tuple[dict[str, Any], dict[str, Any]] | None = None
    interval: float = 2.0


@dataclass
class _Shown:
    """What this sender last showed of a live stream (dropped when the stream ends)."""

    at: float
    step: int
    digest: int


@dataclass
class _Push:
    due: float
    render: Callable[[list[Failure]], dict[str, Any]]
    items: list[Failure] = field(default_factory=list)
    group: str | None = None
    run: str | None = None
    """The stream of the run the push is about: it leaves no later than that run's final."""


@dataclass
class SenderStats:
    """What a sender did, for tests, benchmarks and logs."""

    sent: int = 0
    updates: int = 0
    finals: int = 0
    pushes: int = 0
    skipped_updates: int = 0
    rate_limited: int = 0
    failures: int = 0
    kept: int = 0
    delivered_kept: int = 0
    slot_waits: int = 0
    """Times a new activity waited because the account already showed its 4 (then retried)."""


class Sender:
    """Delivers the Live Activity states and pushes of one account for this process."""

    _registry: dict[str, Sender] = {}
    _registry_lock = threading.Lock()

    def __init__(self, client: Any, binding: Binding, *, state_dir: str | None = None) -> None:
        self.binding = binding
        self._client = client
        self._cond = threading.Condition()
        self._streams: dict[str, _Stream] = {}
        self._pushes: list[_Push] = []
        self._folds: dict[str, _Push] = {}
        self._shown: dict[str, _Shown] = {}
        self._ended: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._slot_waiting: dict[str, float] = {}
        self._slot_retry_at = 0.0
        self._slot_backoff = _SLOT_RETRY_MIN
        self._slot_limit = 4
        self._blocked: dict[str, float] = {}
        self._down_until = 0.0
        self._cooldown = _MIN_COOLDOWN
        self._flush_end: float | None = None
        self._inflight: tuple[str, Any] | None = None
        self._kept_checked = 0.0
        self._thread: threading.Thread | None = None
        self._closed = False
        self.request_timeout = 5.0
        self.deadline = 10.0
        self.stats = SenderStats()
        self.store = KeptStore(state_dir, binding)

    # -- registry -------------------------------------------------------------------------------
    @classmethod
    def for_client(cls, client: Any, *, state_dir: str | None = None) -> Sender:
        """The process's sender for the client's account (base URL and key)."""
        binding = binding_of(client)
        with cls._registry_lock:
            sender = cls._registry.get(binding.id)
            if sender is None:
                root = state_dir if state_dir is not None else default_state_dir()
                sender = cls(client, binding, state_dir=root)
                cls._registry[binding.id] = sender
            return sender

    @property
    def current(self) -> bool:
        """Whether this is still the process's sender for its account (not closed, not reset)."""
        return not self._closed and Sender._registry.get(self.binding.id) is self

    @property
    def in_flight(self) -> bool:
        """Whether a request is being sent right now."""
        with self._cond:
            return self._inflight is not None

    def down_for(self) -> float:
        """Seconds left of the cool-down after the API was found down (0 when it is up)."""
        with self._cond:
            return max(0.0, self._down_until - time.monotonic())

    def configure(
        self,
        *,
        request_timeout: float,
        deadline: float,
        keep: bool,
        max_kept: int,
        max_kept_age: float,
    ) -> None:
        with self._cond:
            self.request_timeout = request_timeout
            self.deadline = deadline
            self.store.max_items = max_kept if keep else 0
            self.store.max_age = max_kept_age

    # -- queueing (never blocks on the network) -------------------------------------------------
    def put_update(self, key: str, body: dict[str, Any], interval: float) -> None:
        with self._cond:
            job = self._streams.setdefault(key, _Stream())
            if job.final is None:
                job.update = body
            job.interval = interval
            self._wake()

    def put_final(self, key: str, put: dict[str, Any], end: dict[str, Any]) -> None:
        with self._cond:
            job = self._streams.setdefault(key, _Stream())
            job.update = None
            job.final = (put, end)
            self._wake()

    def add_push(
        self,
        render: Callable[[list[Failure]], dict[str, Any]],
        *,
        item: Failure | None = None,
        group: str | None = None,
        window: float = 0.0,
        run: str | None = None,
    ) -> None:
        """Queue a push; with ``group``, items added inside ``window`` seconds become one push.
        With ``run`` (the run's stream key) it is sent no later than that run's final state."""
        with self._cond:
            fold = self._folds.get(group) if group else None
            if fold is not None:
                if item is not None:
                    fold.items.append(item)
                return
            job = _Push(time.monotonic() + window, render, [item] if item else [], group, run)
            self._pushes.append(job)
            if group:
                self._folds[group] = job
            self._wake()

    def release_pushes(self, run: str) -> None:
        """The run ended without a final state of its own (a grouped run): its waiting pushes
        go now, as they would with its final."""
        with self._cond:
            now = time.monotonic()
            for push in self._pushes:
                if push.run == run:
                    push.due = min(push.due, now)
            self._wake()

    def _wake(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name=f"activitysmith-sender-{self.binding.id[:6]}", daemon=True
            )
            self._thread.start()
        self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return self._count()

    def final_pending(self, key: str) -> bool:
        """Whether the final state of stream ``key`` is still queued or being sent: False once
        it was delivered (or refused for good), so that its writer may record it as sent."""
        with self._cond:
            job = self._streams.get(key)
            if job is not None and job.final is not None:
                return True
            inflight = self._inflight
            return inflight is not None and inflight[0] == "final" and inflight[1][0] == key

    @property
    def waiting_for_slot(self) -> list[str]:
        """The streams whose activity waits for one of the account's 4 slots to free."""
        with self._cond:
            return list(self._slot_waiting)

    def remembers(self) -> int:
        """How many streams this sender holds anything for (live, ended, queued): bounded."""
        with self._cond:
            return len(self._shown) + len(self._ended) + len(self._streams)

    def _count(self) -> int:
        streams = sum(
            (j.update is not None) + (j.final is not None) for j in self._streams.values()
        )
        return streams + len(self._pushes) + (self._inflight is not None)

    # -- the loop -------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                job, wait = self._next()
                if job is None:
                    self._cond.wait(timeout=min(wait, 1.0))
                    continue
                self._inflight = job
            try:
                self._deliver(job)
            except Exception as exc:  # a bug must never kill delivery
                logger.warning("ActivitySmith: delivery failed unexpectedly: %r", exc)
            finally:
                with self._cond:
                    self._inflight = None
                    self._cond.notify_all()

    def _quota_wait(self, feature: str, now: float, *, reserve: bool) -> float:
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

    def _next(self) -> tuple[tuple[str, Any] | None, float]:
        now = time.monotonic()
        flushing = self._flush_end is not None
        if now < self._down_until:
            return None, self._down_until - now
        soonest = 3600.0
        # Final states first: they are what a person sees last. A run's waiting failure pushes
        # go just before its final (nothing can fold into them once the run has ended).
        wait = self._quota_wait(LIVE_ACTIVITY, now, reserve=False)
        push_wait = self._quota_wait(PUSH, now, reserve=False)
        slot_wait = max(0.0, self._slot_retry_at - now)
        for key, job in self._streams.items():
            if job.final is not None:
                if push_wait <= 0:
                    for push in self._pushes:
                        if push.run == key:
                            return self._take_push(push), 0.0
                start_wait = self._start_wait(key, slot_wait, flushing)
                ready = max(wait, start_wait)
                if ready <= 0:
                    final = job.final
                    job.final = None
                    self._tidy(key)
                    return ("final", (key, final)), 0.0
                soonest = min(soonest, ready)
        for push in self._pushes:
            due = now if flushing else push.due
            ready = max(due - now, push_wait)
            if ready <= 0:
                return self._take_push(push), 0.0
            soonest = min(soonest, ready)
        update_wait = self._quota_wait(LIVE_ACTIVITY, now, reserve=True)
        for key, job in self._streams.items():
            if job.update is not None:
                shown = self._shown.get(key)
                if shown is None:
                    due = self._start_wait(key, slot_wait, flushing)
                elif flushing:
                    due = 0.0
                else:
                    due = shown.at + job.interval - now
                ready = max(due, update_wait)
                if ready <= 0:
                    body = job.update
                    job.update = None
                    self._tidy(key)
                    return ("update", (key, body)), 0.0
                soonest = min(soonest, ready)
        return None, soonest

    def _start_wait(self, key: str, slot_wait: float, flushing: bool) -> float:
        """A new activity needs one of the account's slots: after the account was found full,
        starts wait for the retry (a flush tries each new one once)."""
        if key in self._shown or (flushing and key not in self._slot_waiting):
            return 0.0
        if slot_wait > 0 and key not in self._slot_waiting:
            self._note_slot_wait(key)
        return slot_wait

    def _note_slot_wait(self, key: str, active: object = None) -> None:
        self._slot_waiting[key] = time.monotonic()
        self.stats.slot_waits += 1
        emit(Signal("slot_wait", LIVE_ACTIVITY, len(self._slot_waiting), stream=key))
        logger.warning(
            "ActivitySmith: Live Activity limit reached (%s of %d active); %s waits for a free "
            "slot (%d waiting). Failure pushes are still sent.",
            active if isinstance(active, int) else self._slot_limit,
            self._slot_limit,
            key,
            len(self._slot_waiting),
        )

    def _take_push(self, push: _Push) -> tuple[str, Any]:
        self._pushes.remove(push)
        if push.group and self._folds.get(push.group) is push:
            del self._folds[push.group]
        return ("push", push)

    def _tidy(self, key: str) -> None:
        job = self._streams.get(key)
        if job is not None and job.update is None and job.final is None:
            del self._streams[key]

    # -- delivery -------------------------------------------------------------------------------
    def _api(self) -> Any:
        from .._retry import NO_RETRY

        timeout = self.request_timeout
        if self._flush_end is not None:
            timeout = max(0.05, min(timeout, self._flush_end - time.monotonic()))
        return self._client.with_options(retry=NO_RETRY, timeout=timeout)

    def _host_down(self) -> bool:
        until = self.store.down_until()
        left = until - time.time()
        if left > 0:
            with self._cond:
                self._down_until = max(self._down_until, time.monotonic() + left)
            return True
        return False

    def _deliver(self, job: tuple[str, Any]) -> None:
        kind, payload = job
        if self._host_down():
            self._requeue(kind, payload)
            return
        try:
            if kind == "update":
                self._send_update(*payload)
            elif kind == "final":
                self._send_final(*payload)
            else:
                self._send_push(payload)
        except Exception as exc:
            self._failed(kind, payload, exc)
            return
        self._succeeded()

    def _send_update(self, key: str, body: dict[str, Any]) -> None:
        step = int(body["content_state"].get("current_step", 0))
        digest = _digest(body)
        shown = self._shown.get(key)
        if self._has_ended(key) or (
            shown is not None and (shown.digest == digest or step < shown.step)
        ):
            self.stats.skipped_updates += 1
            return
        self._api().live_activities.stream(key, body)
        emit(Signal("sent", "update", stream=key))
        self.stats.sent += 1
        self.stats.updates += 1
        with self._cond:
            self._shown[key] = _Shown(time.monotonic(), step, digest)
            self._got_slot(key)

    def _has_ended(self, key: str) -> bool:
        with self._cond:
            now = time.monotonic()
            while self._ended:
                oldest, (at, _) = next(iter(self._ended.items()))
                if now - at <= _ENDED_MAX_AGE and len(self._ended) <= _ENDED_KEEP:
                    break
                del self._ended[oldest]
            return key in self._ended

    def _got_slot(self, key: str) -> None:
        waited = self._slot_waiting.pop(key, None)
        if waited is not None:
            logger.info(
                "ActivitySmith: %s shown after waiting %.0f s for a Live Activity slot",
                key,
                time.monotonic() - waited,
            )
        if not self._slot_waiting:
            self._slot_backoff = _SLOT_RETRY_MIN

    def _slot_freed(self) -> None:
        with self._cond:
            self._slot_retry_at = 0.0
            self._slot_backoff = _SLOT_RETRY_MIN

    def _send_final(self, key: str, final: tuple[dict[str, Any], dict[str, Any]]) -> None:
        from ..errors import LiveActivityLimitError, NotFoundError

        put, end = final
        digest = _digest(end)
        if self._has_ended(key) and self._ended[key][1] == digest:
            return
        api = self._api()
        try:
            api.live_activities.end_stream(key, end)
            self.stats.sent += 1
        except NotFoundError:
            # Never started (every update was dropped, or it ran too briefly): start, then end.
            self.stats.sent += 1
            try:
                api.live_activities.stream(key, put)
            except LiveActivityLimitError as exc:
                raise _SlotTaken(exc) from exc
            emit(Signal("sent", "final", stream=key))
            api.live_activities.end_stream(key, end)
            self.stats.sent += 2
        emit(Signal("sent", "final", stream=key))
        self.stats.finals += 1
        with self._cond:
            self._ended[key] = (time.monotonic(), digest)
            self._ended.move_to_end(key)
            self._shown.pop(key, None)
            self._got_slot(key)
        self._has_ended(key)  # trims what is remembered of ended streams
        self._slot_freed()

    def _send_push(self, push: _Push) -> None:
        body = push.render(push.items)
        self._api().notifications.send(body)
        emit(Signal("sent", "push", stream=push.run))
        self.stats.sent += 1
        self.stats.pushes += 1

    def _requeue(self, kind: str, payload: Any) -> None:
        with self._cond:
            if kind == "push":
                self._pushes.insert(0, payload)
            elif kind == "final":
                key, final = payload
                job = self._streams.setdefault(key, _Stream())
                job.final = job.final or final
                job.update = None
            else:
                key, body = payload
                job = self._streams.setdefault(key, _Stream())
                if job.final is None and job.update is None:
                    job.update = body
            self._cond.notify_all()

    def _failed(self, kind: str, payload: Any, exc: Exception) -> None:
        from ..errors import (
            APIError,
            LiveActivityLimitError,
            RateLimitError,
            ServerError,
            TransportError,
        )

        self.stats.failures += 1
        feature = PUSH if kind == "push" else LIVE_ACTIVITY
        what = {"update": "Live Activity update", "final": "final state", "push": "push"}[kind]
        limit = exc.error if isinstance(exc, _SlotTaken) else exc
        stream = payload.run if kind == "push" else payload[0]
        emit(Signal("failed", kind, stream=stream, detail=_detail(limit)))
        if isinstance(limit, LiveActivityLimitError) and kind != "push":
            self._wait_for_slot(kind, payload, limit)
            return
        if isinstance(exc, LiveActivityLimitError):
            logger.warning("ActivitySmith: push rejected: %s", exc)
            return
        if isinstance(exc, RateLimitError):
            self.stats.rate_limited += 1
            emit(Signal("rate_limited", kind, stream=stream))
            with self._cond:
                self._blocked[feature] = time.monotonic() + float(exc.retry_after or 5.0)
            self._requeue(kind, payload)
            return
        if isinstance(exc, (ServerError, TransportError)):
            with self._cond:
                self._down_until = time.monotonic() + self._cooldown
                until = time.time() + self._cooldown
                self._cooldown = min(self._cooldown * 2, _MAX_COOLDOWN)
            self.store.mark_down(until)
            logger.warning(
                "ActivitySmith: %s not delivered (%s); holding further requests for %.0f s",
                what,
                exc,
                until - time.time(),
            )
            self._requeue(kind, payload)
            return
        if isinstance(exc, APIError):
            logger.warning("ActivitySmith: %s rejected: %s", what, exc)
            return
        raise exc

    def _wait_for_slot(self, kind: str, payload: Any, exc: Any) -> None:
        """The account shows its 4 activities: this one waits (queued, never dropped) until a
        slot frees — one of ours ends, or a retry after a back-off finds one."""
        key = payload[0]
        with self._cond:
            limit = getattr(exc, "limit", None)
            self._slot_limit = limit if isinstance(limit, int) else self._slot_limit
            if key not in self._slot_waiting:
                self._note_slot_wait(key, getattr(exc, "active", None))
            self._slot_retry_at = time.monotonic() + self._slot_backoff
            self._slot_backoff = min(self._slot_backoff * 2, _SLOT_RETRY_MAX)
        self._requeue(kind, payload)

    def _succeeded(self) -> None:
        was_down = self._cooldown > _MIN_COOLDOWN
        with self._cond:
            self._cooldown = _MIN_COOLDOWN
        if was_down:
            self.store.mark_up()
        now = time.monotonic()
        if now - self._kept_checked >= _KEPT_CHECK_EVERY or was_down:
            self._kept_checked = now
            self._deliver_kept()

    def _deliver_kept(self) -> None:
        """Deliver what earlier outages left on disk for this account, now that it answers."""
        for _ in range(10):  # up to 200 entries a round; the rest at the next check
            claimed = self.store.claim()
            if not claimed or not self._deliver_claimed(claimed):
                return

    def _deliver_claimed(self, claimed: list[tuple[str, dict[str, Any]]]) -> bool:
        from ..errors import NotFoundError

        for index, (path, entry) in enumerate(claimed):
            try:
                api = self._api()
                if entry.get("kind") == "final":
                    try:
                        api.live_activities.end_stream(entry["key"], entry["end"])
                    except NotFoundError:
                        api.live_activities.stream(entry["key"], entry["put"])
                        api.live_activities.end_stream(entry["key"], entry["end"])
                else:
                    api.notifications.send(entry["body"])
            except Exception as exc:
                for unsent, _ in claimed[index:]:
                    self.store.release(unsent)
                emit(
                    Signal(
                        "failed", entry.get("kind"), stream=entry.get("key"), detail=_detail(exc)
                    )
                )
                logger.warning("ActivitySmith: kept %s still not delivered: %s", entry["kind"], exc)
                return False
            self.store.done(path)
            emit(Signal("replayed", entry.get("kind"), stream=entry.get("key")))
            self.stats.delivered_kept += 1
            logger.info("ActivitySmith: delivered a kept %s", entry["kind"])
        return True

    # -- the one blocking call ------------------------------------------------------------------
    def flush(self, deadline: float | None = None) -> bool:
        """Deliver everything queued within ``deadline`` seconds in total; keep on disk the
        final states and pushes still undelivered then. True when nothing was left."""
        started = time.monotonic()
        end = started + (self.deadline if deadline is None else deadline)
        with self._cond:
            self._flush_end = end
            self._cond.notify_all()
            try:
                while self._deliverable(end) and time.monotonic() < end:
                    if self._inflight is None and (
                        time.monotonic() < self._down_until or self._thread is None
                    ):
                        if self._thread is None:
                            self._wake()
                        else:
                            break  # the API is down: keep, don't wait
                    self._cond.wait(timeout=min(0.05, max(0.0, end - time.monotonic())))
                if self._inflight is not None:
                    # Its request's timeout ends with the deadline; let it report back.
                    left_time = max(0.0, end - time.monotonic())
                    self._cond.wait_for(lambda: self._inflight is None, timeout=left_time)
                left = self._take_all()
                if self._inflight is not None and self._inflight[0] != "update":
                    # Still hanging: keep it too. Delivered twice at worst, never lost.
                    left.append(self._inflight)
            finally:
                self._flush_end = None
        for kind, payload in left:
            if kind == "final":
                key, (put, end_body) = payload
                self.store.keep_final(key, put, end_body)
                emit(Signal("kept", kind, stream=key))
            else:
                self.store.keep_push(payload.render(payload.items))
                emit(Signal("kept", kind, stream=payload.run))
            self.stats.kept += 1
        if left:
            logger.warning(
                "ActivitySmith: %d final state(s)/push(es) not delivered in time; kept for the "
                "next run to deliver",
                len(left),
            )
        emit(Signal("flush", value=time.monotonic() - started))
        return not left

    def _deliverable(self, end: float) -> int:
        """What a flush ending at ``end`` may still deliver: all that is queued, less the new
        activities waiting for a slot that no retry before ``end`` would give."""
        count = self._count()
        if self._slot_retry_at >= end:
            count -= sum(
                (j.update is not None) + (j.final is not None)
                for k, j in self._streams.items()
                if k in self._slot_waiting
            )
        return count

    def _take_all(self) -> list[tuple[str, Any]]:
        left: list[tuple[str, Any]] = []
        for key, job in list(self._streams.items()):
            if job.final is not None:
                left.append(("final", (key, job.final)))
            elif job.update is not None:
                self.stats.skipped_updates += 1
        self._streams.clear()
        left.extend(("push", p) for p in self._pushes)
        self._pushes.clear()
        self._folds.clear()
        return left

    def close(self) -> None:
        """Stop the thread; anything still queued is dropped (call :meth:`flush` first)."""
        with self._cond:
            self._closed = True
            self._streams.clear()
            self._pushes.clear()
            self._folds.clear()
            self._cond.notify_all()

    @classmethod
    def reset_all(cls) -> None:
        """Forget every sender of this process (tests; a forked child)."""
        with cls._registry_lock:
            senders = list(cls._registry.values())
            cls._registry = {}
        for sender in senders:
            sender.close()

    @classmethod
    def flush_all(cls, deadline: float | None = None) -> bool:
        """Flush every sender of this process under one total deadline."""
        with cls._registry_lock:
            senders = list(cls._registry.values())
        if not senders:
            return True
        total = deadline if deadline is not None else max(s.deadline for s in senders)
        end = time.monotonic() + total
        ok = True
        for sender in senders:
            ok = sender.flush(max(0.0, end - time.monotonic())) and ok
        return ok


class _SlotTaken(Exception):
    """A final state's start found no free Live Activity slot."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _detail(exc: BaseException) -> str:
    """A failure as a signal names it: the HTTP status, else the error's class."""
    status = getattr(exc, "status_code", None)
    return str(status) if isinstance(status, int) else type(exc).__name__


def _flush_at_exit() -> None:
    try:
        Sender.flush_all()
    except Exception as exc:  # pragma: no cover - interpreter shutdown
        logger.warning("ActivitySmith: final flush failed: %r", exc)


def _forget_after_fork() -> None:
    # A forked child (an Airflow task process) must not inherit queues, threads or locks.
    Sender._registry = {}
    Sender._registry_lock = threading.Lock()


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)

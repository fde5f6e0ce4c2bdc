"""Delivery off the orchestrator's threads: one sender per process and account.

Callers only queue (:mod:`._jobs`); a daemon thread sends, taking final states first, then
pushes, then updates, each when its pacing allows: the quotas (:mod:`._pacing`), a minimum
interval per stream, the slot gate for new activities (:mod:`._slots`) and the outage cool-down
(:mod:`._breaker`). The one blocking call is :meth:`Sender.flush`, bounded by one total
deadline; what it could not deliver by then (final states, pushes) is kept on disk, bound to
the account, and delivered by the next sender of that account that reaches the API
(:mod:`._replay`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from . import _registry
from ._account import REFUSALS, Account
from ._breaker import Breaker
from ._jobs import FinalJob, Job, JobQueue, PushJob, Render, UpdateJob
from ._pacing import LIVE_ACTIVITY, PUSH, Pacing, feature_of
from ._render import Failure
from ._replay import Replay
from ._shown import Showing, digest
from ._signals import Signal, emit
from ._slots import SlotGate
from ._stats import SenderStats, failure_detail
from ._store import Binding, KeptStore, binding_of, default_state_dir

__all__ = ["Sender", "SenderStats"]

logger = logging.getLogger("activitysmith_core.tracking")

_WHAT = {"update": "Live Activity update", "final": "final state", "push": "push"}


class Sender:
    """Delivers the Live Activity states and pushes of one account for this process."""

    def __init__(self, client: Any, binding: Binding, *, state_dir: str | None = None) -> None:
        self.binding = binding
        self._client = client
        self._cond = threading.Condition()
        self.stats = SenderStats()
        self.store = KeptStore(state_dir, binding)
        self._queue = JobQueue()
        self._showing = Showing()
        self._slots = SlotGate(self.stats)
        self._breaker = Breaker(self.store)
        self._account = Account()
        self._replay = Replay(self.store, self.stats)
        self._pacing = Pacing(client)
        self._flush_end: float | None = None
        self._inflight: Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.request_timeout = 5.0
        self.deadline = 10.0

    # -- one per process and account (:mod:`._registry`) ------------------------------------
    @classmethod
    def for_client(cls, client: Any, *, state_dir: str | None = None) -> Sender:
        """The process's sender for the client's account (base URL and key)."""
        binding = binding_of(client)
        root = state_dir if state_dir is not None else default_state_dir()
        return _registry.get_or_create(binding.id, lambda: cls(client, binding, state_dir=root))

    @classmethod
    def all(cls) -> list[Sender]:
        """Every sender of this process."""
        return _registry.senders()

    reset_all = staticmethod(_registry.reset_all)
    flush_all = staticmethod(_registry.flush_all)

    @property
    def current(self) -> bool:
        """Whether this is still the process's sender for its account (not closed, not reset)."""
        return not self._closed and _registry.is_current(self.binding.id, self)

    @property
    def in_flight(self) -> bool:
        """Whether a request is being sent right now."""
        with self._cond:
            return self._inflight is not None

    def down_for(self) -> float:
        """Seconds left of the cool-down after the API was found down (0 when it is up)."""
        return self._breaker.down_for()

    @property
    def account_refuses(self) -> int | None:
        """The status the account refuses with (401, 402 or 403), None while it accepts."""
        return self._account.refuses

    def configure(
        self,
        *,
        request_timeout: float,
        deadline: float,
        keep: bool,
        max_kept: int,
        max_kept_age: float,
        account_probe: float | None = None,
    ) -> None:
        """``account_probe``: seconds between two probes while the account refuses (30)."""
        with self._cond:
            if account_probe is not None:
                self._account.probe_every = account_probe
            self.request_timeout = request_timeout
            self.deadline = deadline
            self.store.max_items = max_kept if keep else 0
            self.store.max_age = max_kept_age

    # -- queueing (never blocks on the network) -------------------------------------------------
    def put_update(self, key: str, body: dict[str, Any], interval: float) -> None:
        with self._cond:
            self._queue.put_update(key, body, interval)
            self._wake()

    def put_final(self, key: str, put: dict[str, Any], end: dict[str, Any]) -> None:
        with self._cond:
            self._queue.put_final(key, put, end)
            self._wake()

    def add_push(
        self,
        render: Render,
        *,
        item: Failure | None = None,
        group: str | None = None,
        window: float = 0.0,
        run: str | None = None,
    ) -> None:
        """Queue a push; with ``group``, items added inside ``window`` seconds become one push.
        With ``run`` (the run's stream key) it is sent no later than that run's final state."""
        with self._cond:
            if self._queue.add_push(render, item, group, time.monotonic() + window, run):
                self._wake()

    def release_pushes(self, run: str) -> None:
        """The run ended without a final state of its own (a grouped run): its waiting pushes
        go now, as they would with its final."""
        with self._cond:
            self._queue.release_pushes(run, time.monotonic())
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
            return self._queue.count() + (self._inflight is not None)

    def final_pending(self, key: str) -> bool:
        """Whether the final state of stream ``key`` is still queued or being sent: False once
        it was delivered (or refused for good), so that its writer may record it as sent."""
        with self._cond:
            inflight = self._inflight
            return self._queue.final_queued(key) or (
                isinstance(inflight, FinalJob) and inflight.key == key
            )

    @property
    def waiting_for_slot(self) -> list[str]:
        """The streams whose activity waits for one of the account's 4 slots to free."""
        with self._cond:
            return list(self._slots.waiting)

    def remembers(self) -> int:
        """How many streams this sender holds anything for (live, ended, queued): bounded."""
        with self._cond:
            return len(self._showing) + len(self._queue)

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
                self._account.sending(time.monotonic())
            try:
                self._deliver(job)
            except Exception as exc:  # a bug must never kill delivery
                logger.warning("ActivitySmith: delivery failed unexpectedly: %r", exc)
            finally:
                with self._cond:
                    self._inflight = None
                    self._cond.notify_all()

    def _start_wait(self, key: str, flushing: bool, now: float) -> float:
        return 0.0 if key in self._showing.live else self._slots.start_wait(key, flushing, now)

    def _next(self) -> tuple[Job | None, float]:
        """The job to send now, else how long until one may be (called with the lock held)."""
        now = time.monotonic()
        flushing = self._flush_end is not None
        down = max(self._breaker.down_for(now), self._account.wait(now))
        if down > 0:
            return None, down
        queue = self._queue
        self._slots.keep_only(queue.streams)
        soonest = 3600.0
        # Final states first: they are what a person sees last. A run's waiting failure pushes
        # go just before its final (nothing can fold into them once the run has ended).
        wait = self._pacing.wait(LIVE_ACTIVITY, now, reserve=False)
        push_wait = self._pacing.wait(PUSH, now, reserve=False)
        for key, stream in queue.streams.items():
            if stream.final is not None:
                if push_wait <= 0:
                    for push in queue.pushes:
                        if push.run == key:
                            return queue.take_push(push), 0.0
                ready = max(wait, self._start_wait(key, flushing, now))
                if ready <= 0:
                    return queue.take_final(key), 0.0
                soonest = min(soonest, ready)
        for push in queue.pushes:
            ready = max((now if flushing else push.due) - now, push_wait)
            if ready <= 0:
                return queue.take_push(push), 0.0
            soonest = min(soonest, ready)
        update_wait = self._pacing.wait(LIVE_ACTIVITY, now, reserve=True)
        for key, stream in queue.streams.items():
            if stream.update is not None:
                shown = self._showing.live.get(key)
                if shown is None:
                    due = self._start_wait(key, flushing, now)
                elif flushing:
                    due = 0.0
                else:
                    due = shown.at + stream.interval - now
                ready = max(due, update_wait)
                if ready <= 0:
                    return queue.take_update(key), 0.0
                soonest = min(soonest, ready)
        return None, soonest

    # -- delivery -------------------------------------------------------------------------------
    def _api(self) -> Any:
        from .._retry import NO_RETRY

        timeout = self.request_timeout
        if self._flush_end is not None:
            timeout = max(0.05, min(timeout, self._flush_end - time.monotonic()))
        return self._client.with_options(retry=NO_RETRY, timeout=timeout)

    def _deliver(self, job: Job) -> None:
        if self._breaker.host_down():
            self._requeue(job)
            return
        try:
            if isinstance(job, UpdateJob):
                self._send_update(job)
            elif isinstance(job, FinalJob):
                self._send_final(job)
            else:
                self._send_push(job)
        except Exception as exc:
            self._failed(job, exc)
            return
        recovered = self._account.accepted(job.stream)
        self._replay.after_success(self._api, self._breaker.succeeded() or recovered)

    def _send_update(self, job: UpdateJob) -> None:
        step = int(job.body["content_state"].get("current_step", 0))
        body_digest = digest(job.body)
        with self._cond:
            stale = self._showing.stale(job.key, step, body_digest, time.monotonic())
        if stale:
            self.stats.skipped_updates += 1
            return
        self._api().live_activities.stream(job.key, job.body)
        emit(Signal("sent", "update", stream=job.key))
        self.stats.sent += 1
        self.stats.updates += 1
        with self._cond:
            self._showing.show(job.key, time.monotonic(), step, body_digest)
            self._slots.started(job.key)

    def _send_final(self, job: FinalJob) -> None:
        from ..errors import NotFoundError

        key = job.key
        body_digest = digest(job.end)
        with self._cond:
            if self._showing.ended_with(key, body_digest, time.monotonic()):
                return
        api = self._api()
        try:
            api.live_activities.end_stream(key, job.end)
            self.stats.sent += 1
        except NotFoundError:
            # Never started (every update was dropped, or it ran too briefly): start, then end.
            # A full account raises LiveActivityLimitError here: the final waits for a slot.
            self.stats.sent += 1
            api.live_activities.stream(key, job.put)
            emit(Signal("sent", "final", stream=key))
            api.live_activities.end_stream(key, job.end)
            self.stats.sent += 2
        emit(Signal("sent", "final", stream=key))
        self.stats.finals += 1
        with self._cond:
            self._showing.end(key, time.monotonic(), body_digest)
            self._slots.started(key)
            self._slots.freed()

    def _send_push(self, job: PushJob) -> None:
        self._api().notifications.send(job.body())
        emit(Signal("sent", "push", stream=job.run))
        self.stats.sent += 1
        self.stats.pushes += 1

    def _requeue(self, job: Job) -> None:
        with self._cond:
            self._queue.requeue(job)
            self._cond.notify_all()

    def _failed(self, job: Job, exc: Exception) -> None:
        from ..errors import (
            APIError,
            LiveActivityLimitError,
            RateLimitError,
            ServerError,
            TransportError,
        )

        self.stats.failures += 1
        kind = job.kind
        emit(Signal("failed", kind, stream=job.stream, detail=failure_detail(exc)))
        if isinstance(exc, APIError) and exc.status_code in REFUSALS:
            # Not retried: held until a probe finds the account accepting again. Final states
            # and pushes wait (kept at the flush); an update is dropped, a newer one follows.
            self._account.refused(exc.status_code, getattr(exc, "upgrade_url", None), job.stream)
            if isinstance(job, UpdateJob):
                self.stats.skipped_updates += 1
            else:
                self._requeue(job)
        elif isinstance(exc, LiveActivityLimitError):
            if isinstance(job, PushJob):
                logger.warning("ActivitySmith: push rejected: %s", exc)
                return
            # The account shows its 4 activities: this one waits (queued, never dropped).
            with self._cond:
                self._slots.refused(job.key, exc.limit, exc.active)
            self._requeue(job)
        elif isinstance(exc, RateLimitError):
            self.stats.rate_limited += 1
            emit(Signal("rate_limited", kind, stream=job.stream))
            with self._cond:
                self._pacing.hold(feature_of(kind), float(exc.retry_after or 5.0))
            self._requeue(job)
        elif isinstance(exc, (ServerError, TransportError)):
            held = self._breaker.trip()
            logger.warning(
                "ActivitySmith: %s not delivered (%s); holding further requests for %.0f s",
                _WHAT[kind],
                exc,
                held,
            )
            self._requeue(job)
        elif isinstance(exc, APIError):
            logger.warning("ActivitySmith: %s rejected: %s", _WHAT[kind], exc)
        else:
            raise exc

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
                        self._breaker.down_for() > 0
                        or self._account.refuses is not None
                        or self._thread is None
                    ):
                        if self._thread is None:
                            self._wake()
                        else:
                            break  # the API is down or refuses: keep, don't wait
                    self._cond.wait(timeout=min(0.05, max(0.0, end - time.monotonic())))
                if self._inflight is not None:
                    # Its request's timeout ends with the deadline; let it report back.
                    left_time = max(0.0, end - time.monotonic())
                    self._cond.wait_for(lambda: self._inflight is None, timeout=left_time)
                left, dropped = self._queue.take_all()
                self.stats.skipped_updates += dropped
                if self._inflight is not None and not isinstance(self._inflight, UpdateJob):
                    # Still hanging: keep it too. Delivered twice at worst, never lost.
                    left.append(self._inflight)
            finally:
                self._flush_end = None
        self._replay.keep(left)
        emit(Signal("flush", value=time.monotonic() - started))
        return not left

    def _deliverable(self, end: float) -> int:
        """What a flush ending at ``end`` may still deliver: all that is queued, less the new
        activities waiting for a slot that no retry before ``end`` would give."""
        count = self._queue.count() + (self._inflight is not None)
        if not self._slots.retries_before(end):
            count -= self._queue.count(self._slots.waiting)
        return count

    def close(self) -> None:
        """Stop the thread; anything still queued is dropped (call :meth:`flush` first)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

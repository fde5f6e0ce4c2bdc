"""The tracking engine: orchestrator-free events in, the activity and pushes out.

A plugin translates its orchestrator's events into calls on an :class:`Engine` — the run's
absolute state changed, a step failed (for good or before a retry) with its error and log link,
the run finished — and nothing more. The engine alone decides what the activity shows and which
events push; its process's :class:`~activitysmith_core.tracking.Sender` delivers off the
caller's thread. No method here waits on the network except :meth:`Engine.flush`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ._model import RunState, RunStatus, StepStatus, TrackerOptions
from ._render import (
    Failure,
    deadline_push,
    end_request,
    failure_push,
    first_line,
    is_bad_end,
    run_failure_push,
    segments,
    stream_request,
    success_push,
)
from ._sender import Sender

logger = logging.getLogger("activitysmith_core.tracking")

ClientSource = Any  # an ActivitySmith client, or a no-argument factory of one


class _Memory:
    """What was already reported per live run (failures pushed), released when the run ends;
    of ended runs only their keys are remembered (bounded), so nothing reports them again."""

    def __init__(self, size: int = 512, ended: int = 256) -> None:
        self.size = size
        self.ended_size = ended
        self._runs: OrderedDict[str, set[str]] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()

    def add(self, run_key: str, ident: str) -> bool:
        if run_key in self._ended:
            return False
        seen = self._runs.setdefault(run_key, set())
        self._runs.move_to_end(run_key)
        while len(self._runs) > self.size:
            self._runs.popitem(last=False)
        if ident in seen:
            return False
        seen.add(ident)
        return True

    def has(self, run_key: str, ident: str) -> bool:
        return ident in self._runs.get(run_key, ())

    def ended(self, run_key: str) -> bool:
        return run_key in self._ended

    def end(self, run_key: str) -> None:
        self._runs.pop(run_key, None)
        self._ended[run_key] = None
        self._ended.move_to_end(run_key)
        while len(self._ended) > self.ended_size:
            self._ended.popitem(last=False)

    def __len__(self) -> int:
        return len(self._runs) + len(self._ended)


class Engine:
    """Tracks runs as Live Activities for one account and one set of options. Never raises."""

    def __init__(self, client: ClientSource, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._source = client
        self._client: Any = None
        self._sender: Sender | None = None
        self._lock = threading.Lock()
        self._memory = _Memory()
        self._orders: OrderedDict[str, list[str]] = OrderedDict()

    def __repr__(self) -> str:
        return f"Engine(options={self.options!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Engines travel with pickled flows and hooks: the sender and lock stay behind.
        state = self.__dict__.copy()
        state["_sender"] = None
        state["_client"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def sender(self) -> Sender:
        """The process's sender for this engine's account (built on first use)."""
        with self._lock:
            if self._sender is None or not self._sender.current:
                # First use, or the process's senders were reset (a fork, a test): the client
                # is built once, the sender looked up again.
                if self._client is None:
                    self._client = self._source() if callable(self._source) else self._source
                sender = Sender.for_client(self._client, state_dir=self.options.state_dir)
                sender.configure(
                    request_timeout=self.options.request_timeout,
                    deadline=self.options.deadline,
                    keep=self.options.keep,
                    max_kept=self.options.max_kept,
                    max_kept_age=self.options.max_kept_age,
                )
                self._sender = sender
            return self._sender

    def _order(self, run: RunState, *, ending: bool = False) -> list[str]:
        """Segment names in the order they finished, as first seen: each update only appends
        to what the phone already shows, and the final state keeps that order (``ending``
        releases it)."""
        with self._lock:
            order = self._orders.pop(run.key, []) if ending else None
            if order is None:
                order = self._orders.setdefault(run.key, [])
                self._orders.move_to_end(run.key)
            while len(self._orders) > 512:
                self._orders.popitem(last=False)
            for segment in segments(run, self.options):
                if segment.status.is_finished and segment.name not in order:
                    order.append(segment.name)
            return list(order)

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:
            logger.warning("ActivitySmith: %s skipped: %s", what, exc)

    # -- events -------------------------------------------------------------------------------
    def update(self, run: RunState) -> None:
        """The run's absolute state changed: show it (coalesced, paced, never backwards)."""

        def go() -> None:
            if run.status is not RunStatus.RUNNING:
                self.finish(run)
                return
            if not self.options.shows_run:
                return  # in a group, without an activity of its own: only its pushes
            with self._lock:
                if self._memory.ended(run.key):
                    return  # a late update must not bring the ended activity back
            self.sender.put_update(
                run.key, stream_request(run, self.options, self._order(run)), self.options.interval
            )

        self._guard("Live Activity update", go)

    def step_failed(
        self,
        run: RunState,
        step: str,
        error: object = None,
        log_url: str | None = None,
        *,
        retrying: bool = False,
        ident: str | None = None,
    ) -> None:
        """A step failed for good (or, with ``retrying``, will be retried).

        Pushes when the options ask for it: failures of one run inside ``push_window`` fold
        into one push. ``ident`` tells repeated reports of the same failure apart (default:
        the step and its error).
        """

        def go() -> None:
            wanted = self.options.push_on_retry if retrying else self.options.push_on_failure
            kind = "retry" if retrying else "failed"
            line = first_line(error)
            if not self._memory.add(run.key, f"{kind}|{ident or (step, line)}"):
                return
            self._memory.add(run.key, f"{kind}-step|{step}")
            if not wanted:
                return
            snapshot, options = run, self.options
            self.sender.add_push(
                lambda items: failure_push(snapshot, items, options, retrying=retrying),
                item=Failure(step, line, log_url),
                group=f"{run.key}|{kind}",
                window=self.options.push_window,
                run=run.key,
            )

        self._guard("failure push", go)

    def finish(self, run: RunState, error: object = None) -> None:
        """The run ended: its final state (steps that never finished drawn as not run), a push
        for failed steps not reported yet or for the run's own failure, and the success push
        when asked."""

        def go() -> None:
            status = run.status if run.status is not RunStatus.RUNNING else RunStatus.SUCCESS
            final = run.ended(status)
            with self._lock:
                again = self._memory.ended(final.key)
            order = self._order(final, ending=True)
            if again and self.options.shows_run:  # a second finish restates the final only
                self.sender.put_final(
                    final.key,
                    stream_request(final, self.options, order),
                    end_request(final, self.options, order),
                )
            if again:
                return
            failed_steps = [s.name for s in final.steps if s.status is StepStatus.FAILED]
            for name in failed_steps:
                if not self._memory.has(final.key, f"failed-step|{name}"):
                    self.step_failed(final, name, ident=f"at-end|{name}")
            if is_bad_end(status) and not failed_steps and self.options.push_on_failure:
                body = run_failure_push(final, error, self.options)
                self.sender.add_push(lambda items: body, run=final.key)
            elif status is RunStatus.SUCCESS and self.options.push_on_success:
                body = success_push(final, self.options)
                self.sender.add_push(lambda items: body, run=final.key)
            if self.options.shows_run:
                self.sender.put_final(
                    final.key,
                    stream_request(final, self.options, order),
                    end_request(final, self.options, order),
                )
            else:
                self.sender.release_pushes(final.key)
            with self._lock:
                self._memory.end(final.key)

        self._guard("final state", go)

    def deadline_missed(self, run: RunState) -> None:
        """The run is still going past its deadline: push it once."""

        def go() -> None:
            if self._memory.add(run.key, "deadline"):
                body = deadline_push(run, self.options)
                self.sender.add_push(lambda items: body)

        self._guard("deadline push", go)

    def flush(self, deadline: float | None = None) -> bool:
        """Deliver what is queued, waiting at most ``deadline`` seconds (default: the
        ``deadline`` option); what is left is kept on disk. The one call that may block."""
        try:
            return self.sender.flush(self.options.deadline if deadline is None else deadline)
        except Exception as exc:
            logger.warning("ActivitySmith: flush skipped: %s", exc)
            return False

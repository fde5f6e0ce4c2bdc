"""The state hooks: :class:`FlowRunTracker`, :func:`activitysmith_hooks` and :func:`track`.

``on_running`` registers the run (no network I/O on the flow's thread); background threads
build the client and read the recent runs. The final hooks end the activity and flush once,
within the ``deadline`` option. The flow's process is the run's single writer: changes from
every source come to it (:mod:`._events`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

from activitysmith_core.tracking import Engine, RunStatus, TrackerOptions

from ._delivery_events import delivery_events
from ._events import Registry
from ._group import shared_api, writers
from ._history import read_history, read_task_runs, send_queued_events, within
from ._run import RunSettings, TrackedRun
from ._states import flow_run_status, group_of, message, ui_url
from ._switch import disabled

if TYPE_CHECKING:
    from ..blocks import ActivitySmith as ActivitySmithBlock

log = logging.getLogger("activitysmith_prefect.tracking")

TRACKER_OPTIONS = frozenset(f.name for f in fields(TrackerOptions))
"""The engine's options, accepted as they are by :class:`FlowRunTracker`."""

PREFECT_OPTIONS = frozenset({"one_segment_per_task_run"})

READ_AGAIN = 0.5
"""Seconds between two reads of a completed flow's task runs while one is not final yet."""

SETTLE = 1.0
"""Seconds after this process's queued events were sent during which the end's read of the
task runs is repeated (a task run that ended just before the flow may not be stored yet)."""

HISTORY_WAIT = 2.0
"""Seconds after ``on_running`` the first update waits, at most, for the expected steps read
from the latest completed run (off the flow's threads); past that it goes without them, and the
bar takes its length as soon as they are known."""

REMOVED_OPTIONS: dict[str, str] = {
    "push_on_task_failure": "a task run that fails for good now pushes its own error with "
    "push_on_failure (on by default); use push_on_retry for retries",
    "budget": "use deadline (seconds the one flush at the run's end may take)",
    "final_budget": "use deadline (seconds the one flush at the run's end may take)",
    "poll_interval": "task runs are followed through Prefect's events; interval paces the updates",
    "settle_timeout": "no longer needed: the final state comes from the flow run's own process",
}

registry = Registry()
"""This process's tracked runs and their sources (one event subscription at most)."""


_warned: set[str] = set()
_lock = threading.Lock()


def _warn_unshared(group: str) -> None:
    if group not in _warned:
        _warned.add(group)
        log.warning(
            "ActivitySmith: group %s needs a Prefect server or Prefect Cloud shared by its runs "
            "(PREFECT_API_URL); without one each run shows its own activity",
            group,
        )


def resolve_block(block: Any) -> ActivitySmithBlock | None:
    """A block given by name, loaded; a block or None as they are."""
    if block is None or not isinstance(block, str):
        return block
    from ..blocks import ActivitySmith

    return ActivitySmith.load(block, _sync=True)  # type: ignore[no-any-return,call-arg,return-value]


class _ClientFactory:
    """Builds the core client from the block (picklable: it travels with served flows)."""

    def __init__(self, block: Any) -> None:
        self.block = block

    def __call__(self) -> Any:
        resolved = resolve_block(self.block)
        if resolved is not None:
            return resolved.get_client()
        from activitysmith_core import ActivitySmith

        return ActivitySmith()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _local_only(flow: Any) -> bool:
    """The flow's tasks run on threads of its own process, where the fast path sees them."""
    try:
        from prefect.task_runners import ThreadPoolTaskRunner

        return registry.fast.install() and isinstance(
            getattr(flow, "task_runner", None), ThreadPoolTaskRunner
        )
    except Exception:
        return False


def _follow_deliveries(run: TrackedRun) -> str:
    """Name the run in the Prefect events of its stream's deliveries; its stream key."""
    stream = run.state().key
    flow_run = run.flow_run
    flow_id = getattr(flow_run, "flow_id", None)
    delivery_events.follow(stream, run.id, flow_run.name, flow_id, run.flow_name)
    return stream


_untracked: OrderedDict[str, None] = OrderedDict()
"""Runs of this process that started switched off (until their final hook; 1,024 at most)."""


def _switched_off(flow_run: Any) -> bool:
    """The off switch, for a run about to be tracked: a bad value leaves the run untracked and
    says so (the hooks never raise into the flow)."""
    try:
        return disabled()
    except ValueError as exc:
        log.error("ActivitySmith: %s; %s is not tracked", exc, flow_run.name)
        return True


def _started_off(flow_run: Any) -> bool:
    """Whether the run started switched off (its final hook then sends nothing)."""
    key = str(flow_run.id)
    with _lock:
        if key not in _untracked:
            return False
        del _untracked[key]
        return True


def _mark_off(flow_run: Any) -> None:
    with _lock:
        _untracked[str(flow_run.id)] = None
        while len(_untracked) > 1024:
            _untracked.popitem(last=False)


def _split_options(options: dict[str, Any]) -> dict[str, Any]:
    for name in sorted(options):
        if name in REMOVED_OPTIONS:
            raise ValueError(f"{name}: option removed; {REMOVED_OPTIONS[name]}")
        if name not in TRACKER_OPTIONS:
            raise ValueError(
                f"{name}: unknown option; use one of "
                f"{', '.join(sorted(TRACKER_OPTIONS | PREFECT_OPTIONS))}"
            )
    return options


class FlowRunTracker:
    """Builds the state hooks; one instance may serve many flows and runs.

    ``options`` are :class:`~activitysmith_core.tracking.TrackerOptions` fields (checked here,
    naming a bad or unknown option); ``one_segment_per_task_run`` draws each task run as its
    own segment instead of one segment per task.
    """

    def __init__(
        self,
        block: ActivitySmithBlock | str | None = None,
        *,
        one_segment_per_task_run: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(one_segment_per_task_run, bool):
            raise ValueError(
                f"one_segment_per_task_run: must be True or False, not {one_segment_per_task_run!r}"
            )
        disabled()  # a bad ACTIVITYSMITH_DISABLED raises where the flow is declared
        self.block = block
        self.one_segment_per_task_run = one_segment_per_task_run
        self.options = TrackerOptions(**_split_options(options))
        self.client_factory = _ClientFactory(block)
        self.engine = Engine(self.client_factory, self.options)
        self._engines: dict[str | None, Engine] = {self.options.group: self.engine}
        self._engines_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FlowRunTracker(options={self.options!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_engines_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._engines_lock = threading.Lock()

    def engine_for(self, group: str | None) -> Engine:
        """The engine of a run of ``group``: the tracker's own, or for a run grouped by its
        tag, one whose options name the group (the run then shows no activity of its own
        unless ``own_activity=True``; its pushes stay)."""
        with self._engines_lock:
            engine = self._engines.get(group)
            if engine is None:
                engine = Engine(self.client_factory, replace(self.options, group=group))
                self._engines[group] = engine
            return engine

    def settings_for(self, flow_run: Any, *, shared: bool | None = None) -> RunSettings:
        """What a run of this tracker needs: the options, its group (by the option or the run's
        tag; none where ``shared`` says no API is shared with the group's other runs) and its
        engine."""
        group = group_of(self.options, flow_run)
        if group is not None and shared is False:
            _warn_unshared(group)
            group = None
        return RunSettings(
            self.options, self.engine_for(group), group, self.one_segment_per_task_run
        )

    # -- the hooks ----------------------------------------------------------------------------
    def hooks(self, asynchronous: bool = False) -> dict[str, list[Callable[..., Any]]]:
        """Keyword arguments for ``@flow(...)``; ``asynchronous`` gives ``async def`` hooks."""
        running = self.aon_running if asynchronous else self.on_running
        final = self.aon_final if asynchronous else self.on_final
        return {
            "on_running": [running],
            "on_completion": [final],
            "on_failure": [final],
            "on_crashed": [final],
            "on_cancellation": [final],
        }

    def on_running(self, flow: Any, flow_run: Any, state: Any) -> None:
        """Start following the run's task runs (no network I/O here)."""
        self._start(flow, flow_run)

    def on_final(self, flow: Any, flow_run: Any, state: Any) -> Any:
        """End the activity and flush, within ``deadline`` (a coroutine under an event loop)."""
        if _in_event_loop():
            return asyncio.to_thread(self._finish, flow, flow_run, state)
        self._finish(flow, flow_run, state)
        return None

    async def aon_running(self, flow: Any, flow_run: Any, state: Any) -> None:
        """Async :meth:`on_running` for async flows."""
        self._start(flow, flow_run)

    async def aon_final(self, flow: Any, flow_run: Any, state: Any) -> None:
        """Async :meth:`on_final` for async flows; the flush stays off the event loop."""
        await asyncio.to_thread(self._finish, flow, flow_run, state)

    # -- work ---------------------------------------------------------------------------------
    def _start(self, flow: Any, flow_run: Any) -> None:
        if _switched_off(flow_run):
            _mark_off(flow_run)
            return
        try:
            run = TrackedRun(self.settings_for(flow_run, shared=shared_api()), flow, flow_run)
            run.local = _local_only(flow)
            _follow_deliveries(run)
            registry.add(run, follow=not run.local)
            if run.group is not None:
                writers.join(self, run.group, flow_run)
            opened = time.monotonic()
            for target, name in (
                (self._read_history, "activitysmith-history"),
                (self._warm_up, "activitysmith-start"),
            ):
                threading.Thread(target=target, args=(run, opened), name=name, daemon=True).start()
            if self.options.time_left or self.options.expected_duration is not None:
                threading.Thread(target=run.watch, name="activitysmith-clock", daemon=True).start()
        except Exception as exc:
            log.warning("ActivitySmith: could not start tracking %s: %s", flow_run.name, exc)

    def _read_history(self, run: TrackedRun, _opened: float) -> None:
        """The expected steps and the time left from the latest completed runs (off the
        flow's threads): the steps unless ``total_steps`` is declared, the estimate unless
        ``expected_duration`` or ``timeout_seconds`` gives the clock."""
        options = self.options
        steps = options.total_steps is None
        estimate = (
            options.time_left and options.expected_duration is None and run.deadline_at is None
        )
        try:
            if steps or estimate:
                median, history = read_history(run.flow_run, steps=steps, runs=5 if estimate else 1)
                if estimate:
                    run.expected_seconds = median
                if history:
                    run.expect(history)
        except Exception as exc:
            log.debug("ActivitySmith: nothing learnt from recent runs (%s)", exc)
        finally:
            run.history.set()

    def _warm_up(self, run: TrackedRun, opened: float) -> None:
        """Build the client (a block given by name is loaded from Prefect) off the flow's
        threads, wait at most ``HISTORY_WAIT`` seconds after the start for the expected
        steps, then show what happened meanwhile."""
        try:
            _ = run.engine.sender
        except Exception as exc:
            log.warning("ActivitySmith: tracking %s disabled: %s", run.flow_run.name, exc)
            return
        run.history.wait(max(0.0, opened + HISTORY_WAIT - time.monotonic()))
        run.mark_ready()

    def _finish(self, flow: Any, flow_run: Any, state: Any) -> None:
        started = time.monotonic()
        deadline = self.options.deadline
        status = flow_run_status(state)
        stream: str | None = None
        try:
            # Still followed while its task runs are read: stream events arriving meanwhile count.
            run = registry.get(flow_run.id)
            if run is not None:
                run.stopped.set()  # no clock update nor deadline push after this
            elif _started_off(flow_run) or _switched_off(flow_run):
                return  # not tracked from its start (or switched off where the Runner runs)
            else:  # a hook run by a Runner in another process than the flow's
                run = TrackedRun(self.settings_for(flow_run), flow, flow_run)
            stream = _follow_deliveries(run)
            elsewhere = not run.local or run.remote  # task runs the fast path did not see
            if elsewhere or run.unfinished() or not run.task_runs:
                # changes still on their way from other processes: the task runs as stored,
                # once this process's queued events (its threads' last states) are sent
                until = started + deadline / 2
                send_queued_events(deadline / 4)
                settled = time.monotonic() + (SETTLE if elsewhere else 0.0)
                for change in read_task_runs(flow_run.id, until - time.monotonic()):
                    run.apply(change)
                # The server records task runs from their events and lags under load: a
                # completed flow's task run not final here, or one not there yet, is read
                # again within the same half of the deadline (the latter for SETTLE seconds).
                while (
                    (status is RunStatus.SUCCESS and run.unfinished()) or time.monotonic() < settled
                ) and time.monotonic() + READ_AGAIN < until:
                    time.sleep(READ_AGAIN)
                    for change in read_task_runs(flow_run.id, until - time.monotonic()):
                        run.apply(change)
            registry.pop(flow_run.id)  # no change of the stream after the final state
            if not run.ready and not within(deadline / 2, lambda: run.engine.sender):
                log.warning(
                    "ActivitySmith: final state of %s not sent: no client within %.1f s",
                    flow_run.name,
                    deadline / 2,
                )
                return
            run.flow_run = flow_run
            run.url = ui_url(flow_run) or run.url
            final = run.state(status)
            if not run.ready:
                run.mark_ready()
            run.engine.finish(final, error=message(state))
            if run.group is not None and shared_api():
                left = max(0.1, deadline - (time.monotonic() - started))
                writers.leave(self, run.group, flow_run.id, final.status, left / 2)
            run.engine.flush(max(0.1, deadline - (time.monotonic() - started)))
        except Exception as exc:
            log.warning("ActivitySmith: final state of %s not sent: %s", flow_run.name, exc)
        finally:
            registry.pop(flow_run.id)
            if stream is not None:
                delivery_events.forget(stream)


def activitysmith_hooks(
    block: ActivitySmithBlock | str | None = None, *, asynchronous: bool = False, **options: Any
) -> dict[str, list[Callable[..., Any]]]:
    """State hooks that track a flow's runs: ``@flow(**activitysmith_hooks("my-block"))``.

    ``block`` is a saved block's name, a block, or ``None`` to use ``ACTIVITYSMITH_API_KEY`` /
    ``ACTIVITYSMITH_BASE_URL``. ``options`` are the core's ``TrackerOptions`` (``channels``,
    ``title``, ``total_steps``, ``push_on_failure``, ``push_on_retry``, ``push_on_success``,
    ``deadline``, ``interval``, ``push_window``, ``expected_duration`` (the countdown, and
    one push if a run is still going past it), colours, ...) plus
    ``one_segment_per_task_run``; an unknown or removed option raises ``ValueError`` naming it.
    ``asynchronous=True`` gives ``async def`` hooks for an async flow.
    """
    return FlowRunTracker(block, **options).hooks(asynchronous)


def track(block: ActivitySmithBlock | str | None = None, **options: Any) -> Callable[[Any], Any]:
    """Decorator form: ``@track("my-block")`` above ``@flow``."""
    tracker = FlowRunTracker(block, **options)

    def attach(flow: Any) -> Any:
        hooks = tracker.hooks(asynchronous=bool(getattr(flow, "isasync", False)))
        flow.on_running_hooks = [*flow.on_running_hooks, *hooks["on_running"]]
        flow.on_completion_hooks = [*flow.on_completion_hooks, *hooks["on_completion"]]
        flow.on_failure_hooks = [*flow.on_failure_hooks, *hooks["on_failure"]]
        flow.on_crashed_hooks = [*flow.on_crashed_hooks, *hooks["on_crashed"]]
        flow.on_cancellation_hooks = [*flow.on_cancellation_hooks, *hooks["on_cancellation"]]
        return flow

    return attach

"""Where task-run changes come from: Prefect's event stream, and a fast path in the process.

- :class:`Subscription`: Prefect's supported event stream (``prefect.events`` subscriber over
  the API's ``/events/out`` websocket, served by the OSS server and Prefect Cloud), filtered by
  the tracked flow runs as related resources. One per process, opened by the first tracked run
  and closed when the last one ends; a change of the tracked runs reconnects it with the new
  filter. Prefect's subscriber reconnects with a backfill (from a minute before the latest
  event) and drops the events it has seen; :class:`~._run.TrackedRun` drops them again across
  connections and sources. This sees task runs wherever they run: threads, worker processes
  (``ProcessPoolTaskRunner``, Dask, Ray), other hosts.
- :class:`InProcess`: where the flow's process runs a task (the default thread runner), the
  change is taken as Prefect's task engine emits it (``emit_task_run_state_change_event``),
  with the exception object itself, before it reaches the server; and a subflow call (whose
  child run always runs in the process that calls it) is followed as the flow engine creates
  the child run and sets its states. These are Prefect internals: wrapped only on the versions
  they were verified on (:data:`FAST_PATH_VERIFIED`); elsewhere the stream alone draws the task
  runs, and subflow calls appear from the read at the run's end.

Both feed one :class:`Registry`, which routes each change to its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ._run import TaskRunChange, TrackedRun, change_of
from ._states import kind, message, state_message, task_name, timestamp, ui_url

log = logging.getLogger("activitysmith_prefect.tracking")

FAST_PATH_VERIFIED = frozenset({(3, 6), (3, 8), (3, 9)})
"""Prefect minor versions whose task engine and flow engine the in-process fast path was tested
against (3.6.29, 3.8.8, 3.9.1, in ``make test``)."""

RECONNECT_WAIT = (1.0, 30.0)
"""Seconds before trying again after the stream failed: the first wait, doubled up to the
second; changes of the tracked runs within ``COALESCE`` share one reconnection."""
COALESCE = 0.2


def prefect_version() -> tuple[int, int]:
    import prefect

    parts = str(prefect.__version__).split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def fast_path_supported() -> bool:
    return prefect_version() in FAST_PATH_VERIFIED


def _label(resource: Any, name: str) -> str | None:
    try:
        value = resource.get(name)
    except Exception:
        return None
    return None if value is None else str(value)


class Registry:
    """The tracked runs of this process, and the sources that feed them."""

    def __init__(self) -> None:
        self.runs: dict[str, TrackedRun] = {}
        self.children: dict[str, tuple[TrackedRun, str, str]] = {}  # child -> (run, task run, name)
        self.lock = threading.Lock()
        self.fast = InProcess(self)
        self.subscription = Subscription(self.on_event)

    def add(self, run: TrackedRun, *, follow: bool) -> None:
        """Route the run's changes to it; with ``follow``, from the event stream too (a run
        whose tasks all run on its process's threads is seen whole by the fast path)."""
        with self.lock:
            self.runs[run.id] = run
        if follow:
            self.subscription.watch([run.id])

    def pop(self, flow_run_id: object) -> TrackedRun | None:
        """Stop following a run (its final hook); the last one closes the subscription."""
        key = str(flow_run_id)
        with self.lock:
            run = self.runs.pop(key, None)
            children = [c for c, (parent, _t, _n) in self.children.items() if parent is run]
            for child in children:
                del self.children[child]
        if run is not None:
            self.subscription.unwatch([key])
        return run

    def get(self, flow_run_id: object) -> TrackedRun | None:
        with self.lock:
            return self.runs.get(str(flow_run_id))

    # -- the fast path ------------------------------------------------------------------------
    def on_task_run(self, task_run: Any, state: Any, error: object) -> None:
        run = self.get(task_run.flow_run_id)
        if run is None:
            return
        change = change_of(task_run, state, error)
        if change is not None:
            run.refresh_name()
            run.apply(change)

    def on_subflow(self, parent_id: str, child: Any, name: str) -> None:
        """A subflow call of a tracked run created its child flow run: a segment, pending until
        the child (which runs in this process) enters its states."""
        task_run_id = getattr(child, "parent_task_run_id", None)
        run = self.get(parent_id)
        if run is None or task_run_id is None:
            return
        child_id = str(child.id)
        with self.lock:
            self.children[child_id] = (run, str(task_run_id), name)
        state = getattr(child, "state", None)
        run.apply(
            TaskRunChange(
                flow_run_id=parent_id,
                task_run_id=str(task_run_id),
                name=name,
                task=name,
                task_key="subflow",
                state_type="PENDING",
                state_name="Pending",
                message=None,
                occurred=timestamp(getattr(state, "timestamp", None)) or time.time(),
                event_id=f"{task_run_id}|created",
                subflow=True,
                url=ui_url(child),
            )
        )

    def on_child_state(self, child_id: str, state: Any) -> None:
        """A subflow run called by a tracked run entered a state (in this process)."""
        with self.lock:
            child = self.children.get(child_id)
        if child is None or state is None:
            return
        run, task_run_id, name = child
        occurred = timestamp(getattr(state, "timestamp", None)) or time.time()
        run.apply(
            TaskRunChange(
                flow_run_id=run.id,
                task_run_id=task_run_id,
                name=name,
                task=name,
                task_key="subflow",
                state_type=kind(state),
                state_name=getattr(state, "name", None),
                message=message(state),
                occurred=occurred,
                event_id=str(getattr(state, "id", "") or f"{child_id}|{kind(state)}|{occurred}"),
                subflow=True,
                url=_flow_run_url(child_id),
            )
        )

    # -- the stream ---------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """A ``prefect.task-run.*`` event of a tracked run's task run."""
        resource = event.resource
        resource_id = str(resource.id)
        state_type = _label(resource, "prefect.state-type")
        if not state_type:
            return  # a heartbeat, not a state
        kind_, _, ident = resource_id.rpartition(".")
        if kind_ != "prefect.task-run":
            return
        flow_run_ids = [str(r.id).rpartition(".")[2] for r in event.related if r.role == "flow-run"]
        with self.lock:
            runs = [self.runs[i] for i in flow_run_ids if i in self.runs]
        if not runs:
            return
        payload = (event.payload or {}).get("task_run") or {}
        name = str(payload.get("name") or _label(resource, "prefect.resource.name") or ident)
        run_count = _label(resource, "prefect.run-count") or "0"
        change = TaskRunChange(
            flow_run_id=runs[0].id,
            task_run_id=ident,
            name=name,
            task=task_name(name, str(payload.get("dynamic_key") or "")),
            task_key=str(payload.get("task_key") or ""),
            state_type=state_type,
            state_name=_label(resource, "prefect.state-name"),
            message=state_message(_label(resource, "prefect.state-message")),
            occurred=timestamp(event.occurred) or time.time(),
            event_id=str(event.id),
            run_count=int(run_count) if run_count.isdigit() else 0,
            url=_task_run_url(ident),
        )
        runs[0].apply(change, remote=True)


def _task_run_url(task_run_id: str) -> str | None:
    try:
        from prefect.utilities.urls import url_for

        return url_for("task-run", obj_id=task_run_id)
    except Exception:
        return None


def _flow_run_url(flow_run_id: str) -> str | None:
    try:
        from prefect.utilities.urls import url_for

        return url_for("flow-run", obj_id=flow_run_id)
    except Exception:
        return None


class InProcess:
    """The fast path: wraps, once per process, the function Prefect's task engine calls for
    each task-run state change, and the flow engine's creation of a run and its ``set_state``
    (for subflow runs of tracked runs). The wrappers return Prefect's own result and never
    raise."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.lock = threading.Lock()
        self.installed: bool | None = None  # None: not tried yet

    def install(self) -> bool:
        with self.lock:
            if self.installed is not None:
                return self.installed
            self.installed = False
            if not fast_path_supported():
                log.info(
                    "ActivitySmith: Prefect %d.%d: task runs followed through the event "
                    "stream only",
                    *prefect_version(),
                )
                return False
            try:
                import prefect.flow_engine as flow_engine
                import prefect.task_engine as task_engine
                import prefect.utilities.engine as engine_utilities
            except ImportError as exc:  # pragma: no cover - a future Prefect
                log.info("ActivitySmith: no in-process fast path: %s", exc)
                return False
            for module in (task_engine, engine_utilities):
                original = getattr(module, "emit_task_run_state_change_event", None)
                if original is not None and not getattr(original, "__activitysmith__", False):
                    module.emit_task_run_state_change_event = self._wrap_emit(original)  # type: ignore[attr-defined]
            for cls in (flow_engine.FlowRunEngine, flow_engine.AsyncFlowRunEngine):
                asynchronous = cls is flow_engine.AsyncFlowRunEngine
                original = cls.create_flow_run
                if not getattr(original, "__activitysmith__", False):
                    wrap = self._wrap_acreate if asynchronous else self._wrap_create
                    cls.create_flow_run = wrap(original)  # type: ignore[method-assign]
                original = cls.set_state
                if not getattr(original, "__activitysmith__", False):
                    wrap = self._wrap_aset_state if asynchronous else self._wrap_set_state
                    cls.set_state = wrap(original)  # type: ignore[method-assign]
            self.installed = True
            return True

    def _wrap_emit(self, original: Callable[..., Any]) -> Callable[..., Any]:
        registry = self.registry

        def emit_task_run_state_change_event(*args: Any, **kwargs: Any) -> Any:
            event = original(*args, **kwargs)
            if registry.runs:
                try:
                    task_run = kwargs["task_run"] if "task_run" in kwargs else args[0]
                    state = kwargs["validated_state"] if "validated_state" in kwargs else args[2]
                    handled = sys.exc_info()[1]
                    error = handled if kind(state) in ("FAILED", "SCHEDULED", "RUNNING") else None
                    registry.on_task_run(task_run, state, error)
                except Exception as exc:
                    log.warning("ActivitySmith: task-run change skipped: %s", exc)
            return event

        emit_task_run_state_change_event.__activitysmith__ = True  # type: ignore[attr-defined]
        emit_task_run_state_change_event.__wrapped__ = original  # type: ignore[attr-defined]
        return emit_task_run_state_change_event

    def _subflow(self, engine: Any, child: Any) -> None:
        try:
            from prefect.context import FlowRunContext

            context = FlowRunContext.get()
            parent = getattr(context, "flow_run", None)
            if parent is not None and str(parent.id) != str(child.id):
                name = str(getattr(engine.flow, "name", "") or child.name)
                self.registry.on_subflow(str(parent.id), child, name)
        except Exception as exc:
            log.warning("ActivitySmith: subflow call skipped: %s", exc)

    def _wrap_create(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def create_flow_run(engine: Any, client: Any) -> Any:
            child = original(engine, client)
            if self.registry.runs:
                self._subflow(engine, child)
            return child

        create_flow_run.__activitysmith__ = True  # type: ignore[attr-defined]
        create_flow_run.__wrapped__ = original  # type: ignore[attr-defined]
        return create_flow_run

    def _wrap_acreate(self, original: Callable[..., Any]) -> Callable[..., Any]:
        async def create_flow_run(engine: Any, client: Any) -> Any:
            child = await original(engine, client)
            if self.registry.runs:
                self._subflow(engine, child)
            return child

        create_flow_run.__activitysmith__ = True  # type: ignore[attr-defined]
        create_flow_run.__wrapped__ = original  # type: ignore[attr-defined]
        return create_flow_run

    def _child_state(self, engine: Any, state: Any) -> None:
        try:
            self.registry.on_child_state(str(engine.flow_run.id), state)
        except Exception as exc:
            log.warning("ActivitySmith: subflow state skipped: %s", exc)

    def _wrap_set_state(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def set_state(engine: Any, *args: Any, **kwargs: Any) -> Any:
            state = original(engine, *args, **kwargs)
            if self.registry.children:
                self._child_state(engine, state)
            return state

        set_state.__activitysmith__ = True  # type: ignore[attr-defined]
        set_state.__wrapped__ = original  # type: ignore[attr-defined]
        return set_state

    def _wrap_aset_state(self, original: Callable[..., Any]) -> Callable[..., Any]:
        async def set_state(engine: Any, *args: Any, **kwargs: Any) -> Any:
            state = await original(engine, *args, **kwargs)
            if self.registry.children:
                self._child_state(engine, state)
            return state

        set_state.__activitysmith__ = True  # type: ignore[attr-defined]
        set_state.__wrapped__ = original  # type: ignore[attr-defined]
        return set_state


class Subscription:
    """The process's one subscription to Prefect's event stream, for all its tracked runs.

    A daemon thread with its own event loop; it ends (closing the websocket) when no run is
    followed any more, and the next tracked run starts it again. Every change of the followed
    runs (a tracked run starting or ending) reconnects once with the new filter (changes within
    ``COALESCE`` seconds together).
    """

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self.deliver = deliver
        self.ids: set[str] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.connections = 0
        self.events = 0

    def watch(self, flow_run_ids: list[str]) -> None:
        with self.lock:
            self.ids.update(flow_run_ids)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="activitysmith-events", daemon=True
                )
                self.thread.start()
                return
        self._poke()

    def unwatch(self, flow_run_ids: list[str]) -> None:
        with self.lock:
            if self.ids.isdisjoint(flow_run_ids):
                return
            self.ids.difference_update(flow_run_ids)
        self._poke()

    @property
    def open(self) -> bool:
        with self.lock:
            return self.thread is not None

    def _poke(self) -> None:
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just ended
                loop.call_soon_threadsafe(wake.set)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # pragma: no cover - never expected
            log.warning("ActivitySmith: event stream stopped: %s", exc)
        finally:
            with self.lock:
                self.thread = None
                restart = bool(self.ids)
            if restart:  # a run was added as the loop ended
                self.watch([])

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        wait = RECONNECT_WAIT[0]
        try:
            while True:
                self.wake.clear()  # before reading the ids: a change after it wakes us again
                with self.lock:
                    ids = sorted(self.ids)
                    if not ids:
                        return
                if await self._follow(ids):
                    wait = RECONNECT_WAIT[0]
                else:  # the stream failed: try again later, or at the next change
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), wait)
                    wait = min(wait * 2, RECONNECT_WAIT[1])
                await asyncio.sleep(COALESCE)
        finally:
            self.loop = None
            self.wake = None

    async def _follow(self, ids: list[str]) -> bool:
        """Follow the runs until they change (True) or the stream fails (False)."""
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventNameFilter

        assert self.wake is not None
        event_filter = EventFilter(
            event=EventNameFilter(prefix=["prefect.task-run."]),
            any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{i}" for i in ids]),
        )
        options: dict[str, Any] = {"filter": event_filter}
        if "reconnect_on_clean_close" in inspect.signature(get_events_subscriber).parameters:
            options["reconnect_on_clean_close"] = True  # Prefect 3.7+; before, a clean close
            # ends the iteration and the loop here reconnects
        try:
            async with get_events_subscriber(**options) as subscriber:
                self.connections += 1
                reader = asyncio.ensure_future(self._read(subscriber))
                waker = asyncio.ensure_future(self.wake.wait())
                done, _ = await asyncio.wait({reader, waker}, return_when=asyncio.FIRST_COMPLETED)
                for task in (reader, waker):
                    task.cancel()
                if reader in done and reader.exception() is not None:
                    raise reader.exception()  # type: ignore[misc]
                return waker in done
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("ActivitySmith: Prefect event stream: %s", exc)
            return False

    async def _read(self, subscriber: Any) -> None:
        async for event in subscriber:
            self.events += 1
            try:
                self.deliver(event)
            except Exception as exc:
                log.warning("ActivitySmith: event skipped: %s", exc)

"""The in-process fast path: task-run and subflow changes taken as Prefect's engines make them.

Where the flow's process runs a task (the default thread runner), the change is taken as
Prefect's task engine emits it (``emit_task_run_state_change_event``), with the exception object
itself, before it reaches the server; a subflow call (whose child run always runs in the process
that calls it) is followed as the flow engine creates the child run and sets its states. These
are Prefect internals: wrapped only on the versions they were verified on
(:data:`FAST_PATH_VERIFIED`), all through :func:`forward`, the one place that breaks on a Prefect
upgrade; elsewhere the event stream alone draws the task runs, and subflow calls appear from
the read at the run's end.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ._states import kind

log = logging.getLogger("activitysmith_prefect.tracking")

FAST_PATH_VERIFIED = frozenset({(3, 6), (3, 8), (3, 9)})
"""Prefect minor versions whose task engine and flow engine the in-process fast path was tested
against (3.6.29, 3.8.8, 3.9.1, in ``make test``)."""

After = Callable[[Any, tuple[Any, ...], dict[str, Any]], None]
"""What a wrapper does with Prefect's result and the call's arguments."""


class Sink(Protocol):
    """Where the fast path hands what it sees (the process's :class:`~._events.Registry`)."""

    def following(self) -> bool: ...

    def following_subflows(self) -> bool: ...

    def on_task_run(self, task_run: Any, state: Any, error: object) -> None: ...

    def on_subflow(self, parent_id: str, child: Any, name: str) -> None: ...

    def on_child_state(self, child_id: str, state: Any) -> None: ...


def prefect_version() -> tuple[int, int]:
    import prefect

    parts = str(prefect.__version__).split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def fast_path_supported() -> bool:
    return prefect_version() in FAST_PATH_VERIFIED


def forward(
    original: Callable[..., Any],
    after: After,
    *,
    when: Callable[[], bool],
    what: str,
    asynchronous: bool = False,
) -> Callable[..., Any]:
    """Prefect's ``original``, then (while ``when()``) ``after(result, args, kwargs)``: its
    errors are logged as "``what`` skipped", never raised; Prefect's result is returned
    unchanged. Marked, so that it is never wrapped twice."""

    def then(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if when():
            try:
                after(result, args, kwargs)
            except Exception as exc:
                log.warning("ActivitySmith: %s skipped: %s", what, exc)

    if asynchronous:

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            then(result, args, kwargs)
            return result

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            result = original(*args, **kwargs)
            then(result, args, kwargs)
            return result

    functools.update_wrapper(wrapper, original)
    wrapper.__activitysmith__ = True  # type: ignore[attr-defined]
    return wrapper


def _patch(owner: Any, name: str, after: After, **how: Any) -> None:
    original = getattr(owner, name, None)
    if original is not None and not getattr(original, "__activitysmith__", False):
        setattr(owner, name, forward(original, after, **how))


class InProcess:
    """Wraps, once per process, the function Prefect's task engine calls for each task-run
    state change, and the flow engines' creation of a run and their ``set_state`` (for subflow
    runs of tracked runs)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
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
            sink = self.sink
            for module in (task_engine, engine_utilities):
                _patch(
                    module,
                    "emit_task_run_state_change_event",
                    self._task_run,
                    when=sink.following,
                    what="task-run change",
                )
            for cls in (flow_engine.FlowRunEngine, flow_engine.AsyncFlowRunEngine):
                asynchronous = cls is flow_engine.AsyncFlowRunEngine
                _patch(
                    cls,
                    "create_flow_run",
                    self._created,
                    when=sink.following,
                    what="subflow call",
                    asynchronous=asynchronous,
                )
                _patch(
                    cls,
                    "set_state",
                    self._child_state,
                    when=sink.following_subflows,
                    what="subflow state",
                    asynchronous=asynchronous,
                )
            self.installed = True
            return True

    def _task_run(self, _event: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """``emit_task_run_state_change_event(task_run, initial_state, validated_state, ...)``"""
        task_run = kwargs["task_run"] if "task_run" in kwargs else args[0]
        state = kwargs["validated_state"] if "validated_state" in kwargs else args[2]
        handled = sys.exc_info()[1]
        error = handled if kind(state) in ("FAILED", "SCHEDULED", "RUNNING") else None
        self.sink.on_task_run(task_run, state, error)

    def _created(self, child: Any, args: tuple[Any, ...], _kwargs: dict[str, Any]) -> None:
        """``engine.create_flow_run(client)``: a subflow call when a flow run is running."""
        from prefect.context import FlowRunContext

        engine = args[0]
        context = FlowRunContext.get()
        parent = getattr(context, "flow_run", None)
        if parent is not None and str(parent.id) != str(child.id):
            name = str(getattr(engine.flow, "name", "") or child.name)
            self.sink.on_subflow(str(parent.id), child, name)

    def _child_state(self, state: Any, args: tuple[Any, ...], _kwargs: dict[str, Any]) -> None:
        """``engine.set_state(state, ...)``: the engine's run entered ``state``."""
        self.sink.on_child_state(str(args[0].flow_run.id), state)

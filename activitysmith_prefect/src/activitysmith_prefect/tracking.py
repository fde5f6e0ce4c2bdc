"""Flow runs as segmented_progress Live Activities, through Prefect's state hooks.

``on_running`` starts a small background poller that reads the flow run's task runs from the
Prefect API (every ``poll_interval`` seconds) and sends the absolute state only when it changed,
so a burst of concurrent task runs coalesces into one update and nothing runs on the flow's
threads. The terminal hooks stop the poller, read the task runs one last time and end the
activity with the final state; a failed, crashed or timed-out run also sends one push.

Why polling: task hooks would have to be attached to every task, and events need a websocket
per run; reading task runs by flow-run id sees every task, however it was submitted or mapped,
and gives absolute state that can never go backwards. API errors (such as SQLite's "database is
locked" under load) are logged and the next poll tries again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from activitysmith_core.tracking import (
    RunReporter,
    RunState,
    RunStatus,
    Step,
    StepStatus,
    TrackerOptions,
)

if TYPE_CHECKING:
    from .blocks import ActivitySmith as ActivitySmithBlock

log = logging.getLogger("activitysmith_prefect.tracking")

_TASK_STATE: dict[str, StepStatus] = {
    "COMPLETED": StepStatus.SUCCESS,
    "FAILED": StepStatus.FAILED,
    "CRASHED": StepStatus.FAILED,
    "CANCELLED": StepStatus.SKIPPED,
    "RUNNING": StepStatus.RUNNING,
    "CANCELLING": StepStatus.RUNNING,
    "PAUSED": StepStatus.RUNNING,
}


def task_step_status(state_type: object, state_name: str | None) -> StepStatus:
    """A Prefect task-run state as a step status (AwaitingRetry/Retrying count as retrying)."""
    if state_name in ("AwaitingRetry", "Retrying"):
        return StepStatus.RETRYING
    value = str(getattr(state_type, "value", state_type) or "")
    return _TASK_STATE.get(value, StepStatus.PENDING)


def _state_type(obj: Any) -> str:
    kind = getattr(obj, "state_type", None) or getattr(obj, "type", None)
    return str(getattr(kind, "value", kind))


def _step_status(task_run: Any, run_status: RunStatus) -> StepStatus:
    status = task_step_status(task_run.state_type, task_run.state_name)
    if _state_type(task_run) == "CRASHED" and run_status is RunStatus.CANCELLED:
        return StepStatus.SKIPPED  # killed by the cancellation, not a failure of its own
    return status


def flow_run_status(state: Any) -> RunStatus:
    """The final status of a flow run from its terminal state."""
    kind = str(getattr(state.type, "value", state.type))
    if kind == "COMPLETED":
        return RunStatus.SUCCESS
    if kind == "CRASHED":
        return RunStatus.CRASHED
    if kind in ("CANCELLED", "CANCELLING"):
        return RunStatus.CANCELLED
    text = f"{state.name} {state.message or ''}".lower()
    return RunStatus.TIMED_OUT if "timed out" in text or "timeout" in text else RunStatus.FAILED


def _resolve_block(block: Any) -> ActivitySmithBlock | None:
    if block is None or not isinstance(block, str):
        return block
    from .blocks import ActivitySmith

    return ActivitySmith.load(block, _sync=True)  # type: ignore[no-any-return,call-arg,return-value]


class FlowRunTracker:
    """Builds the state hooks; one instance may serve many flows and runs."""

    def __init__(
        self,
        block: ActivitySmithBlock | str | None = None,
        *,
        channels: list[str] | str | None = None,
        title: str | None = None,
        total_steps: int | None = None,
        push_on_failure: bool = True,
        push_on_task_failure: bool = False,
        push_on_success: bool = False,
        auto_dismiss_minutes: int | None = None,
        auto_dismiss_seconds: int | None = None,
        icon: str | None = None,
        poll_interval: float = 0.5,
        settle_timeout: float = 5.0,
        budget: float = 10.0,
        final_budget: float = 30.0,
        **colors: str,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval: must be > 0 seconds")
        if total_steps is not None and total_steps < 1:
            raise ValueError("total_steps: must be >= 1")
        self.block = block
        self.title = title
        self.total_steps = total_steps
        self.poll_interval = poll_interval
        self.push_on_task_failure = push_on_task_failure
        self.settle_timeout = settle_timeout
        self.options = TrackerOptions(
            channels=channels,  # type: ignore[arg-type]
            push_on_failure=push_on_failure,
            push_on_success=push_on_success,
            auto_dismiss_minutes=auto_dismiss_minutes,
            auto_dismiss_seconds=auto_dismiss_seconds,
            icon=icon,
            budget=budget,
            final_budget=final_budget,
            **colors,  # type: ignore[arg-type]
        )
        self._pollers: dict[str, _Poller] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # A served flow is cloudpickled with its hooks: leave out the lock and live pollers.
        state = self.__dict__.copy()
        del state["_lock"], state["_pollers"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pollers = {}
        self._lock = threading.Lock()

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

    def on_running(self, flow: Any, flow_run: Any, state: Any) -> Any:
        """Start following the run (returns a coroutine under the async engine)."""
        if _in_event_loop():
            return asyncio.to_thread(self._start, flow, flow_run)
        self._start(flow, flow_run)
        return None

    def on_final(self, flow: Any, flow_run: Any, state: Any) -> Any:
        """End the activity with the final state, and push a failure."""
        if _in_event_loop():
            return asyncio.to_thread(self._finish, flow, flow_run, state)
        self._finish(flow, flow_run, state)
        return None

    async def aon_running(self, flow: Any, flow_run: Any, state: Any) -> None:
        """Async :meth:`on_running` for async flows; the work stays off the event loop."""
        await asyncio.to_thread(self._start, flow, flow_run)

    async def aon_final(self, flow: Any, flow_run: Any, state: Any) -> None:
        """Async :meth:`on_final` for async flows; the work stays off the event loop."""
        await asyncio.to_thread(self._finish, flow, flow_run, state)

    # -- work ---------------------------------------------------------------------------------
    def _reporter(self) -> RunReporter:
        block = self.block

        def client() -> Any:
            resolved = _resolve_block(block)
            if resolved is not None:
                return resolved.get_client()
            from activitysmith_core import ActivitySmith

            return ActivitySmith()

        return RunReporter(client, self.options)

    def _start(self, flow: Any, flow_run: Any) -> None:
        try:
            poller = _Poller(self, flow, flow_run)
            with self._lock:
                old = self._pollers.pop(str(flow_run.id), None)
                self._pollers[str(flow_run.id)] = poller
            if old:
                old.stop()
            poller.start()
        except Exception as exc:
            log.warning("ActivitySmith: could not start tracking %s: %s", flow_run.name, exc)

    def _finish(self, flow: Any, flow_run: Any, state: Any) -> None:
        try:
            with self._lock:
                poller = self._pollers.pop(str(flow_run.id), None)
            if poller is None:
                poller = _Poller(self, flow, flow_run)
            poller.stop()
            status = flow_run_status(state)
            run = poller.settled_state(status)
            reporter = poller.reporter
            reporter.finish(run)
            poller.push_task_failures(run)
            if status in (RunStatus.FAILED, RunStatus.CRASHED, RunStatus.TIMED_OUT):
                if self.options.push_on_failure:
                    failed = next(
                        (s.name for s in run.steps if s.status is StepStatus.FAILED), None
                    )
                    reporter.push_failure(run, failed, _error_line(state), run.url)
            elif status is RunStatus.SUCCESS and self.options.push_on_success:
                reporter.push_success(run)
            reporter.close()
        except Exception as exc:
            log.warning("ActivitySmith: final state of %s not sent: %s", flow_run.name, exc)

    def run_state(
        self, flow: Any, flow_run: Any, task_runs: list[Any], status: RunStatus = RunStatus.RUNNING
    ) -> RunState:
        """The absolute state of a flow run from its task runs."""
        ordered = sorted(
            task_runs,
            key=lambda t: (
                str(getattr(t, "expected_start_time", "") or ""),
                str(t.created or ""),
                t.name,
            ),
        )
        steps = [Step(t.name, _step_status(t, status)) for t in ordered]
        return RunState(
            orchestrator="prefect",
            pipeline_id=getattr(flow, "name", None) or str(flow_run.flow_id),
            run_id=str(flow_run.id),
            steps=steps,
            status=status,
            title=self.title or f"{getattr(flow, 'name', 'flow')} · {flow_run.name}",
            url=_ui_url(flow_run),
            total_steps=self.total_steps,
        )


def _error_line(state: Any) -> str | None:
    message = str(getattr(state, "message", "") or "")
    for prefix in ("Flow run encountered an exception. ", "Flow run encountered an exception: "):
        message = message.removeprefix(prefix)
    return message or None


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _ui_url(flow_run: Any) -> str | None:
    try:
        from prefect.utilities.urls import url_for

        url = url_for(flow_run)
        return str(url) if url else None
    except Exception:
        return None


class _Poller:
    """Follows one flow run's task runs on a daemon thread and sends changes."""

    def __init__(self, tracker: FlowRunTracker, flow: Any, flow_run: Any) -> None:
        self.tracker = tracker
        self.flow = flow
        self.flow_run = flow_run
        self.reporter = tracker._reporter()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, daemon=True, name=f"activitysmith-{flow_run.name}"
        )
        self._last_done = -1
        self.task_runs: list[Any] = []
        self._pushed: set[str] = set()
        self._settings = _current_settings()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.tracker.options.budget + 1)

    def read_task_runs(self) -> list[Any]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        with _settings_context(self._settings), get_client(sync_client=True) as client:
            return list(
                client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[self.flow_run.id])),
                )
            )

    def run_state(self, status: RunStatus = RunStatus.RUNNING, retries: int = 0) -> RunState:
        for attempt in range(retries + 1):
            try:
                task_runs = self.read_task_runs()
                self.task_runs = task_runs
                break
            except Exception as exc:  # e.g. "database is locked" on the SQLite server
                log.debug("ActivitySmith: reading task runs failed (%s)", exc)
                if attempt == retries:
                    task_runs = []
                else:
                    self._stop.wait(0.2) if status is RunStatus.RUNNING else _sleep(0.2)
        return self.tracker.run_state(self.flow, self.flow_run, task_runs, status)

    def _refresh_flow_run(self) -> None:
        """Re-read the flow run: a templated ``flow_run_name`` may be applied after on_running
        (Prefect 3.6 does so)."""
        from prefect.client.orchestration import get_client

        try:
            with _settings_context(self._settings), get_client(sync_client=True) as client:
                self.flow_run = client.read_flow_run(self.flow_run.id)
        except Exception as exc:
            log.debug("ActivitySmith: could not re-read the flow run (%s)", exc)

    def _being_cancelled(self) -> bool:
        """Whether crashed task runs come from the flow run being cancelled (checked only when
        a task run crashed, so a poll costs one request otherwise)."""
        if not any(_state_type(t) == "CRASHED" for t in self.task_runs):
            return False
        self._refresh_flow_run()
        state = getattr(self.flow_run, "state", None)
        return state is not None and _state_type(state) in ("CANCELLING", "CANCELLED")

    def settled_state(self, status: RunStatus) -> RunState:
        """The final state, once the server has recorded the task runs' last transitions
        (Prefect records task states asynchronously, so the last ones may lag the flow)."""
        import time

        deadline = time.monotonic() + self.tracker.settle_timeout
        self._refresh_flow_run()
        previous: list[tuple[str, str]] | None = None
        while True:
            run = self.run_state(status, retries=3)
            snapshot = [(s.name, s.status.value) for s in run.steps]
            settled = all(s.status.is_finished for s in run.steps)
            # Settled twice in a row: task runs whose creation the server had not yet
            # recorded would otherwise be missed.
            if (settled and snapshot == previous) or time.monotonic() >= deadline:
                return run
            previous = snapshot if settled else None
            _sleep(0.25)

    def push_task_failures(self, run: RunState) -> None:
        """One push per task run that failed for good (retries exhausted), when asked."""
        if not self.tracker.push_on_task_failure:
            return
        for task_run in self.task_runs:
            status = task_step_status(task_run.state_type, task_run.state_name)
            if status is StepStatus.FAILED and task_run.name not in self._pushed:
                self._pushed.add(task_run.name)
                message = getattr(getattr(task_run, "state", None), "message", None)
                self.reporter.push_failure(run, task_run.name, message, run.url)

    def _loop(self) -> None:
        last: list[tuple[str, str]] | None = None
        while True:
            try:
                run = self.run_state()
                if self._being_cancelled():
                    return  # tasks killed by a cancellation are no failures; the hook ends it
                snapshot = [(s.name, s.status.value) for s in run.steps]
                done = len(run.finished_steps)
                changed = snapshot != last and done >= self._last_done
                if changed and not self._stop.is_set() and self.reporter.update(run):
                    last, self._last_done = snapshot, done
                self.push_task_failures(run)
            except Exception as exc:
                log.warning("ActivitySmith: update skipped: %s", exc)
            if self._stop.wait(self.tracker.poll_interval):
                return


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def _current_settings() -> Any:
    try:
        from prefect.settings import get_current_settings

        return get_current_settings()
    except Exception:  # pragma: no cover
        return None


class _settings_context:
    """Run the poller under the flow's Prefect settings (its API URL, for one)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._cm: Any = None

    def __enter__(self) -> None:
        if self.settings is None:
            return
        try:
            from prefect.context import SettingsContext, get_settings_context

            profile = get_settings_context().profile
            self._cm = SettingsContext(profile=profile, settings=self.settings)
            self._cm.__enter__()
        except Exception:
            self._cm = None

    def __exit__(self, *exc: object) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


def activitysmith_hooks(
    block: ActivitySmithBlock | str | None = None, *, asynchronous: bool = False, **options: Any
) -> dict[str, list[Callable[..., Any]]]:
    """State hooks that track a flow's runs: ``@flow(**activitysmith_hooks("my-block"))``.

    ``block`` is a saved block's name, a block, or ``None`` to use ``ACTIVITYSMITH_API_KEY`` /
    ``ACTIVITYSMITH_BASE_URL``. Options: ``channels``, ``title``, ``total_steps`` (declare the
    number of segments), ``push_on_failure`` (the run), ``push_on_task_failure`` (each task run
    that fails for good), ``push_on_success``, ``auto_dismiss_minutes`` /
    ``auto_dismiss_seconds``, ``icon``, ``poll_interval``, ``budget``, ``final_budget`` and the
    colours (``success_color``, ``failed_color``, ...). ``asynchronous=True`` gives ``async def``
    hooks for an async flow (the sync ones also work there: they return an awaitable).
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

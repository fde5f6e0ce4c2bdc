"""Flow runs as segmented_progress Live Activities: a thin adapter over the core's engine.

Prefect's task engine reports every state change of every task run (called, submitted, mapped,
on any thread of any task runner) in the flow run's own process, through
``emit_task_run_state_change_event``, the function that emits its ``prefect.task-run.*`` events.
The tracker listens there: a listener updates the run's state in memory and hands it to the
core's :class:`~activitysmith_core.tracking.Engine`, which queues it (no network I/O on the
flow's threads, no polling of the Prefect API). The terminal hooks call ``engine.finish`` then
``engine.flush`` once, bounded by the ``deadline`` option.

Reads from the Prefect API, whatever the number of tasks, with one client per process, per flow
run, on a background thread that the first update waits for at most ``HISTORY_WAIT`` seconds:
the deployment's (else the flow's) last five completed runs, once (their median duration gives
the time left, the latest one the expected steps), and that latest run's task runs, once (at
most 200; the task names in their order of first appearance, so the bar has its length from
the first update); the block, when given by name, once per tracker and process (off the flow's
threads); and, only
when a terminal hook runs in a process that did not run the flow (a Runner's
``on_cancellation`` / ``on_crashed`` hooks after it killed or lost the flow's process), the
flow run's task runs, once, within half of the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from activitysmith_core.tracking import (
    Engine,
    RunState,
    RunStatus,
    Step,
    StepStatus,
    TrackerOptions,
    aggregate,
    timing,
)

if TYPE_CHECKING:
    from .blocks import ActivitySmith as ActivitySmithBlock

log = logging.getLogger("activitysmith_prefect.tracking")

TRACKER_OPTIONS = frozenset(f.name for f in fields(TrackerOptions))
"""The engine's options, accepted as they are by :class:`FlowRunTracker`."""

PREFECT_OPTIONS = frozenset({"one_segment_per_task_run"})

HISTORY_WAIT = 2.0
"""Seconds after ``on_running`` the first update waits, at most, for the expected steps read
from the latest completed run (off the flow's threads); past that it goes without them, and the
bar takes its length as soon as they are known."""

CLOCK_TICK = 60.0
"""Seconds between two checks of the subtitle's clock ("about 4 min left") while no task run
changes: at most one update a minute, and only when the text changed."""

REMOVED_OPTIONS: dict[str, str] = {
    "push_on_task_failure": "a task run that fails for good now pushes its own error with "
    "push_on_failure (on by default); use push_on_retry for retries",
    "budget": "use deadline (seconds the one flush at the run's end may take)",
    "final_budget": "use deadline (seconds the one flush at the run's end may take)",
    "poll_interval": "task runs are followed through Prefect's in-process events; "
    "interval paces the updates",
    "settle_timeout": "no longer needed: the final state comes from the flow run's own process",
}

_TASK_STATE: dict[str, StepStatus] = {
    "COMPLETED": StepStatus.SUCCESS,
    "FAILED": StepStatus.FAILED,
    "CRASHED": StepStatus.NOT_RUN,
    "CANCELLED": StepStatus.SKIPPED,
    "RUNNING": StepStatus.RUNNING,
    "CANCELLING": StepStatus.RUNNING,
    "PAUSED": StepStatus.RUNNING,
}
_STATE_PREFIXES = (
    "Task run encountered an exception: ",
    "Task run encountered an exception ",
    "Flow run encountered an exception. ",
    "Flow run encountered an exception: ",
)


def _kind(obj: Any) -> str:
    kind = getattr(obj, "type", None) or getattr(obj, "state_type", None)
    return str(getattr(kind, "value", kind) or "")


def task_step_status(state_type: object, state_name: str | None) -> StepStatus:
    """A Prefect task-run state as a step status (AwaitingRetry/Retrying count as retrying;
    a task whose upstream failed waits as "NotReady"; a crashed task run was interrupted (by a
    timeout, a cancellation, a dying process) and is drawn as not run, not as a failure)."""
    if state_name in ("AwaitingRetry", "Retrying"):
        return StepStatus.RETRYING
    if state_name == "NotReady":
        return StepStatus.UPSTREAM_FAILED
    value = str(getattr(state_type, "value", state_type) or "")
    return _TASK_STATE.get(value, StepStatus.PENDING)


def flow_run_status(state: Any) -> RunStatus:
    """The final status of a flow run from its terminal state."""
    kind = _kind(state)
    if kind == "COMPLETED":
        return RunStatus.SUCCESS
    if kind == "CRASHED":
        return RunStatus.CRASHED
    if kind in ("CANCELLED", "CANCELLING"):
        return RunStatus.CANCELLED
    text = f"{getattr(state, 'name', '')} {getattr(state, 'message', '') or ''}".lower()
    return RunStatus.TIMED_OUT if "timed out" in text or "timeout" in text else RunStatus.FAILED


def _message(state: Any) -> str | None:
    message = str(getattr(state, "message", "") or "").strip()
    for prefix in _STATE_PREFIXES:
        message = message.removeprefix(prefix)
    return message or None


def _resolve_block(block: Any) -> ActivitySmithBlock | None:
    if block is None or not isinstance(block, str):
        return block
    from .blocks import ActivitySmith

    return ActivitySmith.load(block, _sync=True)  # type: ignore[no-any-return,call-arg,return-value]


class _ClientFactory:
    """Builds the core client from the block (picklable: it travels with served flows)."""

    def __init__(self, block: Any) -> None:
        self.block = block

    def __call__(self) -> Any:
        resolved = _resolve_block(self.block)
        if resolved is not None:
            return resolved.get_client()
        from activitysmith_core import ActivitySmith

        return ActivitySmith()


def _ui_url(obj: Any) -> str | None:
    try:
        from prefect.utilities.urls import url_for

        url = url_for(obj)
        return str(url) if url else None
    except Exception:
        return None


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _task_name(task_run: Any) -> str:
    """The task's own name: a task run is named ``<task>-<dynamic key>`` (or its first three
    characters) unless ``task_run_name`` renamed it."""
    name = str(task_run.name)
    dynamic = str(getattr(task_run, "dynamic_key", "") or "")
    for suffix in (dynamic, dynamic[:3]):
        if suffix and name.endswith(f"-{suffix}") and len(name) > len(suffix) + 1:
            return name[: -len(suffix) - 1]
    try:
        from prefect.context import TaskRunContext

        context = TaskRunContext.get()
        if context is not None and context.task_run.id == task_run.id:
            return str(context.task.name)
    except Exception:
        pass
    return name


def _task_key(task_run: Any, task: str) -> str:
    """One segment per task: the task's function (``task_key``) and its name."""
    return f"{getattr(task_run, 'task_key', '')}|{task}"


def _timestamp(value: Any) -> float | None:
    try:
        return float(value.timestamp()) if value is not None else None
    except Exception:
        return None


@dataclass(frozen=True)
class _Failure:
    step: str
    error: object
    log_url: str | None
    retrying: bool
    ident: str


class _Run:
    """What one flow run's process knows of its task runs, and its engine calls."""

    def __init__(self, tracker: FlowRunTracker, flow: Any, flow_run: Any) -> None:
        self.tracker = tracker
        self.flow_name = str(getattr(flow, "name", None) or flow_run.flow_id)
        self.flow_run = flow_run
        self.url = _ui_url(flow_run)
        self.lock = threading.Lock()
        self.groups: dict[str, tuple[str, str]] = {}  # key -> (segment, task), as they appear
        self.task_runs: dict[str, tuple[str, StepStatus]] = {}  # id -> (segment key, status)
        self.ready = False
        self.started_at = _timestamp(getattr(flow_run, "start_time", None)) or time.time()
        timeout = getattr(flow, "timeout_seconds", None)
        self.deadline_at = self.started_at + float(timeout) if timeout else None
        self.expected_seconds: float | None = None
        self.pending: list[_Failure] = []
        self.history = threading.Event()  # set once the expected steps are known (or not)
        self.stopped = threading.Event()  # set by the final hook
        self.placeholders: dict[str, list[str]] = {}  # task -> expected segments not yet run
        self.claimed: dict[str, str] = {}  # task run id (or task) -> its segment

    def record(self, task_run: Any, status: StepStatus) -> str:
        """Record a task run's status; returns its segment's name."""
        task = _task_name(task_run)
        task_run_id = str(task_run.id)
        per_run = self.tracker.one_segment_per_task_run
        own = task_run_id if per_run else _task_key(task_run, task)
        with self.lock:
            key = self.claimed.get(own, "")
            if not key:  # its own segment, else one expected for this task, else a new one
                free = self.placeholders.get(task)
                key = own if own in self.groups or not free else free.pop(0)
                self.claimed[own] = key
            if per_run:
                self.groups[key] = (str(task_run.name), task)
            else:
                self.groups.setdefault(key, (task, task))
            self.task_runs[task_run_id] = (key, status)
            return self.groups[key][0]

    def expect(self, history: list[Any]) -> None:
        """The task runs of the latest completed run, in their order: the segments this run is
        expected to have, drawn pending until a task run of theirs starts. Matched by the
        task's name (a task's key changes with its file's path and line)."""
        if self.tracker.one_segment_per_task_run:
            expected = [_task_name(task_run) for task_run in history]
        else:
            tasks: dict[str, str] = {}
            for task_run in history:
                task = _task_name(task_run)
                tasks.setdefault(_task_key(task_run, task), task)
            expected = list(tasks.values())
        with self.lock:
            live: dict[str, list[str]] = {}
            for key, (_name, task) in self.groups.items():
                live.setdefault(task, []).append(key)
            groups: dict[str, tuple[str, str]] = {}
            for index, task in enumerate(expected):
                if live.get(task):
                    key = live[task].pop(0)
                    groups[key] = self.groups[key]
                else:
                    key = f"expected|{index}"
                    groups[key] = (task, task)
                    self.placeholders.setdefault(task, []).append(key)
            for key, value in self.groups.items():  # what this run has more goes last
                groups.setdefault(key, value)
            self.groups = groups
            report = self.ready and bool(self.task_runs)
        if report:
            self.report()

    def state(self, status: RunStatus = RunStatus.RUNNING) -> RunState:
        with self.lock:
            by_key: dict[str, list[StepStatus]] = {key: [] for key in self.groups}
            for key, step_status in self.task_runs.values():
                by_key[key].append(step_status)
            per_task = self.tracker.one_segment_per_task_run
            steps = [
                Step(
                    self.groups[key][0],
                    aggregate(runs),
                    self.groups[key][1] if per_task else None,
                    sum(r in (StepStatus.RUNNING, StepStatus.RETRYING) for r in runs),
                )
                for key, runs in by_key.items()
            ]
        flow_run = self.flow_run
        return RunState(
            orchestrator="prefect",
            pipeline_id=self.flow_name,
            run_id=str(flow_run.id),
            steps=steps,
            status=status,
            title=f"{self.flow_name} · {flow_run.name}",
            url=self.url,
            total_steps=self.tracker.options.total_steps,
            started_at=self.started_at,
            expected_seconds=self.expected_seconds,
            deadline_at=self.deadline_at,
        )

    def task_changed(self, task_run: Any, state: Any, error: BaseException | None) -> None:
        """A task run of this flow run changed state (called on the task's thread)."""
        self._refresh_name()
        status = task_step_status(_kind(state), getattr(state, "name", None))
        name = self.record(task_run, status)
        failure: _Failure | None = None
        if status is StepStatus.FAILED or (
            status is StepStatus.RETRYING and self.tracker.options.push_on_retry
        ):
            retrying = status is StepStatus.RETRYING
            count = getattr(task_run, "run_count", 0)
            failure = _Failure(
                name,
                error if error is not None else _message(state),
                _ui_url(task_run) or self.url,
                retrying,
                f"{task_run.id}|{count}" if retrying else str(task_run.id),
            )
        with self.lock:
            if not self.ready:
                if failure is not None:
                    self.pending.append(failure)
                return  # the warm-up thread shows it once the client is built
        self.report(failure)

    def report(self, failure: _Failure | None = None) -> None:
        """Hand the current state, and a failure, to the engine (which only queues)."""
        engine = self.tracker.engine
        run = self.state()
        engine.update(run)
        if failure is not None:
            engine.step_failed(
                run,
                failure.step,
                failure.error,
                failure.log_url,
                retrying=failure.retrying,
                ident=failure.ident,
            )

    def watch(self) -> None:
        """While the run goes on (a daemon thread): at ``expected_duration`` after the start,
        an update ("running longer than usual") and the engine's deadline push, once; every
        ``CLOCK_TICK`` seconds, an update when the subtitle's clock changed."""
        options = self.tracker.options
        due = self.started_at + options.expected_duration if options.expected_duration else None
        shown = timing(self.state(), options)
        while True:
            wait = CLOCK_TICK
            if due is not None:
                wait = min(wait, max(0.0, due - time.time()))
            if self.stopped.wait(wait):
                return
            run = self.state()
            clock = timing(run, options)
            with self.lock:
                report = self.ready and bool(self.task_runs) and not self.stopped.is_set()
            if report and clock != shown:
                shown = clock
                self.tracker.engine.update(run)
            if due is not None and time.time() >= due:
                if not self.stopped.is_set():
                    self.tracker.engine.deadline_missed(replace(run, deadline_at=due))
                due = None

    def mark_ready(self) -> None:
        """The client is built: report what happened meanwhile."""
        with self.lock:
            self.ready = True
            pending, self.pending = self.pending, []
        if self.task_runs:
            self.report()
        for failure in pending:
            self.report(failure)

    def _refresh_name(self) -> None:
        """A templated ``flow_run_name`` may be applied after ``on_running`` (Prefect 3.6)."""
        try:
            from prefect.context import FlowRunContext

            context = FlowRunContext.get()
            current = getattr(context, "flow_run", None)
            if current is not None and current.id == self.flow_run.id:
                self.flow_run = current
        except Exception:
            pass

    def load(self, timeout: float) -> None:
        """Read the task runs from the Prefect API (a hook in another process than the flow's):
        one paged read in the background, waited for at most ``timeout`` seconds."""
        found: list[Any] = []

        def read() -> None:
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

            client = _prefect_client()
            offset = 0
            while True:
                page = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[self.flow_run.id])),
                    limit=200,
                    offset=offset,
                )
                found.extend(page)
                if len(page) < 200:
                    return
                offset += 200

        _within(timeout, read)
        ordered = sorted(
            list(found),
            key=lambda t: (str(getattr(t, "expected_start_time", "") or ""), str(t.created or "")),
        )
        for task_run in ordered:
            status = task_step_status(task_run.state_type, task_run.state_name)
            name = self.record(task_run, status)
            if status is StepStatus.FAILED:
                error = _message(getattr(task_run, "state", None))
                self.pending.append(
                    _Failure(name, error, _ui_url(task_run) or self.url, False, str(task_run.id))
                )


def _within(seconds: float, fn: Callable[[], object]) -> bool:
    """Run ``fn`` on a daemon thread, waiting for it at most ``seconds``; False if it is still
    running then (it is left to finish on its own)."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception as exc:
            log.warning("ActivitySmith: %s", exc)
        finally:
            done.set()

    threading.Thread(target=run, name="activitysmith-bounded", daemon=True).start()
    return done.wait(seconds)


_client_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _prefect_client() -> Any:
    """One sync Prefect client per process and API URL (Prefect's client retries 429s with
    their Retry-After)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    url = str(get_current_settings().api.url)
    with _client_lock:
        client = _clients.get(url)
        if client is None:
            client = get_client(sync_client=True)
            client.__enter__()
            _clients[url] = client
        return client


def _history(flow_run: Any, *, steps: bool, runs: int) -> tuple[float | None, list[Any]]:
    """The median duration of the last ``runs`` completed runs of the flow run's deployment
    (else its flow), one request; with ``steps``, the task runs of the latest one in their
    order of first appearance (subflow runs left out, at most 200), one request more."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
        TaskRunFilter,
        TaskRunFilterSubFlowRuns,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    client = _prefect_client()
    completed = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))
    deployment = getattr(flow_run, "deployment_id", None)
    if deployment is not None:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=completed, deployment_id=FlowRunFilterDeploymentId(any_=[deployment])
            ),
            sort=FlowRunSort.END_TIME_DESC,
            limit=runs,
        )
    else:
        found = client.read_flow_runs(
            flow_filter=FlowFilter(id=FlowFilterId(any_=[flow_run.flow_id])),
            flow_run_filter=FlowRunFilter(state=completed),
            sort=FlowRunSort.END_TIME_DESC,
            limit=runs,
        )
    found = [r for r in found if r.id != flow_run.id]
    durations = [r.total_run_time.total_seconds() for r in found if r.total_run_time]
    median = statistics.median(durations) if durations else None
    if not steps or not found:
        return median, []
    task_runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[found[0].id])),
        task_run_filter=TaskRunFilter(subflow_runs=TaskRunFilterSubFlowRuns(exists_=False)),
        sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        limit=200,
    )
    return median, list(task_runs)


class _Listener:
    """Routes the task-run state changes Prefect reports in this process to the tracked runs.

    Installed once per process by wrapping ``emit_task_run_state_change_event`` where Prefect's
    task engine and tasks call it; the wrapper returns Prefect's own result and never raises.
    """

    def __init__(self) -> None:
        self.runs: dict[str, _Run] = {}
        self.lock = threading.Lock()
        self.installed = False

    def install(self) -> bool:
        with self.lock:
            if self.installed:
                return True
            try:
                import prefect.task_engine as task_engine
                import prefect.utilities.engine as engine_utilities
            except ImportError as exc:  # pragma: no cover - a future Prefect
                log.warning("ActivitySmith: cannot follow task runs: %s", exc)
                return False
            found = False
            for module in (task_engine, engine_utilities):
                original = getattr(module, "emit_task_run_state_change_event", None)
                found = found or original is not None
                if original is None or getattr(original, "__activitysmith__", False):
                    continue
                module.emit_task_run_state_change_event = self._wrap(original)  # type: ignore[attr-defined]
            if not found:  # pragma: no cover - a future Prefect
                log.warning(
                    "ActivitySmith: this Prefect does not report task-run changes where the "
                    "tracker listens; only the final state (read from the Prefect API) is shown"
                )
            self.installed = True
            return True

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def emit_task_run_state_change_event(*args: Any, **kwargs: Any) -> Any:
            event = original(*args, **kwargs)
            if self.runs:
                self.dispatch(args, kwargs)
            return event

        emit_task_run_state_change_event.__activitysmith__ = True  # type: ignore[attr-defined]
        emit_task_run_state_change_event.__wrapped__ = original  # type: ignore[attr-defined]
        return emit_task_run_state_change_event

    def dispatch(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            task_run = kwargs["task_run"] if "task_run" in kwargs else args[0]
            state = kwargs["validated_state"] if "validated_state" in kwargs else args[2]
            run = self.runs.get(str(task_run.flow_run_id))
            if run is None or state is None:
                return
            handled = sys.exc_info()[1]
            error = handled if _kind(state) in ("FAILED", "SCHEDULED", "RUNNING") else None
            run.task_changed(task_run, state, error)
        except Exception as exc:
            log.warning("ActivitySmith: task-run change skipped: %s", exc)

    def add(self, run: _Run) -> None:
        with self.lock:
            self.runs[str(run.flow_run.id)] = run

    def pop(self, flow_run_id: object) -> _Run | None:
        with self.lock:
            return self.runs.pop(str(flow_run_id), None)


_listener = _Listener()


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
        self.block = block
        self.one_segment_per_task_run = one_segment_per_task_run
        self.options = TrackerOptions(**_split_options(options))
        self.engine = Engine(_ClientFactory(block), self.options)

    def __repr__(self) -> str:
        return f"FlowRunTracker(options={self.options!r})"

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
        try:
            if not _listener.install():
                return
            run = _Run(self, flow, flow_run)
            _listener.add(run)
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

    def _read_history(self, run: _Run, _opened: float) -> None:
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
                median, history = _history(run.flow_run, steps=steps, runs=5 if estimate else 1)
                if estimate:
                    run.expected_seconds = median
                if history:
                    run.expect(history)
        except Exception as exc:
            log.debug("ActivitySmith: nothing learnt from recent runs (%s)", exc)
        finally:
            run.history.set()

    def _warm_up(self, run: _Run, opened: float) -> None:
        """Build the client (a block given by name is loaded from Prefect) off the flow's
        threads, wait at most ``HISTORY_WAIT`` seconds after the start for the expected
        steps, then show what happened meanwhile."""
        try:
            _ = self.engine.sender
        except Exception as exc:
            log.warning("ActivitySmith: tracking %s disabled: %s", run.flow_run.name, exc)
            return
        run.history.wait(max(0.0, opened + HISTORY_WAIT - time.monotonic()))
        run.mark_ready()

    def _finish(self, flow: Any, flow_run: Any, state: Any) -> None:
        started = time.monotonic()
        deadline = self.options.deadline
        try:
            run = _listener.pop(flow_run.id)
            if run is not None:
                run.stopped.set()  # no clock update nor deadline push after this
            if run is None or not run.task_runs:
                run = _Run(self, flow, flow_run)
                run.load(deadline / 2)
            if not run.ready and not _within(deadline / 2, lambda: self.engine.sender):
                log.warning(
                    "ActivitySmith: final state of %s not sent: no client within %.1f s",
                    flow_run.name,
                    deadline / 2,
                )
                return
            run.flow_run = flow_run
            run.url = _ui_url(flow_run) or run.url
            status = flow_run_status(state)
            final = run.state(status)
            if not run.ready:
                run.mark_ready()
            self.engine.finish(final, error=_message(state))
            self.engine.flush(max(0.1, deadline - (time.monotonic() - started)))
        except Exception as exc:
            log.warning("ActivitySmith: final state of %s not sent: %s", flow_run.name, exc)


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

"""One flow run's model: its task runs and subflow calls as segments, fed by every source.

The in-process fast path, the event subscription and the API reads all hand a
:class:`TaskRunChange` to :meth:`TrackedRun.apply`, which keeps one state per task run: a change
seen before (same event id) is dropped, and a state older than the one kept (by the state's
timestamp) never replaces it, so the sources may overlap and arrive in any order.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

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

from ._changes import TaskRunChange
from ._states import FINAL_TYPES, timestamp, ui_url

CLOCK_TICK = 60.0
"""Seconds between two checks of the subtitle's clock ("about 4 min left") while no task run
changes: at most one update a minute, and only when the text changed."""

_RANK = {"SCHEDULED": 0, "PENDING": 0, "PAUSED": 1, "RUNNING": 1, "CANCELLING": 1}


@dataclass(frozen=True)
class StepFailure:
    """A failure (or a retry) waiting to be handed to the engine with the run's state."""

    step: str
    error: object
    log_url: str | None
    retrying: bool
    ident: str


@dataclass(frozen=True)
class RunSettings:
    """What a tracked run takes from its tracker: the options, its group (None when it is in
    none, or its group cannot be written: no shared API) and the engine that draws it."""

    options: TrackerOptions
    engine: Engine
    group: str | None = None
    one_segment_per_task_run: bool = False


@dataclass
class _Kept:
    key: str
    status: StepStatus
    occurred: float
    rank: int


class TrackedRun:
    """What the flow run's process knows of one flow run, and its engine calls."""

    def __init__(self, settings: RunSettings, flow: Any, flow_run: Any) -> None:
        self.settings = settings
        self.flow_name = str(getattr(flow, "name", None) or flow_run.flow_id)
        self.flow_run = flow_run
        self.id = str(flow_run.id)
        self.url = ui_url(flow_run)
        self.lock = threading.Lock()
        self.groups: dict[str, tuple[str, str]] = {}  # key -> (segment, task), as they appear
        self.task_runs: dict[str, _Kept] = {}
        self.seen: set[str] = set()  # event ids applied
        self.remote = False  # a change came first from the stream, not the flow's process
        self.local = False  # every task runs on the flow's threads, seen by the fast path
        self.ready = False
        self.started_at = timestamp(getattr(flow_run, "start_time", None)) or time.time()
        timeout = getattr(flow, "timeout_seconds", None)
        self.deadline_at = self.started_at + float(timeout) if timeout else None
        self.expected_seconds: float | None = None
        self.pending: list[StepFailure] = []
        self.history = threading.Event()  # set once the expected steps are known (or not)
        self.stopped = threading.Event()  # set by the final hook
        self.placeholders: dict[str, list[str]] = {}  # task -> expected segments not yet run
        self.claimed: dict[str, str] = {}  # task run id (or task) -> its segment

    @property
    def engine(self) -> Engine:
        return self.settings.engine

    @property
    def group(self) -> str | None:
        return self.settings.group

    # -- the model ------------------------------------------------------------------------------
    def _segment(self, change: TaskRunChange) -> str:
        """The segment of a task run (under the lock): its own, else one expected for its
        task, else a new one."""
        per_run = self.settings.one_segment_per_task_run
        if per_run or change.subflow:  # a subflow: one segment per call
            own = change.task_run_id
        else:
            own = f"{change.task_key}|{change.task}"
        key = self.claimed.get(own, "")
        if not key:
            free = self.placeholders.get(change.task)
            key = own if own in self.groups or not free else free.pop(0)
            self.claimed[own] = key
        if per_run and not change.subflow:
            self.groups[key] = (change.name, change.task)
        else:
            self.groups.setdefault(key, (change.task, change.task))
        return key

    def apply(self, change: TaskRunChange, *, remote: bool = False) -> bool:
        """Take a change from any source (any thread); False if it was seen or is older than
        the state kept for that task run. Reports the new state (and a failure) when ready."""
        status = change.status
        rank = 2 if change.state_type in FINAL_TYPES else _RANK.get(change.state_type, 1)
        with self.lock:
            if change.event_id in self.seen:
                return False
            self.seen.add(change.event_id)
            kept = self.task_runs.get(change.task_run_id)
            if kept is not None and (
                change.occurred < kept.occurred
                or (change.occurred == kept.occurred and rank < kept.rank)
            ):
                return False
            key = kept.key if kept is not None else self._segment(change)
            self.task_runs[change.task_run_id] = _Kept(key, status, change.occurred, rank)
            self.remote = self.remote or remote
            name = self.groups[key][0]
            failure = self._failure(change, name, status)
            if not self.ready:
                if failure is not None:
                    self.pending.append(failure)
                return True  # shown once the client is built
        self.report(failure)
        return True

    def _failure(self, change: TaskRunChange, name: str, status: StepStatus) -> StepFailure | None:
        retrying = status is StepStatus.RETRYING
        if not (status is StepStatus.FAILED or (retrying and self.settings.options.push_on_retry)):
            return None
        error = change.error if change.error is not None else change.message
        ident = f"{change.task_run_id}|{change.run_count}" if retrying else change.task_run_id
        return StepFailure(name, error, change.url or self.url, retrying, ident)

    def unfinished(self) -> bool:
        """A task run or subflow call is known but not in a final state."""
        with self.lock:
            return any(k.rank < 2 for k in self.task_runs.values())

    def expect(self, history: list[tuple[str, str]]) -> None:
        """The (task key, task) of the latest completed run's task runs, in their order: the
        segments this run is expected to have, drawn pending until a task run of theirs
        starts. Matched by the task's name (a task's key changes with its file's path)."""
        if self.settings.one_segment_per_task_run:
            expected = [task for _key, task in history]
        else:
            tasks: dict[str, str] = {}
            for task_key, task in history:
                tasks.setdefault(f"{task_key}|{task}", task)
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
            for kept in self.task_runs.values():
                by_key[kept.key].append(kept.status)
            per_task = self.settings.one_segment_per_task_run
            steps = [
                Step(
                    self.groups[key][0],
                    aggregate(runs),
                    self.groups[key][1] if per_task else None,
                    sum(r in (StepStatus.RUNNING, StepStatus.RETRYING) for r in runs),
                )
                for key, runs in by_key.items()
            ]
        return RunState(
            orchestrator="prefect",
            pipeline_id=self.flow_name,
            run_id=self.id,
            steps=steps,
            status=status,
            title=f"{self.flow_name} · {self.flow_run.name}",
            url=self.url,
            total_steps=self.settings.options.total_steps,
            started_at=self.started_at,
            expected_seconds=self.expected_seconds,
            deadline_at=self.deadline_at,
        )

    # -- the engine -----------------------------------------------------------------------------
    def report(self, failure: StepFailure | None = None) -> None:
        """Hand the current state, and a failure, to the engine (which only queues)."""
        engine = self.engine
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

    def mark_ready(self) -> None:
        """The client is built: report what happened meanwhile."""
        with self.lock:
            self.ready = True
            pending, self.pending = self.pending, []
            any_task = bool(self.task_runs)
        if any_task:
            self.report()
        for failure in pending:
            self.report(failure)

    def watch(self) -> None:
        """While the run goes on (a daemon thread): at ``expected_duration`` after the start,
        an update ("running longer than usual") and the engine's deadline push, once; every
        ``CLOCK_TICK`` seconds, an update when the subtitle's clock changed."""
        options = self.settings.options
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
                self.engine.update(run)
            if due is not None and time.time() >= due:
                if not self.stopped.is_set():
                    self.engine.deadline_missed(replace(run, deadline_at=due))
                due = None

    def refresh_name(self) -> None:
        """A templated ``flow_run_name`` may be applied after ``on_running`` (Prefect 3.6)."""
        try:
            from prefect.context import FlowRunContext

            context = FlowRunContext.get()
            current = getattr(context, "flow_run", None)
            if current is not None and str(current.id) == self.id:
                self.flow_run = current
        except Exception:
            pass

"""Where task-run changes come from, routed to their run: the process's :class:`Registry`.

Two sources feed it: Prefect's event stream (:mod:`._stream`, one subscription per process,
opened by the first followed run and closed when the last one ends) and the in-process fast
path on verified Prefect versions (:mod:`._fast`). The registry knows the process's tracked
runs and the subflow runs they called, and hands each change to its run.
"""

from __future__ import annotations

import threading
from typing import Any

from ._changes import change_of, event_change, run_url, subflow_change
from ._fast import InProcess
from ._run import TrackedRun
from ._states import ui_url
from ._stream import Subscription


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

    def following(self) -> bool:
        return bool(self.runs)

    def following_subflows(self) -> bool:
        return bool(self.children)

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
        with self.lock:
            self.children[str(child.id)] = (run, str(task_run_id), name)
        state = getattr(child, "state", None)
        url = ui_url(child)
        run.apply(subflow_change(parent_id, str(task_run_id), name, state, url=url, created=True))

    def on_child_state(self, child_id: str, state: Any) -> None:
        """A subflow run called by a tracked run entered a state (in this process)."""
        with self.lock:
            child = self.children.get(child_id)
        if child is None or state is None:
            return
        run, task_run_id, name = child
        url = run_url("flow-run", child_id)
        run.apply(subflow_change(run.id, task_run_id, name, state, url=url, created=False))

    # -- the stream ---------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """A ``prefect.task-run.*`` event of a tracked run's task run."""
        flow_run_ids = [str(r.id).rpartition(".")[2] for r in event.related if r.role == "flow-run"]
        with self.lock:
            runs = [self.runs[i] for i in flow_run_ids if i in self.runs]
        if not runs:
            return
        change = event_change(event, runs[0].id)
        if change is not None:
            runs[0].apply(change, remote=True)

"""A tracked run as its watcher holds it: what a tick reads of it, and its state for the engine.

``read_tasks`` reads the task instances of all held runs by task and change (``_reads``) and
feeds each run's failure log; the rest is pure over the records: whether the run ended (from
the committed row), the segments of its bar, the name a failure is reported under.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from activitysmith_core.tracking import Engine, RunState, RunStatus

from . import _reads
from ._failures import FailureLog, MissedRetry
from ._reads import RunRow, TaskCount
from .tracking import (
    TrackingSpec,
    build_steps,
    format_title,
    group_of,
    run_url,
    ui_base_url,
)

Key = tuple[str, str, int]
"""(dag_id, run_id, attempt): one attempt (clear) of a DAG run."""


class Bounded(OrderedDict[Any, Any]):
    """A least-recently-used mapping of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_fresh(self, key: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class TrackedRun:
    """A run this watcher writes: its DAG, how it is tracked, its engine and failure log."""

    key: Key
    dag: Any
    spec: TrackingSpec
    engine: Engine
    local: bool
    logical_date: object = None
    failures: FailureLog = field(default_factory=FailureLog)
    end: RunStatus | None = None
    done: threading.Event = field(default_factory=threading.Event)
    expected_seconds: float | None = None
    deadline_at: float | None = None
    deadline_read: bool = False
    history_read: bool = False
    read_at: datetime | None = None
    """When the last read of the run's task instances began (wall clock, UTC)."""

    @property
    def dag_id(self) -> str:
        return self.key[0]

    @property
    def run_id(self) -> str:
        return self.key[1]

    def ended(self, row: RunRow | None, hints: Bounded) -> RunStatus | None:
        """The run's end as the database has it (committed), or None while it runs."""
        if self.local:
            return self.end
        if row is None:
            return RunStatus.CANCELLED  # the run was deleted
        if int(row.clear_number or 0) != self.key[2]:
            return RunStatus.CANCELLED  # cleared: this attempt is over, the next is its own
        state = _reads.value(row.state)
        if state == "success":
            return RunStatus.SUCCESS
        if state != "failed":
            return None
        hint = hints.pop(self.key, None)
        timeout = getattr(self.dag, "dagrun_timeout", None)
        ran = row.end_date - row.start_date if row.start_date and row.end_date else None
        if hint is None and timeout is not None and ran is not None and ran >= timeout:
            hint = RunStatus.TIMED_OUT
        return hint or RunStatus.FAILED

    def state(self, counts: list[TaskCount], status: RunStatus, row: RunRow | None) -> RunState:
        by_task: dict[str, dict[str, int]] = {}
        for c in counts:
            by_task.setdefault(c.task_id, {})[c.state] = c.instances
        base = self.spec.ui_base_url or ui_base_url()
        title = format_title(
            self.spec.title,
            dag_id=self.dag_id,
            run_id=self.run_id,
            logical_date=self.logical_date,
        )
        return RunState(
            orchestrator="airflow",
            pipeline_id=self.dag_id,
            run_id=self.run_id,
            steps=build_steps(dict(self.dag.task_dict), {}, self.spec.granularity, by_task),
            status=status,
            title=title or self.dag_id,
            url=run_url(base, self.dag_id, self.run_id),
            started_at=row.start_date.timestamp() if row is not None and row.start_date else None,
            expected_seconds=self.expected_seconds,
            deadline_at=self.deadline_at,
            attempt=self.key[2],
        )

    def step_name(self, task_id: str) -> str:
        if self.spec.granularity == "task_group" and task_id in self.dag.task_dict:
            return group_of(self.dag.task_dict[task_id], task_id)
        return task_id


def read_tasks(
    session: Any, runs: list[TrackedRun], now: float
) -> dict[_reads.Pair, list[TaskCount]]:
    """Each run's instances per task and state; the failure logs fed the instances failed,
    retrying or changed since the run's last read (all of them on its first), plus every
    instance of a task whose try numbers grew unseen; the retries missed between two reads
    looked up in the task instance history. Rows by tasks and changes, for all runs at once."""
    started = datetime.now(timezone.utc)
    first = _reads.pairs(r.key for r in runs if r.read_at is None)
    known = [r.read_at for r in runs if r.read_at is not None]
    counts = _reads.task_counts(session, _reads.pairs(r.key for r in runs))
    tis = _reads.task_states(session, first)
    if known:
        since = min(known) - _reads.CHANGE_MARGIN
        later = _reads.pairs(r.key for r in runs if r.read_at is not None)
        tis.update(_reads.task_changes(session, later, since))
    missed: dict[_reads.ErrorKey, tuple[TrackedRun, MissedRetry]] = {}
    short: list[tuple[str, str, str]] = []
    for run in runs:
        pair = (run.dag_id, run.run_id)
        for miss in run.failures.note(tis.get(pair, []), now):
            missed[(pair[0], pair[1], miss.task_id, miss.map_index)] = (run, miss)
        sums: dict[str, int] = {}
        for c in counts.get(pair, []):
            sums[c.task_id] = sums.get(c.task_id, 0) + c.tries
        short += [
            (pair[0], pair[1], t) for t, n in sums.items() if n > run.failures.try_sums.get(t, 0)
        ]
        run.read_at = started
    by_pair = {(r.dag_id, r.run_id): r for r in runs}
    for pair, extra in _reads.tasks_rows(session, short).items():
        run = by_pair[pair]
        for miss in run.failures.note(extra, now):
            missed[(pair[0], pair[1], miss.task_id, miss.map_index)] = (run, miss)
    for instance, tries in _reads.failed_tries(session, missed):
        run, miss = missed[instance]
        run.failures.note_history(miss, tries, now)
    return counts

"""Runs of one group as one activity: a night of pipelines at a glance.

Pure functions, no I/O: the adapter's single writer for the group reads the group's runs from
its orchestrator (their pipeline, start, end and outcome) and asks here which window they form
and what that window's activity shows. Everything is recomputed from the runs at every tick, so
a restarted or new writer draws the same activity.

- A **window** is a stretch of the group's runs that overlap or follow each other within
  ``linger`` seconds: the group's activity starts with the window's first run and ends once its
  runs have all ended and no new one joined for ``linger`` seconds.
- The activity has **one segment per run**, coloured by its outcome as it ends (in finishing
  order, like steps), the subtitle naming the runs running now and the time left, estimated
  from the previous window's duration; the number of segments is known up front from the
  previous window's count of runs (a larger night grows the bar). Once its last run ended the
  bar is full and reads "done" for the whole linger (a run joining then grows it again).
- A group's activity never pushes: each run's own failure pushes stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._model import RunState, RunStatus, Step, StepStatus, TrackerOptions

GROUP_LINGER = 300.0
"""Seconds a group's activity stays open after its last run ended, for a new run to join."""

_OUTCOME: dict[RunStatus, StepStatus] = {
    RunStatus.RUNNING: StepStatus.RUNNING,
    RunStatus.SUCCESS: StepStatus.SUCCESS,
    RunStatus.FAILED: StepStatus.FAILED,
    RunStatus.CRASHED: StepStatus.FAILED,
    RunStatus.TIMED_OUT: StepStatus.FAILED,
    RunStatus.CANCELLED: StepStatus.SKIPPED,
}


@dataclass(frozen=True)
class GroupMember:
    """One run of a group, as its orchestrator reports it."""

    name: str
    """What its segment and the subtitle call it: the DAG, the flow or the deployment."""
    run_id: str
    status: RunStatus = RunStatus.RUNNING
    started_at: float | None = None
    """Epoch seconds; a run not started yet (queued) counts from when it was seen."""
    ended_at: float | None = None


def _end_of(member: GroupMember) -> float:
    return member.ended_at or member.started_at or 0.0


@dataclass(frozen=True)
class GroupWindow:
    """The runs of one window of a group, in the order they started."""

    members: tuple[GroupMember, ...]

    @property
    def started_at(self) -> float:
        return min(m.started_at or 0.0 for m in self.members)

    @property
    def last(self) -> GroupMember | None:
        """The run that ended last, or None while any runs."""
        if any(m.status is RunStatus.RUNNING for m in self.members):
            return None
        return max(self.members, key=_end_of)

    @property
    def ended_at(self) -> float | None:
        """When its last run ended, or None while any runs."""
        last = self.last
        return None if last is None else _end_of(last)

    @property
    def duration(self) -> float | None:
        ended = self.ended_at
        return None if ended is None else max(0.0, ended - self.started_at)

    def closed(self, now: float, linger: float = GROUP_LINGER) -> bool:
        """Whether the window is over: every run ended ``linger`` seconds ago or more."""
        ended = self.ended_at
        return ended is not None and now - ended >= linger

    @property
    def outcome(self) -> RunStatus:
        if any(_OUTCOME[m.status] is StepStatus.FAILED for m in self.members):
            return RunStatus.FAILED
        return RunStatus.SUCCESS


def windows(members: Iterable[GroupMember], linger: float = GROUP_LINGER) -> list[GroupWindow]:
    """Split a group's runs into windows: a run that starts more than ``linger`` seconds after
    every earlier run ended opens a new one. Oldest first."""
    ordered = sorted(members, key=lambda m: (m.started_at or 0.0, m.run_id))
    found: list[list[GroupMember]] = []
    for member in ordered:
        ended = GroupWindow(tuple(found[-1])).ended_at if found else None
        if not found or (ended is not None and (member.started_at or 0.0) - ended > linger):
            found.append([])
        found[-1].append(member)
    return [GroupWindow(tuple(w)) for w in found]


def group_key_parts(orchestrator: str, group: str, window: GroupWindow) -> tuple[str, str, str]:
    """(orchestrator, pipeline id, run id) of a window's activity: its stream key is stable
    for the window, whoever writes it."""
    return orchestrator, f"group:{group}", f"{window.started_at:.0f}"


def group_state(
    orchestrator: str,
    group: str,
    window: GroupWindow,
    previous: GroupWindow | None = None,
    *,
    status: RunStatus = RunStatus.RUNNING,
    title: str | None = None,
    url: str | None = None,
    expected_runs: int | None = None,
) -> RunState:
    """The activity of one window: a segment per run (repeated runs of one pipeline are told
    apart by a counter), the bar's length from the previous window while it runs (its real
    count at the end), the time left from the previous window's duration. ``expected_runs``:
    the runs known to come (a backfill's): the bar's length, not settled before they all ran."""
    seen: dict[str, int] = {}
    named: list[tuple[GroupMember, str]] = []
    for member in window.members:
        seen[member.name] = seen.get(member.name, 0) + 1
        count = seen[member.name]
        named.append((member, member.name if count == 1 else f"{member.name} #{count}"))
    # Ended runs first, in the order they ended: a new writer draws the same finishing order.
    named.sort(
        key=lambda pair: (
            pair[0].status is RunStatus.RUNNING,
            pair[0].ended_at or 0.0 if pair[0].status is not RunStatus.RUNNING else 0.0,
        )
    )
    steps = []
    for member, name in named:
        outcome = _OUTCOME.get(member.status, StepStatus.RUNNING)
        steps.append(Step(name, outcome, active=int(outcome is StepStatus.RUNNING)))
    _, pipeline, run_id = group_key_parts(orchestrator, group, window)
    # Its last run ended: the bar is full and reads "done" while the linger lasts (a run that
    # joins grows it again); the DELETE after the linger only badges it.
    settled = window.ended_at is not None and len(window.members) >= (expected_runs or 0)
    declared = expected_runs or (len(previous.members) if previous is not None else None)
    return RunState(
        orchestrator=orchestrator,
        pipeline_id=pipeline,
        run_id=run_id,
        steps=steps,
        status=status,
        title=title or group,
        url=url,
        total_steps=declared if status is RunStatus.RUNNING and not settled else None,
        started_at=window.started_at,
        expected_seconds=previous.duration if previous is not None else None,
        settled=settled and status is RunStatus.RUNNING,
    )


_GROUP_DRAWING: dict[str, Any] = {
    "own_activity": True,
    "push_on_failure": False,
    "push_on_retry": False,
    "push_on_success": False,
    "expected_duration": None,
    "total_steps": None,
}
"""What a group's activity overrides in its runs' options: a bar of its own, no pushes, no
single run's expected duration or step count."""


def group_options(options: TrackerOptions) -> TrackerOptions:
    """The options a group's activity is drawn with: the runs' own, without any push (each run
    pushes its own failures); above ``max_segments`` runs, segments fold like steps."""
    return replace(options, **_GROUP_DRAWING)


def current_window(
    members: Sequence[GroupMember], now: float, linger: float = GROUP_LINGER
) -> tuple[GroupWindow | None, GroupWindow | None]:
    """The window the group's activity shows now (None when the last one is closed) and the
    one before it (for the bar's length and the time left)."""
    found = windows(members, linger)
    if not found:
        return None, None
    last = found[-1]
    before = found[-2] if len(found) > 1 else None
    if last.closed(now, linger):
        return None, last
    return last, before

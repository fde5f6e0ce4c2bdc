"""What a run is, orchestrator-free, and the one set of options that says how it is shown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Literal

from .._constants import COLORS
from .._keys import stream_key

ColorName = Literal[
    "lime", "green", "cyan", "blue", "purple", "magenta", "red", "orange", "yellow", "gray"
]


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    NOT_RUN = "not_run"
    """The run ended before the step finished (a crash, a cancellation, a timeout)."""

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset(
    {
        StepStatus.SUCCESS,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
        StepStatus.UPSTREAM_FAILED,
        StepStatus.NOT_RUN,
    }
)


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CRASHED = "crashed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


BAD_END = frozenset({RunStatus.FAILED, RunStatus.CRASHED, RunStatus.TIMED_OUT})


@dataclass
class Step:
    """One segment of the activity: a task (or task group) and its status."""

    name: str
    status: StepStatus = StepStatus.PENDING
    group: str | None = None
    """Where steps fold above ``max_segments`` (a task group); None: contiguous buckets."""
    active: int = 0
    """How many instances run now (a mapped task, repeated task runs): "transform ×4"."""


@dataclass
class RunState:
    """The absolute state of one run, recomputed from the orchestrator for every event."""

    orchestrator: str
    pipeline_id: str
    run_id: str
    steps: list[Step] = field(default_factory=list)
    status: RunStatus = RunStatus.RUNNING
    title: str | None = None
    url: str | None = None
    total_steps: int | None = None
    started_at: float | None = None
    """When the run started (epoch seconds), for the time left."""
    expected_seconds: float | None = None
    """How long the same pipeline's recent successful runs took (their median), if known."""
    deadline_at: float | None = None
    """When the run must be done (epoch seconds), if it has a deadline."""
    attempt: int = 0
    """Which execution of the run this is (Airflow's clear number): a cleared run that runs
    again is a new Live Activity, with a key of its own."""
    settled: bool = False
    """Every step has ended though the activity stays open (a group's window within its
    linger): the bar may read N of N and "done", with no time left."""

    @property
    def key(self) -> str:
        if self.attempt:
            return stream_key(
                self.orchestrator, self.pipeline_id, self.run_id, f"attempt-{self.attempt}"
            )
        return stream_key(self.orchestrator, self.pipeline_id, self.run_id)

    @property
    def finished_steps(self) -> list[Step]:
        return [s for s in self.steps if s.status.is_finished]

    @property
    def has_failure(self) -> bool:
        return self.status in BAD_END or any(
            s.status in (StepStatus.FAILED, StepStatus.UPSTREAM_FAILED) for s in self.steps
        )

    def ended(self, status: RunStatus) -> RunState:
        """This run with its final status; steps that never finished are drawn as not run."""
        from dataclasses import replace

        steps = [
            s if s.status.is_finished else Step(s.name, StepStatus.NOT_RUN, s.group)
            for s in self.steps
        ]
        return replace(self, steps=steps, status=status)


_COLOR_OPTIONS = (
    "success_color",
    "failed_color",
    "skipped_color",
    "running_color",
    "retry_color",
    "accent_color",
)


@dataclass(frozen=True)
class TrackerOptions:
    """How a tracked run is shown, which events push, and how delivery is bounded.

    One set of options for both plugins; an option means the same thing in each. Validated when
    built, so a bad value fails where the tracker is declared, naming the option.
    """

    channels: list[str] | None = None
    title: str | None = None
    subtitle_template: str | None = None
    icon: str | None = None
    total_steps: int | None = None
    success_color: ColorName = "green"
    failed_color: ColorName = "red"
    skipped_color: ColorName = "gray"
    running_color: ColorName = "blue"
    retry_color: ColorName = "orange"
    accent_color: ColorName = "blue"
    auto_dismiss_minutes: int | None = None
    auto_dismiss_seconds: int | None = None
    push_on_failure: bool = True
    push_on_retry: bool = False
    push_on_success: bool = False
    interruption_level: Literal["passive", "active", "time-sensitive"] | None = None
    max_segments: int = 20
    """Above this many steps, steps fold into groups (task groups, else contiguous buckets)."""
    time_left: bool = True
    """Show the time left in the subtitle: before the run's deadline, else an estimate from
    the recent runs' durations (or ``expected_duration``)."""
    expected_duration: float | None = None
    """Seconds a run is expected to take: when declared, the time left counts down from it
    (instead of the recent runs' estimate), and Prefect pushes once a run overruns it."""
    deadline: float = 10.0
    """Seconds the one flush at a process's end may take, for everything left to send."""
    interval: float = 2.0
    """At least this many seconds between two progress updates of one activity."""
    push_window: float = 5.0
    """Failures of one run inside this many seconds fold into one push."""
    request_timeout: float = 5.0
    state_dir: str | None = None
    """Where undelivered final states and pushes are kept (default: a private per-user folder)."""
    keep: bool = True
    max_kept: int = 100
    max_kept_age: float = 24 * 3600.0
    group: str | None = None
    """Runs declared in one group share one activity: a segment per run (tracking.md#groups)."""
    own_activity: bool | None = None
    """Whether a run also has its own activity: by default yes, unless it is in a group."""
    group_linger: float = 300.0
    """Seconds a group's activity stays open after its last run ended, for a new run to join."""

    @property
    def shows_run(self) -> bool:
        """Whether each run gets its own activity (failure pushes go either way)."""
        return self.own_activity if self.own_activity is not None else self.group is None

    def __post_init__(self) -> None:
        for name in _COLOR_OPTIONS:
            if getattr(self, name) not in COLORS:
                raise ValueError(
                    f"{name}: unknown colour {getattr(self, name)!r}; "
                    f"use one of {', '.join(COLORS)}"
                )
        for name in ("auto_dismiss_minutes", "auto_dismiss_seconds", "total_steps"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{name}: must be an integer >= 0, not {value!r}")
        if (
            isinstance(self.max_segments, bool)
            or not isinstance(self.max_segments, int)
            or (self.max_segments < 2)
        ):
            raise ValueError(f"max_segments: must be an integer >= 2, not {self.max_segments!r}")
        if self.expected_duration is not None and (
            isinstance(self.expected_duration, bool)
            or not isinstance(self.expected_duration, (int, float))
            or not math.isfinite(self.expected_duration)
            or self.expected_duration <= 0
        ):
            raise ValueError(
                f"expected_duration: must be > 0 seconds, not {self.expected_duration!r}"
            )
        if self.total_steps == 0:
            raise ValueError("total_steps: must be >= 1")
        for name in (
            "deadline",
            "interval",
            "push_window",
            "request_timeout",
            "max_kept_age",
            "group_linger",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name}: must be a number of seconds, not {value!r}")
            if not math.isfinite(value) or value < 0 or (value == 0 and name != "push_window"):
                raise ValueError(f"{name}: must be > 0 seconds, not {value!r}")
        if self.deadline > 300:
            raise ValueError(f"deadline: at most 300 seconds, not {self.deadline!r}")
        if not isinstance(self.max_kept, int) or self.max_kept < 0:
            raise ValueError(f"max_kept: must be an integer >= 0, not {self.max_kept!r}")
        for name in ("push_on_failure", "push_on_retry", "push_on_success", "keep", "time_left"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be True or False, not {getattr(self, name)!r}")
        if self.interruption_level not in (None, "passive", "active", "time-sensitive"):
            raise ValueError(
                "interruption_level: must be 'passive', 'active' or 'time-sensitive', "
                f"not {self.interruption_level!r}"
            )
        if self.group is not None and (
            not isinstance(self.group, str) or not self.group.strip() or len(self.group) > 100
        ):
            raise ValueError(f"group: must be a name of 1 to 100 characters, not {self.group!r}")
        if self.own_activity is not None and not isinstance(self.own_activity, bool):
            raise ValueError(
                f"own_activity: must be True, False or None, not {self.own_activity!r}"
            )
        channels = self.channels
        if isinstance(channels, str):
            channels = [c.strip() for c in channels.split(",") if c.strip()]
        elif channels is not None:
            if not all(isinstance(c, str) and c.strip() for c in channels):
                raise ValueError(f"channels: must be non-empty strings, not {channels!r}")
            channels = [c.strip() for c in channels]
        object.__setattr__(self, "channels", channels or None)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> TrackerOptions:
        """Build from plain values (a config section, a serialized spec); unknown names fail."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown tracker option")
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """The options that differ from the defaults, as JSON-friendly values."""
        default = TrackerOptions()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

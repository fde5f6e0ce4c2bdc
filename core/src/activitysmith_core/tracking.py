"""Run tracking that knows no orchestrator.

A plugin turns its orchestrator's events into a :class:`RunState` (an ordered list of steps, each
with a status) and hands it to a :class:`RunReporter`. This module alone decides what the Live
Activity shows and when to call the API, so both plugins share one tested mapping.

Reporters never raise: a notification problem is logged as a warning and the pipeline goes on,
within a time budget per call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from ._constants import COLORS
from ._keys import stream_key

if TYPE_CHECKING:
    from ._client import ActivitySmith, AsyncActivitySmith

__all__ = [
    "AsyncRunReporter",
    "RunReporter",
    "RunState",
    "RunStatus",
    "Step",
    "StepStatus",
    "TrackerOptions",
    "content_state",
    "end_request",
    "failure_push",
    "stream_request",
]

logger = logging.getLogger("activitysmith_core.tracking")

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

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED


_FINISHED = {StepStatus.SUCCESS, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.UPSTREAM_FAILED}


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CRASHED = "crashed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


_BAD_END = {RunStatus.FAILED, RunStatus.CRASHED, RunStatus.TIMED_OUT}
_END_BADGE: dict[RunStatus, tuple[str, str]] = {
    RunStatus.SUCCESS: ("Succeeded", "green"),
    RunStatus.FAILED: ("Failed", "red"),
    RunStatus.CRASHED: ("Crashed", "red"),
    RunStatus.CANCELLED: ("Cancelled", "gray"),
    RunStatus.TIMED_OUT: ("Timed out", "orange"),
}


@dataclass
class Step:
    """One segment of the activity: a task (or task group) and its status."""

    name: str
    status: StepStatus = StepStatus.PENDING


@dataclass
class RunState:
    """The absolute state of one run, recomputed from the orchestrator for every update."""

    orchestrator: str
    pipeline_id: str
    run_id: str
    steps: list[Step] = field(default_factory=list)
    status: RunStatus = RunStatus.RUNNING
    title: str | None = None
    url: str | None = None
    total_steps: int | None = None

    @property
    def key(self) -> str:
        return stream_key(self.orchestrator, self.pipeline_id, self.run_id)

    @property
    def finished_steps(self) -> list[Step]:
        return [s for s in self.steps if s.status.is_finished]

    @property
    def has_failure(self) -> bool:
        return self.status in _BAD_END or any(
            s.status in (StepStatus.FAILED, StepStatus.UPSTREAM_FAILED) for s in self.steps
        )


@dataclass(frozen=True)
class TrackerOptions:
    """What a tracked run looks like and which events push. Validated when built."""

    channels: list[str] | None = None
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
    title: str | None = None
    subtitle_template: str | None = None
    icon: str | None = None
    interruption_level: Literal["passive", "active", "time-sensitive"] | None = None
    budget: float = 10.0
    final_budget: float = 30.0
    request_timeout: float = 5.0
    pending_dir: str | None = field(default_factory=lambda: _default_pending_dir())

    def __post_init__(self) -> None:
        for name in (
            "success_color",
            "failed_color",
            "skipped_color",
            "running_color",
            "retry_color",
            "accent_color",
        ):
            if getattr(self, name) not in COLORS:
                raise ValueError(
                    f"{name}: unknown colour {getattr(self, name)!r}; "
                    f"use one of {', '.join(COLORS)}"
                )
        for name in ("auto_dismiss_minutes", "auto_dismiss_seconds"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name}: must be an integer >= 0")
        for name in ("budget", "final_budget", "request_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0 seconds")
        if isinstance(self.channels, str):
            object.__setattr__(
                self, "channels", [c.strip() for c in self.channels.split(",") if c.strip()]
            )


def _default_pending_dir() -> str:
    return os.environ.get("ACTIVITYSMITH_PENDING_DIR") or os.path.join(
        tempfile.gettempdir(), "activitysmith-pending"
    )


class _Progress:
    """What each stream last showed, shared by every process on this host through small files
    under a lock, so that updates computed earlier but sent later (parallel workers, a slow
    request) never move an activity backwards, and nothing restarts an ended one.

    On several hosts without a shared directory the guard is per host: a stale update may then
    still land, and the next one corrects it; the final state is always sent last by the run's
    end.
    """

    ENDED = 1 << 30

    def __init__(self, directory: str | None) -> None:
        self.dir = os.path.join(directory, "progress") if directory else None

    @contextlib.contextmanager
    def hold(self, key: str) -> Any:
        """Yield (last shown, record) for ``key`` while holding its lock."""
        if not self.dir:
            yield -1, lambda value: None
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no cross-process guard
            yield -1, lambda value: None
            return
        import hashlib

        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, hashlib.sha256(key.encode()).hexdigest()[:32])
        with open(path + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    with open(path, encoding="utf-8") as fh:
                        last = int(fh.read() or -1)
                except (OSError, ValueError):
                    last = -1

                def record(value: int) -> None:
                    with open(path, "w", encoding="utf-8") as fh:
                        fh.write(str(value))

                yield last, record
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class _Pending:
    """Final states that could not be delivered, kept on disk until the service answers again.

    A run's end is its last event, so when the final DELETE fails inside its budget the body is
    written here and delivered by the next reporter call (in any process) that reaches the API.
    """

    def __init__(self, directory: str | None) -> None:
        self.dir = directory

    def save(self, key: str, put: dict[str, Any], end: dict[str, Any]) -> None:
        if not self.dir:
            return
        try:
            os.makedirs(self.dir, exist_ok=True)
            import hashlib

            name = hashlib.sha256(key.encode()).hexdigest()[:32]
            tmp = os.path.join(self.dir, f".{name}.{os.getpid()}.tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "put": put, "end": end}, fh)
            os.replace(tmp, os.path.join(self.dir, f"{name}.json"))
        except OSError as exc:
            logger.warning("ActivitySmith: could not keep the final state of %s: %s", key, exc)

    def items(self, limit: int = 5) -> list[tuple[str, dict[str, Any]]]:
        if not self.dir:
            return []
        found: list[tuple[str, dict[str, Any]]] = []
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(".json"))
        except OSError:
            return []
        for name in names[:limit]:
            path = os.path.join(self.dir, name)
            try:
                with open(path, encoding="utf-8") as fh:
                    found.append((path, json.load(fh)))
            except (OSError, ValueError):
                continue
        return found

    @staticmethod
    def done(path: str) -> None:
        with contextlib.suppress(OSError):
            os.remove(path)


def _color(step: Step, options: TrackerOptions) -> str:
    if step.status is StepStatus.SUCCESS:
        return options.success_color
    if step.status is StepStatus.FAILED:
        return options.failed_color
    return options.skipped_color


def _names(steps: list[Step], limit: int = 2) -> str:
    names = [s.name for s in steps]
    text = ", ".join(names[:limit])
    return f"{text} +{len(names) - limit}" if len(names) > limit else text


def _subtitle(run: RunState, done: int, total: int) -> str:
    if run.status is RunStatus.RUNNING:
        retrying = [s for s in run.steps if s.status is StepStatus.RETRYING]
        running = [s for s in run.steps if s.status is StepStatus.RUNNING]
        if retrying:
            return f"Retrying {_names(retrying)}"
        if running:
            return f"Running {_names(running)}"
        return "Starting" if done == 0 else f"{done}/{total} done"
    failed = [s for s in run.steps if s.status is StepStatus.FAILED]
    label = _END_BADGE[run.status][0]
    if failed and run.status is not RunStatus.SUCCESS:
        return f"{label}: {_names(failed)}"
    return f"{label} · {done}/{total} done"


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def content_state(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    """The segmented_progress content state for ``run``: the one mapping both plugins share."""
    finished = run.finished_steps
    total = max(run.total_steps or 0, len(run.steps), len(finished), 1)
    done = min(len(finished), total)
    failed = run.has_failure
    subtitle = _subtitle(run, done, total)
    if options.subtitle_template:
        subtitle = options.subtitle_template.format_map(
            _Fields(
                status=subtitle,
                done=done,
                total=total,
                dag_id=run.pipeline_id,
                flow=run.pipeline_id,
                pipeline=run.pipeline_id,
                run_id=run.run_id,
            )
        )
    state: dict[str, Any] = {
        "title": options.title or run.title or run.pipeline_id,
        "subtitle": subtitle,
        "type": "segmented_progress",
        "number_of_steps": total,
        "current_step": done,
        "step_colors": [_color(s, options) for s in finished[:done]],
        "color": options.failed_color if failed else options.accent_color,
        "step_color": options.retry_color
        if any(s.status is StepStatus.RETRYING for s in run.steps)
        else options.running_color,
    }
    if options.icon:
        state["icon"] = {"symbol": options.icon}
    if run.status is not RunStatus.RUNNING:
        label, color = _END_BADGE[run.status]
        state["badge"] = {"title": label, "color": color}
    return state


def _action(run: RunState) -> dict[str, Any] | None:
    if run.url and run.url.lower().startswith(("http://", "https://")):
        return {"title": "Open run", "type": "open_url", "url": run.url}
    return None


def stream_request(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    """The body of the stream PUT for ``run``."""
    body: dict[str, Any] = {"content_state": content_state(run, options)}
    if action := _action(run):
        body["action"] = action
    if options.channels:
        body["channels"] = list(options.channels)
    return body


def end_request(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    """The body of the stream DELETE that ends ``run`` with its final state."""
    state = content_state(run, options)
    if options.auto_dismiss_minutes is not None:
        state["auto_dismiss_minutes"] = options.auto_dismiss_minutes
    if options.auto_dismiss_seconds is not None:
        state["auto_dismiss_seconds"] = options.auto_dismiss_seconds
    body: dict[str, Any] = {"content_state": state}
    if action := _action(run):
        body["action"] = action
    return body


def _first_line(error: object) -> str | None:
    if error is None:
        return None
    text = str(error).strip() or type(error).__name__
    line = text.splitlines()[0]
    if isinstance(error, BaseException) and not line.startswith(type(error).__name__):
        line = f"{type(error).__name__}: {line}"
    return line[:500]


def _push(options: TrackerOptions, **fields: Any) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if v is not None}
    if options.channels:
        body["target"] = {"channels": list(options.channels)}
    if options.interruption_level:
        body["interruption_level"] = options.interruption_level
    return body


def failure_push(
    run: RunState,
    step_name: str | None,
    error: object,
    log_url: str | None,
    options: TrackerOptions,
    *,
    retrying: bool = False,
) -> dict[str, Any]:
    """The push sent when a step fails for good (or, if asked, when it will be retried)."""
    name = options.title or run.title or run.pipeline_id
    what = step_name or "run"
    title = f"{name}: {what} {'will retry' if retrying else 'failed'}"
    if step_name is None and run.status in _END_BADGE:
        title = f"{name}: {_END_BADGE[run.status][0].lower()}"
    return _push(
        options,
        title=title,
        subtitle=f"Run {run.run_id}",
        message=_first_line(error) or "No error message",
        redirection=log_url or run.url,
    )


def success_push(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    name = options.title or run.title or run.pipeline_id
    total = max(run.total_steps or 0, len(run.steps))
    return _push(
        options,
        title=f"{name} succeeded",
        subtitle=f"Run {run.run_id}",
        message=f"{len(run.finished_steps)}/{total} steps done",
        redirection=run.url,
    )


ClientSource = Any  # an ActivitySmith / AsyncActivitySmith, or a no-argument factory of one


class _ReporterBase:
    # What each stream last showed, shared by every reporter in this process: a callback
    # builds a new reporter, and an identical state need not be sent twice.
    _lock = threading.Lock()
    _last_sent: dict[str, dict[str, Any]] = {}
    _MAX_REMEMBERED = 1024

    def __init__(self, client: ClientSource, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._source = client
        self._client: Any = None
        self._pending = _Pending(self.options.pending_dir)
        self._progress = _Progress(self.options.pending_dir)
        self.limit_reached = False

    def _policies(self, final: bool) -> dict[str, Any]:
        from ._retry import RetryPolicy

        budget = self.options.final_budget if final else self.options.budget
        return {
            "retry": RetryPolicy(
                max_attempts=8 if final else 4, budget=budget, max_backoff=min(8.0, budget / 2)
            ),
            "timeout": min(self.options.request_timeout, budget),
        }

    def _warn(self, what: str, run: RunState, exc: BaseException) -> None:
        from .errors import LiveActivityLimitError

        if isinstance(exc, LiveActivityLimitError):
            self.limit_reached = True
            logger.warning(
                "ActivitySmith: Live Activity limit reached (%s of %s active); %s for %s run %s "
                "skipped. Tracking resumes when a slot frees; failure pushes are still sent.",
                exc.active,
                exc.limit,
                what,
                run.pipeline_id,
                run.run_id,
            )
        else:
            logger.warning(
                "ActivitySmith: %s for %s run %s failed: %s", what, run.pipeline_id, run.run_id, exc
            )

    def _unchanged(self, run: RunState, body: dict[str, Any]) -> bool:
        with self._lock:
            return self._last_sent.get(run.key) == body

    def _remember(self, run: RunState, body: dict[str, Any] | None) -> None:
        with self._lock:
            if body is None:
                self._last_sent.pop(run.key, None)
            else:
                if len(self._last_sent) >= self._MAX_REMEMBERED:
                    self._last_sent.pop(next(iter(self._last_sent)))
                self._last_sent[run.key] = body


class RunReporter(_ReporterBase):
    """Sends a run's Live Activity and pushes with the sync client. Never raises."""

    def _get(self, final: bool = False) -> ActivitySmith:
        if self._client is None:
            self._client = self._source() if callable(self._source) else self._source
        return self._client.with_options(**self._policies(final))  # type: ignore[no-any-return]

    def update(self, run: RunState) -> bool:
        """PUT the absolute state of ``run``; identical consecutive states are sent once."""
        try:
            body = stream_request(run, self.options)
            if self._unchanged(run, body):
                return True
            done = body["content_state"]["current_step"]
            with self._progress.hold(run.key) as (last, record):
                if done < last:
                    logger.debug(
                        "ActivitySmith: stale update for %s skipped (%d < %d)", run.key, done, last
                    )
                    return True
                self._get().live_activities.stream(run.key, body)
                record(done)
            self.limit_reached = False
            self._remember(run, body)
            self._flush()
            return True
        except Exception as exc:
            self._warn("Live Activity update", run, exc)
            return False

    def finish(self, run: RunState) -> bool:
        """End the activity with the final state; start it first if no update ever landed."""
        try:
            with self._progress.hold(run.key) as (_, record):
                self._end(
                    self._get(final=True),
                    run.key,
                    stream_request(run, self.options),
                    end_request(run, self.options),
                )
                record(_Progress.ENDED)
            self._remember(run, None)
            self._flush()
            return True
        except Exception as exc:
            self._warn("final Live Activity state", run, exc)
            self._pending.save(
                run.key, stream_request(run, self.options), end_request(run, self.options)
            )
            return False

    def _end(
        self, client: ActivitySmith, key: str, put: dict[str, Any], end: dict[str, Any]
    ) -> None:
        from .errors import NotFoundError

        try:
            client.live_activities.end_stream(key, end)
        except NotFoundError:
            client.live_activities.stream(key, put)
            client.live_activities.end_stream(key, end)

    def _flush(self) -> None:
        """Deliver final states kept from earlier outages, now that the API answers."""
        for path, item in self._pending.items():
            try:
                self._end(self._get(), item["key"], item["put"], item["end"])
            except Exception as exc:
                logger.warning(
                    "ActivitySmith: kept final state of %s still not delivered: %s",
                    item.get("key"),
                    exc,
                )
                return
            self._pending.done(path)
            logger.info("ActivitySmith: delivered the kept final state of %s", item["key"])

    def _send_push(self, what: str, run: RunState, body: dict[str, Any]) -> bool:
        try:
            self._get().notifications.send(body)
            self._flush()
            return True
        except Exception as exc:
            self._warn(what, run, exc)
            return False

    def push_failure(
        self, run: RunState, step_name: str | None, error: object = None, log_url: str | None = None
    ) -> bool:
        """Push a step's (or the run's) final failure."""
        body = failure_push(run, step_name, error, log_url, self.options)
        return self._send_push("failure push", run, body)

    def push_retry(
        self, run: RunState, step_name: str, error: object = None, log_url: str | None = None
    ) -> bool:
        """Push that a step failed and will be retried."""
        body = failure_push(run, step_name, error, log_url, self.options, retrying=True)
        return self._send_push("retry push", run, body)

    def push_success(self, run: RunState) -> bool:
        """Push that the run succeeded."""
        return self._send_push("success push", run, success_push(run, self.options))

    def close(self) -> None:
        if self._client is not None and callable(self._source):
            self._client.close()
        self._client = None


class AsyncRunReporter(_ReporterBase):
    """The async mirror of :class:`RunReporter`. Never raises."""

    def _get(self, final: bool = False) -> AsyncActivitySmith:
        if self._client is None:
            self._client = self._source() if callable(self._source) else self._source
        return self._client.with_options(**self._policies(final))  # type: ignore[no-any-return]

    async def update(self, run: RunState) -> bool:
        """PUT the absolute state of ``run``; identical consecutive states are sent once."""
        try:
            body = stream_request(run, self.options)
            if self._unchanged(run, body):
                return True
            done = body["content_state"]["current_step"]
            with self._progress.hold(run.key) as (last, _):
                pass  # read only: an event loop must not hold a file lock across an await
            if done < last:
                return True
            await self._get().live_activities.stream(run.key, body)
            with self._progress.hold(run.key) as (last, record):
                record(max(done, last))
            self.limit_reached = False
            self._remember(run, body)
            await self._flush()
            return True
        except Exception as exc:
            self._warn("Live Activity update", run, exc)
            return False

    async def finish(self, run: RunState) -> bool:
        """End the activity with the final state; start it first if no update ever landed."""
        try:
            await self._end(
                self._get(final=True),
                run.key,
                stream_request(run, self.options),
                end_request(run, self.options),
            )
            self._remember(run, None)
            await self._flush()
            return True
        except Exception as exc:
            self._warn("final Live Activity state", run, exc)
            self._pending.save(
                run.key, stream_request(run, self.options), end_request(run, self.options)
            )
            return False

    async def _end(
        self, client: AsyncActivitySmith, key: str, put: dict[str, Any], end: dict[str, Any]
    ) -> None:
        from .errors import NotFoundError

        try:
            await client.live_activities.end_stream(key, end)
        except NotFoundError:
            await client.live_activities.stream(key, put)
            await client.live_activities.end_stream(key, end)

    async def _flush(self) -> None:
        """Deliver final states kept from earlier outages, now that the API answers."""
        for path, item in self._pending.items():
            try:
                await self._end(self._get(), item["key"], item["put"], item["end"])
            except Exception as exc:
                logger.warning(
                    "ActivitySmith: kept final state of %s still not delivered: %s",
                    item.get("key"),
                    exc,
                )
                return
            self._pending.done(path)
            logger.info("ActivitySmith: delivered the kept final state of %s", item["key"])

    async def _send_push(self, what: str, run: RunState, body: dict[str, Any]) -> bool:
        try:
            await self._get().notifications.send(body)
            await self._flush()
            return True
        except Exception as exc:
            self._warn(what, run, exc)
            return False

    async def push_failure(
        self, run: RunState, step_name: str | None, error: object = None, log_url: str | None = None
    ) -> bool:
        """Push a step's (or the run's) final failure."""
        body = failure_push(run, step_name, error, log_url, self.options)
        return await self._send_push("failure push", run, body)

    async def push_retry(
        self, run: RunState, step_name: str, error: object = None, log_url: str | None = None
    ) -> bool:
        """Push that a step failed and will be retried."""
        body = failure_push(run, step_name, error, log_url, self.options, retrying=True)
        return await self._send_push("retry push", run, body)

    async def push_success(self, run: RunState) -> bool:
        """Push that the run succeeded."""
        return await self._send_push("success push", run, success_push(run, self.options))

    async def aclose(self) -> None:
        if self._client is not None and callable(self._source):
            await self._client.aclose()
        self._client = None

"""The one run → Live Activity mapping, and the text of every push: pure functions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ._model import BAD_END, RunState, RunStatus, Step, StepStatus, TrackerOptions

END_BADGE: dict[RunStatus, tuple[str, str]] = {
    RunStatus.SUCCESS: ("Succeeded", "green"),
    RunStatus.FAILED: ("Failed", "red"),
    RunStatus.CRASHED: ("Crashed", "red"),
    RunStatus.CANCELLED: ("Cancelled", "gray"),
    RunStatus.TIMED_OUT: ("Timed out", "orange"),
}


@dataclass(frozen=True)
class Failure:
    """A step that failed (for good, or before a retry): what the push names."""

    step: str
    error: str | None = None
    log_url: str | None = None


def _color(step: Step, options: TrackerOptions) -> str:
    if step.status is StepStatus.SUCCESS:
        return options.success_color
    if step.status in (StepStatus.FAILED, StepStatus.UPSTREAM_FAILED):
        return options.failed_color if step.status is StepStatus.FAILED else options.skipped_color
    return options.skipped_color


def _names(names: list[str], limit: int = 2) -> str:
    counted = Counter(names)
    labels = [f"{n} ×{c}" if c > 1 else n for n, c in counted.items()]
    text = ", ".join(labels[:limit])
    return f"{text} +{len(labels) - limit}" if len(labels) > limit else text


def _subtitle(run: RunState, done: int, total: int) -> str:
    if run.status is RunStatus.RUNNING:
        retrying = [s.name for s in run.steps if s.status is StepStatus.RETRYING]
        running = [s.name for s in run.steps if s.status is StepStatus.RUNNING]
        if retrying:
            return f"Retrying {_names(retrying)}"
        if running:
            return f"Running {_names(running)}"
        return "Starting" if done == 0 else f"{done}/{total} done"
    failed = [s.name for s in run.steps if s.status is StepStatus.FAILED]
    label = END_BADGE[run.status][0]
    if failed and run.status is not RunStatus.SUCCESS:
        return f"{label}: {_names(failed)}"
    return f"{label} · {done}/{total} done"


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def title_of(run: RunState, options: TrackerOptions) -> str:
    return options.title or run.title or run.pipeline_id


def content_state(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    """The segmented_progress content state for ``run``."""
    finished = run.finished_steps
    declared = run.total_steps or options.total_steps or 0
    total = max(declared, len(run.steps), len(finished), 1)
    done = min(len(finished), total)
    if run.status is RunStatus.RUNNING and done >= total:
        done = total - 1  # never "N/N done" while the run is still going
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
        "title": title_of(run, options),
        "subtitle": subtitle,
        "type": "segmented_progress",
        "number_of_steps": total,
        "current_step": done,
        "step_colors": [_color(s, options) for s in finished[:done]],
        "color": options.failed_color if run.has_failure else options.accent_color,
        "step_color": options.retry_color
        if any(s.status is StepStatus.RETRYING for s in run.steps)
        else options.running_color,
    }
    if options.icon:
        state["icon"] = {"symbol": options.icon}
    if run.status is not RunStatus.RUNNING:
        label, color = END_BADGE[run.status]
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


def first_line(error: object) -> str | None:
    """The first line of an error (an exception gets its type name), at most 500 characters."""
    if error is None:
        return None
    text = str(error).strip() or type(error).__name__
    line = text.splitlines()[0].strip()
    if isinstance(error, BaseException) and not line.startswith(type(error).__name__):
        line = f"{type(error).__name__}: {line}"
    return line[:500] or None


def _push(options: TrackerOptions, **fields: Any) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if v is not None}
    if options.channels:
        body["target"] = {"channels": list(options.channels)}
    if options.interruption_level:
        body["interruption_level"] = options.interruption_level
    return body


def failure_push(
    run: RunState, failures: list[Failure], options: TrackerOptions, *, retrying: bool = False
) -> dict[str, Any]:
    """One push for the failures of a run gathered in one window (or the run's own failure).

    One failed step: its name, its error's first line, a link to its log. Several: one push
    that names them all ("3 tasks failed: a, b, c") and opens the run.
    """
    name = title_of(run, options)
    verb = "will retry" if retrying else "failed"
    if not failures:
        label = END_BADGE.get(run.status, ("failed", ""))[0].lower()
        return _push(
            options,
            title=f"{name}: {label}",
            subtitle=f"Run {run.run_id}",
            message="No error message",
            redirection=run.url,
        )
    steps = [f.step for f in failures]
    first = next((f for f in failures if f.error), failures[0])
    if len(set(steps)) == 1:
        title = f"{name}: {_names(steps, limit=1)} {verb}"
        message = first.error or "No error message"
        link = first.log_url if len(steps) == 1 else (first.log_url or run.url)
    else:
        count = len(steps)
        title = f"{name}: {count} tasks {verb}"
        message = f"{count} tasks {verb}: {_names(steps, limit=5)}"
        if first.error:
            message += f". {first.step}: {first.error}"
        link = run.url or first.log_url
    return _push(
        options,
        title=title,
        subtitle=f"Run {run.run_id}",
        message=message[:1000],
        redirection=link or run.url,
    )


def run_failure_push(run: RunState, error: object, options: TrackerOptions) -> dict[str, Any]:
    """The push for a run that failed, crashed or timed out with no step failure to name."""
    body = failure_push(run, [], options)
    body["message"] = first_line(error) or "No error message"
    return body


def success_push(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    total = max(run.total_steps or options.total_steps or 0, len(run.steps))
    return _push(
        options,
        title=f"{title_of(run, options)} succeeded",
        subtitle=f"Run {run.run_id}",
        message=f"{len(run.finished_steps)}/{total} steps done",
        redirection=run.url,
    )


def is_bad_end(status: RunStatus) -> bool:
    return status in BAD_END

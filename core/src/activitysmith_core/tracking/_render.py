"""The one run → Live Activity mapping, and the text of every push: pure functions."""

from __future__ import annotations

import itertools
import time
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


SUBTITLE_MAX = 60
"""Characters a Lock Screen line shows; longer subtitles are shortened, naming a count."""

_WORST = (
    StepStatus.FAILED,
    StepStatus.UPSTREAM_FAILED,
    StepStatus.NOT_RUN,
    StepStatus.SKIPPED,
    StepStatus.SUCCESS,
)


def aggregate(statuses: list[StepStatus]) -> StepStatus:
    """One status for several steps (a mapped task, a task group, a folded segment): when all
    are finished, the worst outcome; before that, retrying, running or pending."""
    if not statuses:
        return StepStatus.PENDING
    if all(s.is_finished for s in statuses):
        if all(s is StepStatus.SKIPPED for s in statuses):
            return StepStatus.SKIPPED
        for outcome in _WORST[:3]:
            if outcome in statuses:
                return outcome
        return StepStatus.SUCCESS
    if StepStatus.RETRYING in statuses:
        return StepStatus.RETRYING
    if StepStatus.RUNNING in statuses or any(s.is_finished for s in statuses):
        return StepStatus.RUNNING
    return StepStatus.PENDING


def _kind(char: str) -> int:
    return 0 if char.isalpha() else 1 if char.isdigit() else 2


def _at_boundary(name: str, cut: int) -> bool:
    """Whether ``name[cut:]`` starts a word or a number (``load_part_|01``, ``load|Part``)."""
    if cut == 0:
        return True
    before, char = name[cut - 1], name[cut]
    return char.isalnum() and (
        _kind(before) != _kind(char) or (before.islower() and char.isupper())
    )


def bucket_label(names: list[str]) -> str:
    """What a contiguous bucket of steps reads as: ``load_part_01–03`` (the common prefix, an
    en dash, the range of what differs, cut where a word or a number starts), else the first
    and last names (``extract–load``); one step is its own name."""
    if not names:
        return ""
    first, last = names[0], names[-1]
    if len(names) == 1 or first == last:
        return first
    cut = 0
    while cut < min(len(first), len(last)) and first[cut] == last[cut]:
        cut += 1
    while cut > 0 and not (
        cut < len(first)
        and cut < len(last)
        and _at_boundary(first, cut)
        and _at_boundary(last, cut)
    ):
        cut -= 1
    return f"{first}–{last[cut:]}"


def segments(run: RunState, options: TrackerOptions) -> list[Step]:
    """The segments drawn: one per step, or, above ``max_segments``, groups of steps (the
    steps' own groups where they fit, keeping the group's name, else contiguous buckets in the
    steps' order, labelled by ``bucket_label``)."""
    steps = run.steps
    limit = options.max_segments
    if len(steps) <= limit:
        return steps
    groups: dict[str, list[Step]] = {}
    if all(s.group for s in steps) and len({s.group for s in steps}) <= limit:
        for step in steps:
            groups.setdefault(str(step.group), []).append(step)
    else:
        # Exactly ``limit`` buckets, as even as can be: the bar keeps its length as steps grow.
        bounds = [i * len(steps) // limit for i in range(limit + 1)]
        for number, (start, stop) in enumerate(itertools.pairwise(bounds), 1):
            chunk = steps[start:stop]
            name = bucket_label([s.name for s in chunk])
            if name in groups:  # a name the steps repeat: a segment's name is its identity
                name = f"{name} ({number})"
            groups[name] = chunk
    return [
        Step(name, aggregate([s.status for s in chunk]), name, sum(s.active for s in chunk))
        for name, chunk in groups.items()
    ]


def _color(step: Step, options: TrackerOptions) -> str:
    if step.status is StepStatus.SUCCESS:
        return options.success_color
    if step.status is StepStatus.FAILED:
        return options.failed_color
    return options.skipped_color


def _names(names: list[str], limit: int = 2) -> str:
    counted = Counter(names)
    labels = [f"{n} ×{c}" if c > 1 else n for n, c in counted.items()]
    text = ", ".join(labels[:limit])
    return f"{text} +{len(labels) - limit}" if len(labels) > limit else text


def _tasks(steps: list[Step]) -> list[tuple[str, str]]:
    """Each task's name once, in order, with how many of it run (``" ×4"``): a mapped task's
    running instances, or steps of one name."""
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.name] = counts.get(step.name, 0) + max(step.active, 1)
    return [(name, f" ×{n}" if n > 1 else "") for name, n in counts.items()]


def _line(head: str, tasks: list[tuple[str, str]], tail: str = "") -> str:
    """``head`` and up to three task names, the rest counted ("a, b, c +6"), then ``tail``,
    within a Lock Screen line: fewer names when they do not fit, and the one name shortened
    (keeping its count, the number left and ``tail``) when even it does not."""
    for shown in range(min(len(tasks), 3), 0, -1):
        rest = len(tasks) - shown
        text = head + ", ".join(n + c for n, c in tasks[:shown])
        text += (f" +{rest}" if rest else "") + tail
        if len(text) <= SUBTITLE_MAX:
            return text
    name, count = tasks[0]
    rest = len(tasks) - 1
    end = count + (f" +{rest}" if rest else "") + tail
    room = SUBTITLE_MAX - len(head) - len(end) - 1
    if room >= 4:
        return f"{head}{name[:room]}…{end}"
    text = head + name + end
    return text[: SUBTITLE_MAX - 1] + "…"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"{minutes} min"
    return f"{round(minutes / 60)} h"


def timing(run: RunState, options: TrackerOptions, now: float | None = None) -> str | None:
    """What the clock says for a running run: its deadline, else the time left from
    ``expected_duration`` when declared, else estimated from recent runs; minute resolution, so
    it rarely changes."""
    if run.status is not RunStatus.RUNNING or run.settled:
        return None
    now = time.time() if now is None else now
    if not options.time_left:
        return None
    if run.deadline_at is not None:
        left = run.deadline_at - now
        return f"deadline in {_duration(left)}" if left > 0 else "deadline passed"
    expected = options.expected_duration or run.expected_seconds
    if not expected or run.started_at is None:
        return None
    left = run.started_at + expected - now
    if left <= 0:
        return "running longer than usual"
    return f"about {_duration(left)} left" if left >= 60 else "less than a minute left"


def _subtitle(run: RunState, done: int, total: int, clock: str | None) -> str:
    """The Lock Screen line: the running (or retrying, or failed) tasks by name — the steps',
    never the folded segments' — else the count done; with the clock."""
    suffix = f" · {clock}" if clock else ""
    if run.status is RunStatus.RUNNING:
        for verb, status in (("Retrying", StepStatus.RETRYING), ("Running", StepStatus.RUNNING)):
            tasks = _tasks([s for s in run.steps if s.status is status])
            if tasks:
                return _line(f"{verb} ", tasks, suffix)
        if done == 0 and not clock:
            return "Starting"
        return f"{done}/{total}{' done' if not clock else ''}{suffix}"
    failed = [Step(s.name) for s in run.steps if s.status is StepStatus.FAILED]
    label = END_BADGE[run.status][0]
    if failed and run.status is not RunStatus.SUCCESS:
        return _line(f"{label}: ", _tasks(failed))
    return f"{label} · {done}/{total} done"


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def title_of(run: RunState, options: TrackerOptions) -> str:
    return options.title or run.title or run.pipeline_id


def content_state(
    run: RunState,
    options: TrackerOptions,
    order: list[str] | None = None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The segmented_progress content state for ``run``.

    ``order`` lists segment names in the order they finished (the engine remembers it), so
    each update only appends to what the phone already shows; without it, the steps' order.
    """
    shown = segments(run, options)
    finished = [s for s in shown if s.status.is_finished]
    if order:
        rank = {name: i for i, name in enumerate(order)}
        finished.sort(key=lambda s: rank.get(s.name, len(rank)))
    folded = len(shown) < len(run.steps)
    declared = 0 if folded else run.total_steps or options.total_steps or 0
    total = max(declared, len(shown), len(finished), 1)
    done = min(len(finished), total)
    if run.status is RunStatus.RUNNING and done >= total and not run.settled:
        done = total - 1  # never "N/N done" while the run is still going
    clock = timing(run, options, now)
    subtitle = _subtitle(run, done, total, clock)
    if options.subtitle_template:
        subtitle = options.subtitle_template.format_map(
            _Fields(
                status=subtitle,
                done=done,
                total=total,
                time_left=clock or "",
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


def stream_request(
    run: RunState, options: TrackerOptions, order: list[str] | None = None
) -> dict[str, Any]:
    """The body of the stream PUT for ``run``."""
    body: dict[str, Any] = {"content_state": content_state(run, options, order)}
    if action := _action(run):
        body["action"] = action
    if options.channels:
        body["channels"] = list(options.channels)
    return body


def end_request(
    run: RunState, options: TrackerOptions, order: list[str] | None = None
) -> dict[str, Any]:
    """The body of the stream DELETE that ends ``run`` with its final state."""
    state = content_state(run, options, order)
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


def _run_push(
    run: RunState, options: TrackerOptions, title: str, message: str, link: str | None = None
) -> dict[str, Any]:
    """A push about ``run``: subtitled with its run id, opening ``link`` or else the run."""
    return _push(
        options,
        title=title,
        subtitle=f"Run {run.run_id}",
        message=message,
        redirection=link or run.url,
    )


def _push(options: TrackerOptions, **fields: Any) -> dict[str, Any]:
    link = fields.get("redirection")
    if not (isinstance(link, str) and link.lower().startswith(("http://", "https://"))):
        fields["redirection"] = None  # a link the API would refuse must not lose the push
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
        return _run_push(run, options, f"{name}: {label}", "No error message")
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
    return _run_push(run, options, title, message[:1000], link)


def run_failure_push(run: RunState, error: object, options: TrackerOptions) -> dict[str, Any]:
    """The push for a run that failed, crashed or timed out with no step failure to name."""
    body = failure_push(run, [], options)
    body["message"] = first_line(error) or "No error message"
    return body


def success_push(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    total = max(run.total_steps or options.total_steps or 0, len(run.steps))
    return _run_push(
        run,
        options,
        f"{title_of(run, options)} succeeded",
        f"{len(run.finished_steps)}/{total} steps done",
    )


def deadline_push(run: RunState, options: TrackerOptions) -> dict[str, Any]:
    """The push for a run still going when its deadline passed."""
    when = ""
    if run.deadline_at is not None:
        when = time.strftime(" %H:%M", time.gmtime(run.deadline_at))
    return _run_push(
        run,
        options,
        f"{title_of(run, options)} missed its{when} deadline",
        f"Still running: {len(run.finished_steps)}/{len(run.steps)} steps done",
    )


def is_bad_end(status: RunStatus) -> bool:
    return status in BAD_END

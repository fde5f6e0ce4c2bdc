"""Prefect's states and names as the engine's: step and run statuses, messages, task names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from activitysmith_core.tracking import RunStatus, StepStatus, TrackerOptions

TAG = "activitysmith-group:"
"""A flow run tagged ``activitysmith-group:<name>`` is in the group ``<name>``."""

FINAL_TYPES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
"""Prefect state types a task run or a subflow run does not leave (but for a retry, which is a
later state)."""

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


def kind(obj: Any) -> str:
    """A state's (or a run's) type as text: ``COMPLETED``, ``FAILED``, ..."""
    value = getattr(obj, "type", None) or getattr(obj, "state_type", None)
    return str(getattr(value, "value", value) or "")


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
    value = kind(state)
    if value == "COMPLETED":
        return RunStatus.SUCCESS
    if value == "CRASHED":
        return RunStatus.CRASHED
    if value in ("CANCELLED", "CANCELLING"):
        return RunStatus.CANCELLED
    text = f"{getattr(state, 'name', '')} {getattr(state, 'message', '') or ''}".lower()
    return RunStatus.TIMED_OUT if "timed out" in text or "timeout" in text else RunStatus.FAILED


def state_message(text: object) -> str | None:
    """A state's message without Prefect's "... encountered an exception" prefix."""
    message = str(text or "").strip()
    for prefix in _STATE_PREFIXES:
        message = message.removeprefix(prefix)
    return message or None


def message(state: Any) -> str | None:
    """The message of a state object."""
    return state_message(getattr(state, "message", "") if state is not None else "")


def task_name(name: str, dynamic_key: str) -> str:
    """The task's own name: a task run is named ``<task>-<dynamic key>`` (or its first three
    characters) unless ``task_run_name`` renamed it."""
    for suffix in (dynamic_key, dynamic_key[:3]):
        if suffix and name.endswith(f"-{suffix}") and len(name) > len(suffix) + 1:
            return name[: -len(suffix) - 1]
    return name


def timestamp(value: Any) -> float | None:
    """Seconds since the epoch of a datetime (or an ISO text), else None."""
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return float(value.timestamp()) if value is not None else None
    except Exception:
        return None


def ui_url(obj: Any) -> str | None:
    """The run's page in the Prefect UI, when ``PREFECT_UI_URL`` is known."""
    try:
        from prefect.utilities.urls import url_for

        url = url_for(obj)
        return str(url) if url else None
    except Exception:
        return None


def group_of(options: TrackerOptions, flow_run: Any) -> str | None:
    """The run's group: the tracker's ``group`` option, else its ``activitysmith-group:`` tag."""
    if options.group is not None:
        return options.group
    for tag in getattr(flow_run, "tags", None) or ():
        if isinstance(tag, str) and tag.startswith(TAG) and tag[len(TAG) :].strip():
            return tag[len(TAG) :].strip()
    return None

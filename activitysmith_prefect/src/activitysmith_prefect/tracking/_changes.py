"""A task-run change as every source gives it, built in one place.

The in-process fast path, the event stream and the API reads each see a task run (or a subflow
call, as its parent task run) enter a state, in their own shapes: a task-run object, a
``prefect.task-run.*`` event, a child flow run. Each turns it into a :class:`TaskRunChange`
through :func:`task_run_change`, which holds what they share: the task's own name, a subflow
call's key and name, the timestamp and event id when the source has none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from activitysmith_core.tracking import StepStatus

from ._states import kind, message, state_message, task_name, task_step_status, timestamp, ui_url


@dataclass(frozen=True)
class TaskRunChange:
    """A task run (or a subflow call, as its parent task run) entered a state."""

    flow_run_id: str
    task_run_id: str
    name: str
    """The task run's name (``extract-43f``); a subflow call: the child flow's name."""
    task: str
    """The task's own name (``extract``), or the child flow's name."""
    task_key: str
    state_type: str
    state_name: str | None
    message: str | None
    occurred: float
    """The state's timestamp (seconds since the epoch): orders the changes of a task run."""
    event_id: str
    """The state's id, which is also the id of Prefect's event for it."""
    run_count: int = 0
    error: object = None
    """The exception itself, when the change was seen in the flow's own process."""
    subflow: bool = False
    url: str | None = None

    @property
    def status(self) -> StepStatus:
        return task_step_status(self.state_type, self.state_name)


def task_run_change(
    *,
    flow_run_id: object,
    task_run_id: object,
    name: str,
    state_type: str,
    state_name: str | None,
    message: str | None,
    occurred: float | None,
    event_id: object = None,
    task: str | None = None,
    dynamic_key: str = "",
    task_key: str = "",
    run_count: int = 0,
    error: object = None,
    subflow: bool = False,
    url: str | None = None,
) -> TaskRunChange:
    """The one constructor: ``task`` defaults to the task's own name (``name`` without its
    dynamic key); a subflow call is named after its flow, with the key ``subflow``; a change
    without a timestamp happened now, one without an id is named by its task run, state and
    time."""
    task = task or task_name(name, dynamic_key)
    stamp = time.time() if occurred is None else occurred
    ident = str(event_id or "") or f"{task_run_id}|{state_type}|{stamp}"
    return TaskRunChange(
        flow_run_id=str(flow_run_id),
        task_run_id=str(task_run_id),
        name=task if subflow else name,
        task=task,
        task_key="subflow" if subflow else task_key,
        state_type=state_type,
        state_name=state_name,
        message=message,
        occurred=stamp,
        event_id=ident,
        run_count=run_count,
        error=error,
        subflow=subflow,
        url=url,
    )


def change_of(task_run: Any, state: Any, error: object = None) -> TaskRunChange | None:
    """The change of a task-run object (the flow's process, or a read from the API)."""
    if state is None:
        return None
    details = getattr(state, "state_details", None)
    subflow = getattr(details, "child_flow_run_id", None) is not None
    name = str(task_run.name)
    task = task_name(name, str(getattr(task_run, "dynamic_key", "") or ""))
    if task == name and not subflow:
        try:
            from prefect.context import TaskRunContext

            context = TaskRunContext.get()
            if context is not None and context.task_run.id == task_run.id:
                task = str(context.task.name)
        except Exception:
            pass
    return task_run_change(
        flow_run_id=task_run.flow_run_id,
        task_run_id=task_run.id,
        name=name,
        task=task,
        task_key=str(getattr(task_run, "task_key", "") or ""),
        state_type=kind(state),
        state_name=getattr(state, "name", None),
        message=message(state),
        occurred=timestamp(getattr(state, "timestamp", None)),
        event_id=getattr(state, "id", None),
        run_count=int(getattr(task_run, "run_count", 0) or 0),
        error=error,
        subflow=subflow,
        url=ui_url(task_run),
    )


def subflow_change(
    flow_run_id: str, task_run_id: str, name: str, state: Any, *, url: str | None, created: bool
) -> TaskRunChange:
    """A subflow call's change, from its child run: ``created`` (pending) or its ``state``."""
    return task_run_change(
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
        name=name,
        state_type="PENDING" if created else kind(state),
        state_name="Pending" if created else getattr(state, "name", None),
        message=None if created else message(state),
        occurred=timestamp(getattr(state, "timestamp", None)),
        event_id=f"{task_run_id}|created" if created else getattr(state, "id", None),
        subflow=True,
        url=url,
    )


def _label(resource: Any, name: str) -> str | None:
    try:
        value = resource.get(name)
    except Exception:
        return None
    return None if value is None else str(value)


def event_change(event: Any, flow_run_id: str) -> TaskRunChange | None:
    """The change a ``prefect.task-run.<State>`` event reports (None for any other event, or a
    heartbeat)."""
    resource = event.resource
    state_type = _label(resource, "prefect.state-type")
    if not state_type:
        return None
    kind_, _, ident = str(resource.id).rpartition(".")
    if kind_ != "prefect.task-run":
        return None
    payload = (event.payload or {}).get("task_run") or {}
    run_count = _label(resource, "prefect.run-count") or "0"
    return task_run_change(
        flow_run_id=flow_run_id,
        task_run_id=ident,
        name=str(payload.get("name") or _label(resource, "prefect.resource.name") or ident),
        dynamic_key=str(payload.get("dynamic_key") or ""),
        task_key=str(payload.get("task_key") or ""),
        state_type=state_type,
        state_name=_label(resource, "prefect.state-name"),
        message=state_message(_label(resource, "prefect.state-message")),
        occurred=timestamp(event.occurred),
        event_id=event.id,
        run_count=int(run_count) if run_count.isdigit() else 0,
        url=run_url("task-run", ident),
    )


def run_url(kind_: str, ident: str) -> str | None:
    """The page of a task run or flow run (by id) in the Prefect UI, when it is known."""
    try:
        from prefect.utilities.urls import url_for

        return url_for(kind_, obj_id=ident)
    except Exception:
        return None

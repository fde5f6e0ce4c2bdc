"""The provider's listener: it only hands events over, and never waits on the network.

Tracked DAGs are those declared with ``ActivitySmithDagRunTracker`` and those carrying the tag
``[activitysmith] tag`` (default ``activitysmith``). Where each hook runs and what it does:

- scheduler (``on_dag_run_running`` / ``_success`` / ``_failed``): queue the run event for the
  process's watcher thread, which reads task states with its own database session and drives
  the core's engine. Nothing on the scheduler loop's thread touches the database or the network.
- task processes (``on_task_instance_failed``): leave the error's first line in an XCom for the
  watcher's failure push (one local call to the supervisor, on failure only). Task processes send
  nothing to ActivitySmith.
- ``airflow dags test`` / ``dag.test()`` (one process, tasks in process): the same watcher runs
  there; task events wake it, and the run's end waits for its final state and pushes under one
  total deadline (``[activitysmith] deadline``), the one flush of that process.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger("activitysmith_airflow.listeners")

_LONG_LIVED: list[str] = []


def _can_watch() -> bool:
    """Whether this process may read the metadata database (a scheduler, ``dags test``), as
    opposed to a task process, where Airflow blocks it."""
    settings = sys.modules.get("airflow.settings")
    if settings is None or getattr(settings, "Session", None) is None:
        return False
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(runner, "SUPERVISOR_COMMS", None) if runner else None
    return comms is None or "InProcess" in type(comms).__name__


def _tracked(dag: Any) -> bool:
    from .tracking import spec_of

    return spec_of(dag) is not None


def _record_error(task_instance: Any, error: Any) -> dict[str, Any] | None:
    """Leave the failure's first line where the run's watcher finds it."""
    from activitysmith_core.tracking import first_line

    from .tracking import ERROR_XCOM_KEY

    line = first_line(error)
    if not line:
        return None
    failure = {
        "task_id": task_instance.task_id,
        "map_index": getattr(task_instance, "map_index", -1)
        if getattr(task_instance, "map_index", None) is not None
        else -1,
        "error": line,
    }
    try:
        task_instance.xcom_push(key=ERROR_XCOM_KEY, value={"error": line})
    except Exception as exc:
        log.debug("ActivitySmith: could not record the error (%s)", exc)
    return failure


def _task_event(task_instance: Any, *, error: Any = None, failed: bool = False) -> None:
    try:
        dag = getattr(getattr(task_instance, "task", None), "dag", None)
        if not _tracked(dag):
            return
        failure = _record_error(task_instance, error) if failed else None
        if _can_watch():
            from ._watcher import WATCHER

            WATCHER.submit(
                "poke", task_instance.dag_id, task_instance.run_id, dag=dag, failure=failure
            )
    except Exception as exc:
        log.warning("ActivitySmith listener: task event skipped: %s", exc)


def _dag_event(dag_run: Any, kind: str, status: Any = None) -> None:
    try:
        dag = getattr(dag_run, "dag", None)
        if dag is not None and not _tracked(dag):
            return
        from ._watcher import WATCHER

        done = WATCHER.submit(
            kind,
            dag_run.dag_id,
            dag_run.run_id,
            dag=dag,
            status=status,
            logical_date=getattr(dag_run, "logical_date", None),
        )
        if kind == "end" and not _LONG_LIVED:
            _flush_run(done)
    except Exception as exc:
        log.warning("ActivitySmith listener: DAG run event skipped: %s", exc)


def _flush_run(done: Any) -> None:
    """The end of a run in a process that exists for it (``dags test``): wait for its final
    state and pushes, all under one deadline."""
    import time

    from activitysmith_core.tracking import Sender

    from .tracking import TrackingSpec

    deadline = TrackingSpec.from_config().options.deadline
    end = time.monotonic() + deadline
    done.wait(deadline)
    Sender.flush_all(max(0.0, end - time.monotonic()))


@hookimpl
def on_starting(component: Any) -> None:
    if type(component).__name__ != "TaskRunnerMarker":
        _LONG_LIVED.append(type(component).__name__)


@hookimpl
def before_stopping(component: Any) -> None:
    if type(component).__name__ == "TaskRunnerMarker":
        return
    try:
        from activitysmith_core.tracking import Sender

        Sender.flush_all()
    except Exception as exc:  # pragma: no cover
        log.warning("ActivitySmith listener: final flush skipped: %s", exc)


@hookimpl
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _task_event(task_instance)


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _task_event(task_instance)


@hookimpl
def on_task_instance_skipped(previous_state: Any, task_instance: Any) -> None:
    _task_event(task_instance)


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any = None) -> None:
    _task_event(task_instance, error=error, failed=True)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    _dag_event(dag_run, "start")


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    from activitysmith_core.tracking import RunStatus

    _dag_event(dag_run, "end", RunStatus.SUCCESS)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    from activitysmith_core.tracking import RunStatus

    timed_out = "timed out" in str(msg or "").lower().replace("_", " ")
    status = RunStatus.TIMED_OUT if timed_out else RunStatus.FAILED
    _dag_event(dag_run, "end", status)

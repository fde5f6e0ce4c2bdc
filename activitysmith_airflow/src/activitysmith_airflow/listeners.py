"""The provider's listener: it only hands events over, and never waits on the network.

Tracked DAGs are those declared with ``ActivitySmithDagRunTracker`` and those carrying the tag
``[activitysmith] tag`` (default ``activitysmith``). Where each hook runs and what it does:

- scheduler (``on_starting`` of its job, ``on_dag_run_running`` / ``_success`` / ``_failed``):
  the process's watcher thread starts with the scheduler and writes the tracked runs it holds a
  lease for (``_watcher``, ``_lease``); run events only wake it. Nothing on the scheduler loop's
  thread touches the database or the network.
- API server (a run's state set from the UI or the REST API): nothing. The run's writer (a
  scheduler's watcher) sees the committed end in its next read and sends the final state, so
  the request never waits on ActivitySmith.
- task processes (``on_task_instance_failed``): leave the error's first line in an XCom for the
  writer's failure push (one local call to the supervisor, on failure only). Task processes send
  nothing to ActivitySmith.
- ``airflow dags test`` / ``dag.test()`` (runs triggered by ``test``, tasks in process): the
  process is the run's only writer; task events wake its watcher, and the run's end waits for
  its final state and pushes under one total deadline (``[activitysmith] deadline``), the one
  flush of that process.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger("activitysmith_airflow.listeners")


def _comms() -> Any:
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) if runner else None


def _in_process_tasks() -> bool:
    """Whether tasks run in this very process (``dags test`` / ``dag.test()``)."""
    return "InProcess" in type(_comms()).__name__


def _tracked(dag: Any) -> bool:
    from .tracking import spec_of

    return spec_of(dag) is not None


def _is_test_run(dag_run: Any) -> bool:
    """A run of ``dags test`` / ``dag.test()``: written by the process that runs it."""
    triggered = getattr(dag_run, "triggered_by", None)
    return str(getattr(triggered, "value", triggered) or "") == "test"


def _record_error(task_instance: Any, error: Any) -> dict[str, Any] | None:
    """Leave the failure's first line where the run's writer finds it."""
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
        if _comms() is None:
            return  # not a task process (the API server marking tasks, a scheduler)
        dag = getattr(getattr(task_instance, "task", None), "dag", None)
        if not _tracked(dag):
            return
        failure = _record_error(task_instance, error) if failed else None
        if _in_process_tasks():
            from ._metrics import connect
            from ._watcher import WATCHER

            connect()
            WATCHER.submit(
                "poke",
                task_instance.dag_id,
                task_instance.run_id,
                dag=dag,
                failure=failure,
                local=True,
            )
    except Exception as exc:
        log.warning("ActivitySmith listener: task event skipped: %s", exc)


def _dag_event(dag_run: Any, kind: str, status: Any = None) -> None:
    try:
        dag = getattr(dag_run, "dag", None)
        if dag is not None and not _tracked(dag):
            return
        from ._metrics import connect
        from ._watcher import WATCHER

        local = _is_test_run(dag_run)
        if not local and not WATCHER.is_scheduler():
            return  # e.g. the API server: the run's writer reads the committed end itself
        connect()
        done = WATCHER.submit(
            kind,
            dag_run.dag_id,
            dag_run.run_id,
            dag=dag,
            status=status,
            logical_date=getattr(dag_run, "logical_date", None),
            attempt=int(getattr(dag_run, "clear_number", 0) or 0),
            version=getattr(dag_run, "created_dag_version_id", None),
            local=local,
        )
        if kind == "end" and local:
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
    if type(component).__name__ == "TaskRunnerMarker" or not hasattr(component, "job_type"):
        return
    try:
        from ._metrics import connect
        from ._watcher import WATCHER

        connect()
        WATCHER.serve(component)  # writes runs only if the job is a scheduler
    except Exception as exc:  # pragma: no cover
        log.warning("ActivitySmith listener: watcher not started: %s", exc)


@hookimpl
def before_stopping(component: Any) -> None:
    if type(component).__name__ == "TaskRunnerMarker":
        return
    try:
        from activitysmith_core.tracking import Sender

        from ._watcher import WATCHER

        if WATCHER.is_scheduler():
            WATCHER.stop()  # flushes, then gives its runs up to the other schedulers
        else:
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

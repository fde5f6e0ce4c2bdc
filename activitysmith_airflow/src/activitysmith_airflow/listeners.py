"""Listener that tracks, with no code change, every DAG carrying the configured tag.

Configure with ``[activitysmith] tag`` (default ``activitysmith``), ``conn_id``
(default ``activitysmith_default``) and ``granularity`` (``task`` or ``task_group``), e.g.
``AIRFLOW__ACTIVITYSMITH__TAG=phone``. DAGs that already use ``ActivitySmithDagRunTracker``
callbacks are left to them. Never raises into Airflow.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger("activitysmith_airflow.listeners")


def _conf(key: str, default: str) -> str:
    try:
        from airflow.configuration import conf

        return str(conf.get("activitysmith", key, fallback=default) or default)
    except Exception:  # pragma: no cover
        return default


@lru_cache(maxsize=1)
def _tracker() -> Any:
    from .tracking import ActivitySmithDagRunTracker

    granularity = _conf("granularity", "task")
    return ActivitySmithDagRunTracker(
        activitysmith_conn_id=_conf("conn_id", "activitysmith_default"),
        granularity=granularity if granularity in ("task", "task_group") else "task",  # type: ignore[arg-type]
    )


def _tracked(dag: Any) -> bool:
    if dag is None:
        return False
    from .tracking import tracked_by_callbacks

    tag = _conf("tag", "activitysmith")
    return tag in set(getattr(dag, "tags", None) or ()) and not tracked_by_callbacks(
        getattr(dag, "task_dict", {}).values()
    )


def _task_event(task_instance: Any, *, failed: bool = False, error: Any = None) -> None:
    try:
        task = getattr(task_instance, "task", None)
        dag = getattr(task, "dag", None)
        if not _tracked(dag):
            return
        tracker = _tracker()
        run = tracker.run_state(dag, task_instance.dag_id, task_instance.run_id)
        reporter = tracker.reporter()
        reporter.update(run)
        if failed:
            state = str(
                getattr(
                    getattr(task_instance, "state", None),
                    "value",
                    getattr(task_instance, "state", ""),
                )
            )
            log_url = getattr(task_instance, "log_url", None)
            if state == "up_for_retry":
                if tracker.options.push_on_retry:
                    reporter.push_retry(run, task_instance.task_id, error, log_url)
            elif tracker.options.push_on_failure:
                reporter.push_failure(run, task_instance.task_id, error, log_url)
    except Exception as exc:
        log.warning("ActivitySmith listener: task event skipped: %s", exc)


def _dag_of(dag_run: Any) -> Any:
    dag = getattr(dag_run, "dag", None)
    if dag is not None:
        return dag
    from airflow.models.serialized_dag import SerializedDagModel

    return SerializedDagModel.get_dag(dag_run.dag_id)


def _dag_event(dag_run: Any, success: bool) -> None:
    try:
        from activitysmith_core.tracking import RunStatus

        dag = _dag_of(dag_run)
        if not _tracked(dag):
            return
        status = RunStatus.SUCCESS if success else RunStatus.FAILED
        _tracker().finish(
            dag, dag_run.dag_id, dag_run.run_id, status, getattr(dag_run, "logical_date", None)
        )
    except Exception as exc:
        log.warning("ActivitySmith listener: DAG run event skipped: %s", exc)


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
    _task_event(task_instance, failed=True, error=error)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _dag_event(dag_run, success=True)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _dag_event(dag_run, success=False)

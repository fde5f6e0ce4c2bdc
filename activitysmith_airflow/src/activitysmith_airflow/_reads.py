"""The metadata-database reads of a watcher tick: plain functions over a session, small records.

Each takes the (dag_id, run_id) pairs of the runs a tick looks at and returns plain named
tuples, so the watcher's logic is testable without a database and each read is measurable on
its own (``bench/watcher_reads.py``). A task instance's ``map_index`` is ``-1`` when unmapped.

Task instances are read by task, not by instance: ``task_counts`` gives each task's instances
per state (the bar, the running count of a mapped task), ``task_changes`` only the instances
failed, retrying or changed since the previous read (failures, retries), so a tick costs rows
by tasks and changes however wide a mapped task is. ``task_states`` (every instance) serves a
run's first read and the tasks whose try numbers grew more than the changes explain.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .tracking import ERROR_XCOM_KEY

CHANGE_MARGIN = timedelta(seconds=5)
"""How far before the previous read a change is looked for: ``updated_at`` is the writing
process's clock (a scheduler or API server on another host)."""

Pair = tuple[str, str]
ErrorKey = tuple[str, str, str, int]
"""(dag_id, run_id, task_id, map_index) of a task instance."""


class RunRow(NamedTuple):
    """A DAG run as the database has it."""

    dag_id: str
    run_id: str
    id: int
    state: Any
    start_date: Any
    end_date: Any
    clear_number: int | None


class TaskRow(NamedTuple):
    """One task instance's state and try number."""

    task_id: str
    map_index: int
    state: str
    try_number: int


def value(state: Any) -> str:
    """An Airflow state (enum, string or None) as its string."""
    return str(getattr(state, "value", state) or "")


def pairs(keys: Iterable[tuple[Any, ...]]) -> list[Pair]:
    """The distinct (dag_id, run_id) of run keys, sorted."""
    return sorted({(k[0], k[1]) for k in keys})


def _index(map_index: Any) -> int:
    return int(map_index) if map_index is not None else -1


def run_rows(session: Any, wanted: list[Pair]) -> dict[Pair, RunRow]:
    """The runs' rows (a deleted run is missing)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select, tuple_

    if not wanted:
        return {}
    query = select(
        DagRun.dag_id,
        DagRun.run_id,
        DagRun.id,
        DagRun.state,
        DagRun.start_date,
        DagRun.end_date,
        DagRun.clear_number,
    ).where(tuple_(DagRun.dag_id, DagRun.run_id).in_(wanted))
    return {(r[0], r[1]): RunRow(*r) for r in session.execute(query).all()}


def task_states(session: Any, wanted: list[Pair]) -> dict[Pair, list[TaskRow]]:
    """Every task instance of the runs."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select, tuple_

    found: dict[Pair, list[TaskRow]] = {}
    if not wanted:
        return found
    query = select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.try_number).where(
        tuple_(TI.dag_id, TI.run_id).in_(wanted)
    )
    for dag_id, run_id, task_id, map_index, state, tries in session.execute(query).all():
        found.setdefault((dag_id, run_id), []).append(
            TaskRow(task_id, _index(map_index), value(state), int(tries or 0))
        )
    return found


class TaskCount(NamedTuple):
    """How many instances of a task are in a state, and the sum of their try numbers."""

    task_id: str
    state: str
    instances: int
    tries: int


def task_counts(session: Any, wanted: list[Pair]) -> dict[Pair, list[TaskCount]]:
    """Each task's instances per state (one row per task and state)."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import func, select, tuple_

    found: dict[Pair, list[TaskCount]] = {}
    if not wanted:
        return found
    query = (
        select(
            TI.dag_id,
            TI.run_id,
            TI.task_id,
            TI.state,
            func.count(),
            func.coalesce(func.sum(TI.try_number), 0),
        )
        .where(tuple_(TI.dag_id, TI.run_id).in_(wanted))
        .group_by(TI.dag_id, TI.run_id, TI.task_id, TI.state)
    )
    for dag_id, run_id, task_id, state, count, tries in session.execute(query).all():
        found.setdefault((dag_id, run_id), []).append(
            TaskCount(task_id, value(state), int(count), int(tries or 0))
        )
    return found


def task_changes(session: Any, wanted: list[Pair], since: datetime) -> dict[Pair, list[TaskRow]]:
    """The instances failed or retrying, and those changed (``updated_at``) since ``since``."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import or_, select, tuple_

    found: dict[Pair, list[TaskRow]] = {}
    if not wanted:
        return found
    query = select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.try_number).where(
        tuple_(TI.dag_id, TI.run_id).in_(wanted),
        or_(TI.state.in_(("failed", "up_for_retry")), TI.updated_at >= since),
    )
    return _rows(session.execute(query).all(), found)


def tasks_rows(session: Any, tasks: list[tuple[str, str, str]]) -> dict[Pair, list[TaskRow]]:
    """Every instance of the (dag_id, run_id, task_id) tasks."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select, tuple_

    found: dict[Pair, list[TaskRow]] = {}
    if not tasks:
        return found
    query = select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.try_number).where(
        tuple_(TI.dag_id, TI.run_id, TI.task_id).in_(sorted(set(tasks)))
    )
    return _rows(session.execute(query).all(), found)


def _rows(rows: Iterable[Any], found: dict[Pair, list[TaskRow]]) -> dict[Pair, list[TaskRow]]:
    for dag_id, run_id, task_id, map_index, state, tries in rows:
        found.setdefault((dag_id, run_id), []).append(
            TaskRow(task_id, _index(map_index), value(state), int(tries or 0))
        )
    return found


def error_text(raw: Any) -> str | None:
    """The error line of an ``activitysmith_error`` XCom value, however it was serialized."""
    for _ in range(3):
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode("utf-8", "replace")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return raw or None
            continue
        break
    if isinstance(raw, dict):
        found = raw.get("error")
        return str(found) if found else None
    return str(raw) if raw else None


def xcom_errors(session: Any, wanted: list[Pair]) -> dict[Pair, dict[tuple[str, int], str]]:
    """The errors failed task processes of the runs left (``ERROR_XCOM_KEY``), per run and
    (task_id, map_index)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select, tuple_

    errors: dict[Pair, dict[tuple[str, int], str]] = {}
    if not wanted:
        return errors
    query = select(
        XComModel.dag_id,
        XComModel.run_id,
        XComModel.task_id,
        XComModel.map_index,
        XComModel.value,
    ).where(
        tuple_(XComModel.dag_id, XComModel.run_id).in_(wanted),
        XComModel.key == ERROR_XCOM_KEY,
    )
    for dag_id, run_id, task_id, map_index, raw in session.execute(query).all():
        line = error_text(raw)
        if line:
            errors.setdefault((dag_id, run_id), {})[(task_id, _index(map_index))] = line
    return errors


def deadline(session: Any, dagrun_id: int) -> float | None:
    """The run's earliest Deadline Alert time (Airflow 3.1+), if it has one."""
    try:
        from airflow.models.deadline import Deadline
        from sqlalchemy import func, select
    except ImportError:  # pragma: no cover - Airflow without Deadline Alerts
        return None
    when = session.execute(
        select(func.min(Deadline.deadline_time)).where(Deadline.dagrun_id == dagrun_id)
    ).scalar()
    return when.timestamp() if when is not None else None


def history(session: Any, dag_id: str, limit: int = 5) -> float | None:
    """The median duration of the DAG's latest successful runs, in seconds."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    rows = session.execute(
        select(DagRun.start_date, DagRun.end_date)
        .where(
            DagRun.dag_id == dag_id,
            DagRun.state == "success",
            DagRun.start_date.is_not(None),
            DagRun.end_date.is_not(None),
        )
        .order_by(DagRun.end_date.desc())
        .limit(limit)
    ).all()
    durations = [(end - start).total_seconds() for start, end in rows if end > start]
    return statistics.median(durations) if durations else None


def failed_tries(session: Any, instances: Iterable[ErrorKey]) -> list[tuple[ErrorKey, int]]:
    """The tries the task instance history records as failed (or retried) for the instances."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory as TIH
    from sqlalchemy import select, tuple_

    wanted = sorted(set(instances))
    if not wanted:
        return []
    query = select(TIH.dag_id, TIH.run_id, TIH.task_id, TIH.map_index, TIH.try_number).where(
        tuple_(TIH.dag_id, TIH.run_id, TIH.task_id, TIH.map_index).in_(wanted),
        TIH.state.in_(("failed", "up_for_retry")),
    )
    return [
        ((dag_id, run_id, task_id, _index(index)), int(tries or 0))
        for dag_id, run_id, task_id, index, tries in session.execute(query).all()
    ]

"""The single writer of each tracked DAG run: one watcher thread per process that handles runs.

The scheduler (or ``airflow dags test``) hands it run events through the listener, and it does
everything else on its own thread: it reads the run's task states from the metadata database
with its own session (never the scheduler's), builds the absolute state, finds the tasks that
failed and the errors their processes left, and hands it all to the core's engine, whose sender
paces and delivers. One writer per run means a run whose tasks finish on many hosts never moves
backwards on the lock screen and costs requests by time, not by task count.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from activitysmith_core.tracking import Engine, RunState, RunStatus

from .tracking import (
    ERROR_XCOM_KEY,
    TrackingSpec,
    _format,
    _group_of,
    build_steps,
    log_url,
    run_url,
    spec_of,
    ui_base_url,
)

log = logging.getLogger("activitysmith_airflow.tracking")

TICK = 1.0
"""Seconds between two reads of a watched run's task states."""
ERROR_WAIT = 3.0
"""How long a failure waits for its task process to leave the error before it pushes without."""
_CLIENT_TTL = 300.0


@dataclass
class Failure:
    task_id: str
    map_index: int
    try_number: int
    retrying: bool
    seen: float
    error: str | None = None


@dataclass
class _Run:
    dag_id: str
    run_id: str
    dag: Any
    spec: TrackingSpec
    engine: Engine
    logical_date: object = None
    reported: set[tuple[str, int, int, bool]] = field(default_factory=set)
    waiting: dict[tuple[str, int, int, bool], Failure] = field(default_factory=dict)
    errors: dict[tuple[str, int], str] = field(default_factory=dict)
    end: tuple[RunStatus, float] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    state: RunState | None = None
    ended_elsewhere: float | None = None
    expected_seconds: float | None = None


_CLIENTS: dict[str, tuple[float, Any]] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(conn_id: str) -> Any:
    """One client per connection and process, rebuilt every few minutes (a rotated key)."""
    from .hooks.activitysmith import ActivitySmithHook

    with _CLIENTS_LOCK:
        cached = _CLIENTS.get(conn_id)
        if cached and time.monotonic() - cached[0] < _CLIENT_TTL:
            return cached[1]
        client = ActivitySmithHook(activitysmith_conn_id=conn_id).get_conn()
        _CLIENTS[conn_id] = (time.monotonic(), client)
        return client


def _session() -> Any:
    from airflow.utils.session import create_session

    try:
        return create_session(scoped=False)
    except TypeError:  # pragma: no cover - older signature
        return create_session()


def _load_dag(dag_id: str) -> Any:
    from airflow.models.serialized_dag import SerializedDagModel

    with _session() as session:
        return SerializedDagModel.get_dag(dag_id, session=session)


@dataclass
class _RunRow:
    state: str | None = None
    started_at: float | None = None
    deadline_at: float | None = None


def _history(dag_id: str, limit: int = 5) -> float | None:
    """The median duration of the DAG's latest successful runs, in seconds."""
    import statistics

    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    with _session() as session:
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


def _read_states(dag_id: str, run_id: str) -> tuple[list[Any], dict[tuple[str, int], str], _RunRow]:
    """The run's task instances, the errors failed task processes left, and the run's row
    (its state, start and earliest deadline)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    with _session() as session:
        rows = session.execute(
            select(TI.task_id, TI.map_index, TI.state, TI.try_number).where(
                TI.dag_id == dag_id, TI.run_id == run_id
            )
        ).all()
        xcoms = session.execute(
            select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.key == ERROR_XCOM_KEY,
            )
        ).all()
        found = session.execute(
            select(DagRun.id, DagRun.state, DagRun.start_date).where(
                DagRun.dag_id == dag_id, DagRun.run_id == run_id
            )
        ).first()
        row = _RunRow()
        if found is not None:
            state = found[1]
            row.state = str(getattr(state, "value", state) or "") or None
            row.started_at = found[2].timestamp() if found[2] else None
            row.deadline_at = _deadline(session, found[0])
    errors: dict[tuple[str, int], str] = {}
    for task_id, map_index, value in xcoms:
        line = _error_text(value)
        if line:
            errors[(task_id, map_index if map_index is not None else -1)] = line
    return list(rows), errors, row


def _deadline(session: Any, dagrun_id: int) -> float | None:
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


def _error_text(value: Any) -> str | None:
    for _ in range(3):
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value or None
            continue
        break
    if isinstance(value, dict):
        found = value.get("error")
        return str(found) if found else None
    return str(value) if value else None


class RunWatcher:
    """Watches the tracked runs this process handles; all work on its own daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inbox: deque[tuple[str, dict[str, Any]]] = deque()
        self._runs: dict[tuple[str, str], _Run] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the calling side: O(1), no database, no network --------------------------------------
    def submit(self, kind: str, dag_id: str, run_id: str, **details: Any) -> threading.Event:
        """Queue a run event (``start``, ``poke`` or ``end``); returns an event set once the
        run's final state has been handed to the engine (for ``end``)."""
        done = threading.Event()
        with self._lock:
            self._inbox.append(
                (kind, {"dag_id": dag_id, "run_id": run_id, "done": done, **details})
            )
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="activitysmith-watcher", daemon=True
                )
                self._thread.start()
        self._wake.set()
        return done

    # -- the watcher thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self._wake.wait(TICK)
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._inbox:
                        break
                    kind, event = self._inbox.popleft()
                try:
                    self._handle(kind, event)
                except Exception as exc:
                    log.warning("ActivitySmith: run event skipped: %s", exc)
                    event["done"].set()
            for run in list(self._runs.values()):
                try:
                    self._refresh(run)
                except Exception as exc:  # e.g. SQLite's "database is locked": next tick
                    log.debug("ActivitySmith: reading run %s failed (%s)", run.run_id, exc)

    def _handle(self, kind: str, event: dict[str, Any]) -> None:
        ident = (event["dag_id"], event["run_id"])
        run = self._runs.get(ident)
        if run is None:
            dag = event.get("dag") or _load_dag(event["dag_id"])
            spec = spec_of(dag)
            if spec is None:
                event["done"].set()
                return
            options = spec.options
            run = _Run(
                event["dag_id"],
                event["run_id"],
                dag,
                spec,
                Engine(lambda conn_id=spec.conn_id: client_for(conn_id), options),
                event.get("logical_date"),
            )
            self._runs[ident] = run
            try:
                run.expected_seconds = _history(run.dag_id)
            except Exception as exc:
                log.debug("ActivitySmith: no run history for %s (%s)", run.dag_id, exc)
        if event.get("logical_date") is not None:
            run.logical_date = event["logical_date"]
        failure = event.get("failure")
        if failure:
            run.errors[(failure["task_id"], failure["map_index"])] = failure["error"]
        if kind == "end":
            run.end = (event["status"], time.monotonic())
            run.done = event["done"]
        self._refresh(run)

    def _state(
        self, run: _Run, rows: list[Any], status: RunStatus, row: _RunRow | None = None
    ) -> RunState:
        states = {
            (tid if index is None or index < 0 else f"{tid}_{index}"): state
            for tid, index, state, _ in rows
        }
        base = run.spec.ui_base_url or ui_base_url()
        title = _format(
            run.spec.title, dag_id=run.dag_id, run_id=run.run_id, logical_date=run.logical_date
        )
        return RunState(
            orchestrator="airflow",
            pipeline_id=run.dag_id,
            run_id=run.run_id,
            steps=build_steps(dict(run.dag.task_dict), states, run.spec.granularity),
            status=status,
            title=title or run.dag_id,
            url=run_url(base, run.dag_id, run.run_id),
            started_at=row.started_at if row else None,
            expected_seconds=run.expected_seconds,
            deadline_at=row.deadline_at if row else None,
        )

    def _step_name(self, run: _Run, task_id: str) -> str:
        if run.spec.granularity == "task_group" and task_id in run.dag.task_dict:
            return _group_of(run.dag.task_dict[task_id], task_id)
        return task_id

    def _refresh(self, run: _Run) -> None:
        rows, errors, row = _read_states(run.dag_id, run.run_id)
        errors.update(run.errors)
        now = time.monotonic()
        if run.end is None and row.state in ("success", "failed"):
            # Ended, but its end event went to another scheduler: that one sends the final
            # state. Stop updating it (an update after the end would restart the activity).
            run.ended_elsewhere = run.ended_elsewhere or now
            if now - run.ended_elsewhere > 30:
                del self._runs[(run.dag_id, run.run_id)]
            return
        status = run.end[0] if run.end else RunStatus.RUNNING
        state = self._state(run, rows, status, row)
        run.state = state
        for task_id, map_index, ti_state, try_number in rows:
            value = str(getattr(ti_state, "value", ti_state) or "")
            if value not in ("failed", "up_for_retry"):
                continue
            index = map_index if map_index is not None else -1
            retrying = value == "up_for_retry"
            # A final failure is one event per task instance, whatever try number a later read
            # shows; each retry is its own.
            key = (task_id, index, int(try_number or 0) if retrying else -1, retrying)
            if key in run.reported or key in run.waiting:
                continue
            run.waiting[key] = Failure(task_id, index, int(try_number or 0), retrying, now)
        base = run.spec.ui_base_url or ui_base_url()
        for key, failure in list(run.waiting.items()):
            error = errors.get((failure.task_id, failure.map_index))
            if error is None and now - failure.seen < ERROR_WAIT:
                continue
            del run.waiting[key]
            run.reported.add(key)
            run.engine.step_failed(
                state,
                self._step_name(run, failure.task_id),
                error,
                log_url(
                    base,
                    run.dag_id,
                    run.run_id,
                    failure.task_id,
                    failure.map_index,
                    failure.try_number,
                ),
                retrying=failure.retrying,
                ident="|".join(map(str, key)),
            )
        if run.end is None:
            run.engine.update(state)
            return
        if run.waiting:
            return  # the errors of the last failures are still on their way (bounded)
        run.engine.finish(state)
        del self._runs[(run.dag_id, run.run_id)]
        run.done.set()

    def running(self) -> list[tuple[str, str]]:
        return list(self._runs)


WATCHER = RunWatcher()

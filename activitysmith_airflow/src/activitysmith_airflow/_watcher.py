"""The single writer of each tracked DAG run: one watcher thread per scheduler (or ``dags test``).

In a scheduler it owns runs through leases in the metadata database (``_lease``): it claims a
tracked run when the listener hands it the run's start or end, when it finds the run running
with nobody holding it (on start and every few seconds: a restarted or new scheduler picks up
runs already running), or when the holder died. Only the holder sends anything for a run; it
ends the run when its own read of the database shows the run ended, so the final state is the
committed one whichever process ended the run (another scheduler, the API server). In
``dags test`` / ``dag.test()`` the process is the run's only writer and takes its end from the
listener, then flushes.

All reads of a tick are batched: one transaction reads the rows and the task instances of all
the runs the watcher holds (XComs only while a failure waits for its error); the deadline is
read once per run and the history once per DAG every few minutes. Nothing per run outlives the
run here; the DAG and history caches are bounded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
"""Seconds between two reads of the held runs' task states (one transaction for all)."""
ERROR_WAIT = 3.0
"""How long a failure waits for its task process to leave the error before it pushes without."""
DISCOVER_LIMIT = 500
"""Running runs (and orphaned leases) looked at per discovery pass."""
DAG_CACHE = 128
"""DAG versions whose tracking decision (and, if tracked, DAG) a watcher keeps."""
HISTORY_TTL = 600.0
"""Seconds a DAG's median duration is reused before it is read again (sooner after a run of it
succeeded here)."""
HISTORY_CACHE = 256
HINTS = 256
PURGE_EVERY = 60.0
_CLIENT_TTL = 300.0

Key = tuple[str, str, int]

_SEEN_ENDING = frozenset(
    {"success", "skipped", "failed", "up_for_retry", "upstream_failed", "removed"}
)
"""States that show how a try ended: a later try of it was a clear, or a retry already seen."""


@dataclass
class PendingFailure:
    """A failed (or retrying) task instance waiting, briefly, for the error its process left."""

    task_id: str
    map_index: int
    try_number: int
    retrying: bool
    seen: float


@dataclass
class _Run:
    key: Key
    dag: Any
    spec: TrackingSpec
    engine: Engine
    local: bool
    logical_date: object = None
    reported: set[tuple[str, int, int, bool]] = field(default_factory=set)
    waiting: dict[tuple[str, int, int, bool], PendingFailure] = field(default_factory=dict)
    errors: dict[tuple[str, int], str] = field(default_factory=dict)
    tries: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    """Each task instance's try number and state at the last read: a try that failed and was
    retried between two reads shows as a higher try number."""
    end: RunStatus | None = None
    done: threading.Event = field(default_factory=threading.Event)
    expected_seconds: float | None = None
    deadline_at: float | None = None
    deadline_read: bool = False
    history_read: bool = False

    @property
    def dag_id(self) -> str:
        return self.key[0]

    @property
    def run_id(self) -> str:
        return self.key[1]


@dataclass
class _Candidate:
    key: Key
    dag: Any = None
    version: Any = None
    logical_date: object = None
    dead_owner: str | None = None


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


def _value(state: Any) -> str:
    return str(getattr(state, "value", state) or "")


def _history(session: Any, dag_id: str, limit: int = 5) -> float | None:
    """The median duration of the DAG's latest successful runs, in seconds."""
    import statistics

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


def _pairs(keys: Iterable[Key]) -> list[tuple[str, str]]:
    return sorted({(k[0], k[1]) for k in keys})


class _Bounded(OrderedDict[Any, Any]):
    """A least-recently-used mapping of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_fresh(self, key: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class RunWatcher:
    """Watches the tracked runs this process writes; all work on its own daemon thread."""

    def __init__(self) -> None:
        from ._lease import new_owner

        self._lock = threading.Lock()
        self._inbox: list[tuple[str, dict[str, Any]]] = []
        self._runs: dict[Key, _Run] = {}
        self._wanted: dict[Key, _Candidate] = {}
        # Finals handed to the sender, not yet delivered: the lease stays (renewed) until they
        # are, so a writer that dies before delivering leaves the run to another.
        self._finals: dict[Key, tuple[Engine, str]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._job: Any = None
        self._pid = 0
        self.owner = new_owner()
        self._next_lease = 0.0
        self._next_purge = 0.0
        self._dags: _Bounded = _Bounded(DAG_CACHE)
        self._history: _Bounded = _Bounded(HISTORY_CACHE)
        self._hints: _Bounded = _Bounded(HINTS)
        self._groups: Any = None
        self._stopped = threading.Event()

    # -- the calling side: O(1), no database, no network --------------------------------------
    def serve(self, job: Any) -> None:
        """Remember the process's Airflow job; if it turns out to be a scheduler, the watcher
        runs from now on (it claims runs already running without waiting for an event)."""
        self._job, self._pid = job, os.getpid()
        self._start()

    def is_scheduler(self) -> bool:
        """Whether this process runs a scheduler (not a process forked from one)."""
        if self._pid != os.getpid():
            return False
        return _value(getattr(self._job, "job_type", None)) == "SchedulerJob"

    def submit(self, kind: str, dag_id: str, run_id: str, **details: Any) -> threading.Event:
        """Queue a run event (``start``, ``poke`` or ``end``); returns an event set once a local
        run's final state has been handed to the engine (for ``end``)."""
        done = threading.Event()
        with self._lock:
            self._inbox.append(
                (kind, {"dag_id": dag_id, "run_id": run_id, "done": done, **details})
            )
        self._start()
        self._wake.set()
        return done

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="activitysmith-watcher", daemon=True
                )
                self._thread.start()

    # -- the watcher thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        if self._job is not None and not self._inbox:
            # Started by a job: its runner sets the job's type right after; only a scheduler
            # watches on its own.
            for _ in range(300):
                if getattr(self._job, "job_type", None) is not None:
                    break
                time.sleep(0.1)
        while not self._stopped.is_set():
            with self._lock:
                events, self._inbox = self._inbox, []
            for kind, event in events:
                try:
                    self._handle(kind, event)
                except Exception as exc:
                    log.warning("ActivitySmith: run event skipped: %s", exc)
                    event["done"].set()
            if self.is_scheduler():
                try:
                    self._lease_pass()
                except Exception as exc:  # e.g. SQLite's "database is locked": next tick
                    log.warning("ActivitySmith: lease pass failed (%s)", exc)
            if self._runs:
                try:
                    self._tick()
                except Exception as exc:
                    log.warning("ActivitySmith: reading runs failed (%s)", exc)
            elif not self.is_scheduler() and not self._wanted:
                with self._lock:
                    if not self._inbox:
                        self._thread = None
                        return  # nothing to watch in a process that is not a scheduler
            self._wake.wait(TICK)
            self._wake.clear()

    def _handle(self, kind: str, event: dict[str, Any]) -> None:
        key: Key = (event["dag_id"], event["run_id"], int(event.get("attempt") or 0))
        if not event.get("local"):
            # A scheduler's event: a reason to look now. The run's holder decides from its
            # own read of the database; the others try to claim it (it may have no holder).
            status = event.get("status")
            if status is RunStatus.TIMED_OUT:
                self._hints.put(key, status)
            if key not in self._runs and kind in ("start", "end"):
                self._wanted[key] = _Candidate(
                    key, event.get("dag"), event.get("version"), event.get("logical_date")
                )
            event["done"].set()
            return
        run = self._runs.get(key)
        if run is None:
            dag = event.get("dag") or self._latest_dag(key[0])
            spec = spec_of(dag)
            if spec is None:
                event["done"].set()
                return
            run = self._new_run(key, dag, spec, local=True, logical_date=event.get("logical_date"))
        if event.get("logical_date") is not None:
            run.logical_date = event["logical_date"]
        failure = event.get("failure")
        if failure:
            run.errors[(failure["task_id"], failure["map_index"])] = failure["error"]
        if kind == "end":
            run.end = event["status"]
            run.done = event["done"]

    def _new_run(
        self, key: Key, dag: Any, spec: TrackingSpec, *, local: bool, logical_date: object
    ) -> _Run:
        options = spec.options
        if local and options.group is not None and options.own_activity is None:
            # Groups are written by schedulers: under `dags test` the run shows its own.
            options = replace(options, own_activity=True)
        run = _Run(
            key,
            dag,
            spec,
            Engine(lambda conn_id=spec.conn_id: client_for(conn_id), options),
            local,
            logical_date,
        )
        self._runs[key] = run
        return run

    @staticmethod
    def _latest_dag(dag_id: str) -> Any:
        from airflow.models.serialized_dag import SerializedDagModel

        with _session() as session:
            return SerializedDagModel.get_dag(dag_id, session=session)

    def _dag_of(self, session: Any, dag_id: str, version: Any) -> tuple[Any, TrackingSpec | None]:
        """The run's DAG (its own version) and how it is tracked, from a bounded cache."""
        cache_key = (dag_id, str(version))
        found = self._dags.get_fresh(cache_key)
        if found is not None:
            return tuple(found)  # type: ignore[return-value]
        from airflow.models.serialized_dag import SerializedDagModel
        from sqlalchemy import select

        dag = None
        if version is not None:
            model = session.scalar(
                select(SerializedDagModel).where(SerializedDagModel.dag_version_id == version)
            )
            dag = model.dag if model is not None else None
        if dag is None:
            dag = SerializedDagModel.get_dag(dag_id, session=session)
        spec = spec_of(dag)
        value = (dag if spec else None, spec)
        if dag is not None:
            self._dags.put(cache_key, value)
        return value

    def _expected(self, session: Any, dag_id: str) -> float | None:
        cached = self._history.get_fresh(dag_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < HISTORY_TTL:
            return cached[1]  # type: ignore[no-any-return]
        try:
            value = _history(session, dag_id)
        except Exception as exc:
            log.debug("ActivitySmith: no run history for %s (%s)", dag_id, exc)
            value = None
        self._history.put(dag_id, (now, value))
        return value

    # -- leases (schedulers only) -----------------------------------------------------------------
    def _lease_pass(self) -> None:
        """Renew, discover and claim, in one transaction: every ``RENEW`` seconds, and at once
        when an event names a run this watcher does not hold."""
        from . import _lease

        now = time.time()
        due = now >= self._next_lease
        if not due and not self._wanted:
            return
        with _session() as session:
            if not _lease.ensure_table(session):
                return  # the tables are missing: logged once, tracking off here
            if due:
                held = _lease.renew(session, self.owner, now)
                for key, run in list(self._runs.items()):
                    if not run.local and key not in held:
                        log.warning("ActivitySmith: %s/%s: lease lost, stopped", key[0], key[1])
                        del self._runs[key]
                self._record_finals(session, held, now)
                # held but dropped (a failed commit)
                for key in held.difference(self._runs).difference(self._finals):
                    self._wanted.setdefault(key, _Candidate(key))
                self._discover(session, now)
                self._write_groups(session, now)
                if now >= self._next_purge:
                    _lease.purge(session, now)
                    self._next_purge = now + PURGE_EVERY
                self._next_lease = now + _lease.RENEW
            wanted, self._wanted = self._wanted, {}
            for cand in wanted.values():
                if cand.key in self._runs:
                    continue
                try:
                    self._claim(session, cand, now)
                except Exception as exc:
                    log.warning("ActivitySmith: %s/%s: claim skipped (%s)", *cand.key[:2], exc)

    def _record_finals(self, session: Any, held: set[Key], now: float) -> None:
        """Mark sent the finals the sender has delivered (no watcher sends for them again); a
        final whose lease was lost meanwhile is another watcher's to send."""
        from . import _lease

        for key, (engine, stream) in list(self._finals.items()):
            if key not in held:
                del self._finals[key]
            elif not engine.sender.final_pending(stream):
                _lease.mark_final(session, key, self.owner, now)
                del self._finals[key]

    def _write_groups(self, session: Any, now: float) -> None:
        """The group windows this watcher holds or can take (``_groups``)."""
        from ._groups import GroupWriter

        if self._groups is None:
            self._groups = GroupWriter(client_for)
        try:
            self._groups.pass_(session, self.owner, now)
        except Exception as exc:
            log.warning("ActivitySmith: groups skipped this pass (%s)", exc)

    def _discover(self, session: Any, now: float) -> None:
        """Runs running with no lease, and leases whose holder is gone: candidates."""
        from airflow.models.dagrun import DagRun
        from sqlalchemy import or_, select

        from . import _lease

        attempt = DagRun.clear_number
        query = select(DagRun.dag_id, DagRun.run_id, attempt, DagRun.created_dag_version_id).where(
            DagRun.state == "running",
            _lease.unleased(DagRun.dag_id, DagRun.run_id, attempt),
        )
        try:  # dag.test() runs are written by their own process
            from airflow.utils.types import DagRunTriggeredByType

            test = DagRunTriggeredByType.TEST
            query = query.where(or_(DagRun.triggered_by.is_(None), DagRun.triggered_by != test))
        except (ImportError, AttributeError):  # pragma: no cover - an Airflow without it
            pass
        for dag_id, run_id, number, version in session.execute(query.limit(DISCOVER_LIMIT)).all():
            key = (dag_id, run_id, int(number or 0))
            if key not in self._runs:
                self._wanted.setdefault(key, _Candidate(key, version=version))
        for dag_id, run_id, number, owner, expires_at in _lease.orphans(
            session, self.owner, now, DISCOVER_LIMIT
        ):
            key = (dag_id, run_id, int(number))
            if key in self._runs:
                continue
            dead = _lease.owner_is_dead(owner, self.owner)
            if not dead and expires_at >= now:
                continue  # a live process of this host, its lease not yet expired
            self._wanted[key] = _Candidate(key, dead_owner=owner if dead else None)

    def _claim(self, session: Any, cand: _Candidate, now: float) -> None:
        from airflow.models.dagrun import DagRun
        from sqlalchemy import select

        from . import _lease

        dag_id, run_id, _ = cand.key
        dag, spec = None, None
        if cand.dag is not None:
            dag, spec = cand.dag, spec_of(cand.dag)
        elif cand.version is not None:  # from discovery: untracked DAGs stop here (cached)
            dag, spec = self._dag_of(session, dag_id, cand.version)
        if (cand.dag is not None or cand.version is not None) and (spec is None or dag is None):
            return
        row = session.execute(
            select(
                DagRun.id, DagRun.created_dag_version_id, DagRun.logical_date, DagRun.backfill_id
            ).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).first()
        if row is None:
            return
        if dag is None:
            dag, spec = self._dag_of(session, dag_id, row[1])
        if spec is None or dag is None:
            return
        if not _lease.claim(session, cand.key, self.owner, now, cand.dead_owner):
            return
        from ._groups import join

        spec = join(session, cand.key, spec, now, row[3])  # a backfill's run: its group
        run = self._new_run(
            cand.key, dag, spec, local=False, logical_date=cand.logical_date or row[2]
        )
        run.expected_seconds, run.history_read = self._expected(session, dag_id), True
        run.deadline_at, run.deadline_read = _deadline(session, row[0]), True
        log.info("ActivitySmith: %s/%s attempt %d: writing its activity", *cand.key)

    # -- one tick: every held run in one transaction ----------------------------------------------
    def _tick(self) -> None:
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.models.xcom import XComModel
        from sqlalchemy import select, tuple_

        from . import _lease

        runs = list(self._runs.values())
        pairs = _pairs(r.key for r in runs)
        now = time.monotonic()
        finals: list[tuple[_Run, RunState]] = []
        with _session() as session:
            rows: dict[tuple[str, str], Any] = {
                (r.dag_id, r.run_id): r
                for r in session.execute(
                    select(
                        DagRun.dag_id,
                        DagRun.run_id,
                        DagRun.id,
                        DagRun.state,
                        DagRun.start_date,
                        DagRun.end_date,
                        DagRun.clear_number,
                    ).where(tuple_(DagRun.dag_id, DagRun.run_id).in_(pairs))
                ).all()
            }
            tis: dict[tuple[str, str], list[Any]] = {}
            for dag_id, run_id, *rest in session.execute(
                select(
                    TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.try_number
                ).where(tuple_(TI.dag_id, TI.run_id).in_(pairs))
            ).all():
                tis.setdefault((dag_id, run_id), []).append(rest)
            missed: list[tuple[_Run, str, int, int, int]] = []
            for run in runs:
                missed += self._note_failures(run, tis.get((run.dag_id, run.run_id), []), now)
            if missed:
                self._note_missed_retries(session, missed, now)
            errors: dict[tuple[str, str, str, int], str] = {}
            asking = _pairs(r.key for r in runs if r.waiting)
            if asking:
                for dag_id, run_id, task_id, map_index, value in session.execute(
                    select(
                        XComModel.dag_id,
                        XComModel.run_id,
                        XComModel.task_id,
                        XComModel.map_index,
                        XComModel.value,
                    ).where(
                        tuple_(XComModel.dag_id, XComModel.run_id).in_(asking),
                        XComModel.key == ERROR_XCOM_KEY,
                    )
                ).all():
                    line = _error_text(value)
                    if line:
                        index = map_index if map_index is not None else -1
                        errors[(dag_id, run_id, task_id, index)] = line
            for run in runs:
                row = rows.get((run.dag_id, run.run_id))
                if not run.deadline_read and row is not None:
                    run.deadline_at, run.deadline_read = _deadline(session, row.id), True
                if not run.history_read:
                    run.expected_seconds = self._expected(session, run.dag_id)
                    run.history_read = True
                final = self._refresh(run, tis.get((run.dag_id, run.run_id), []), row, errors)
                if final is None:
                    continue
                # Still ours (a writer stalled past its lease has lost the run): send it; the
                # lease is marked sent once the sender has delivered it (``_record_finals``).
                if run.local or _lease.claim(session, run.key, self.owner, time.time()):
                    finals.append((run, final))
                del self._runs[run.key]
        for run, final in finals:
            if final.status is RunStatus.SUCCESS:
                self._history.pop(run.dag_id, None)  # the next run reads the new median
            run.engine.finish(final)
            if not run.local:
                self._finals[run.key] = (run.engine, final.key)
            run.done.set()

    def _note_failures(
        self, run: _Run, rows: list[Any], now: float
    ) -> list[tuple[_Run, str, int, int, int]]:
        """Queue the failures this read shows; returns the task instances whose try number grew
        past a try that was neither seen ending nor seen retrying (run, task, index, from, to)."""
        missed: list[tuple[_Run, str, int, int, int]] = []
        for task_id, map_index, ti_state, try_number in rows:
            value = _value(ti_state)
            index = map_index if map_index is not None else -1
            tries = int(try_number or 0)
            before = run.tries.get((task_id, index))
            run.tries[(task_id, index)] = (tries, value)
            if before is not None and 1 <= before[0] < tries and before[1] not in _SEEN_ENDING:
                missed.append((run, task_id, index, before[0], tries))
            if value not in ("failed", "up_for_retry"):
                continue
            retrying = value == "up_for_retry"
            # A final failure is one event per task instance, whatever try number a later read
            # shows; each retry is its own.
            key = (task_id, index, tries if retrying else -1, retrying)
            if key in run.reported or key in run.waiting:
                continue
            run.waiting[key] = PendingFailure(task_id, index, tries, retrying, now)
        return missed

    def _note_missed_retries(
        self, session: Any, missed: list[tuple[_Run, str, int, int, int]], now: float
    ) -> None:
        """A retry that happened between two reads (a zero ``retry_delay``): the tries the task
        instance history records as failed, read once for all such task instances."""
        from airflow.models.taskinstancehistory import TaskInstanceHistory as TIH
        from sqlalchemy import select, tuple_

        wanted = {
            (r.dag_id, r.run_id, task, index): (r, lo, hi) for r, task, index, lo, hi in missed
        }
        for dag_id, run_id, task_id, map_index, try_number in session.execute(
            select(TIH.dag_id, TIH.run_id, TIH.task_id, TIH.map_index, TIH.try_number).where(
                tuple_(TIH.dag_id, TIH.run_id, TIH.task_id, TIH.map_index).in_(sorted(wanted)),
                TIH.state.in_(("failed", "up_for_retry")),
            )
        ).all():
            index = map_index if map_index is not None else -1
            run, lo, hi = wanted[(dag_id, run_id, task_id, index)]
            tries = int(try_number or 0)
            key = (task_id, index, tries, True)
            if not lo <= tries < hi or key in run.reported or key in run.waiting:
                continue
            if (task_id, index, -1, False) in run.reported:
                continue  # a failure already reported as final, then cleared: not a retry
            run.waiting[key] = PendingFailure(task_id, index, tries, True, now)

    def _end_of(self, run: _Run, row: Any) -> RunStatus | None:
        """The run's end as the database has it (committed), or None while it runs."""
        if run.local:
            return run.end
        if row is None:
            return RunStatus.CANCELLED  # the run was deleted
        if int(row.clear_number or 0) != run.key[2]:
            return RunStatus.CANCELLED  # cleared: this attempt is over, the next is its own
        state = _value(row.state)
        if state == "success":
            return RunStatus.SUCCESS
        if state != "failed":
            return None
        hint = self._hints.pop(run.key, None)
        timeout = getattr(run.dag, "dagrun_timeout", None)
        ran = row.end_date - row.start_date if row.start_date and row.end_date else None
        if hint is None and timeout is not None and ran is not None and ran >= timeout:
            hint = RunStatus.TIMED_OUT
        return hint or RunStatus.FAILED

    def _state(self, run: _Run, rows: list[Any], status: RunStatus, row: Any) -> RunState:
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
            started_at=row.start_date.timestamp() if row is not None and row.start_date else None,
            expected_seconds=run.expected_seconds,
            deadline_at=run.deadline_at,
            attempt=run.key[2],
        )

    def _step_name(self, run: _Run, task_id: str) -> str:
        if run.spec.granularity == "task_group" and task_id in run.dag.task_dict:
            return _group_of(run.dag.task_dict[task_id], task_id)
        return task_id

    def _refresh(
        self,
        run: _Run,
        rows: list[Any],
        row: Any,
        errors: dict[tuple[str, str, str, int], str],
    ) -> RunState | None:
        """Hand the run's state to its engine; returns its final state once it has ended and
        no failure still waits for its error."""
        end = self._end_of(run, row)
        state = self._state(run, rows, end or RunStatus.RUNNING, row)
        now = time.monotonic()
        base = run.spec.ui_base_url or ui_base_url()
        for key, failure in list(run.waiting.items()):
            error = run.errors.get((failure.task_id, failure.map_index)) or errors.get(
                (run.dag_id, run.run_id, failure.task_id, failure.map_index)
            )
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
        if end is None:
            run.engine.update(state)
            return None
        if run.waiting:
            return None  # the errors of the last failures are still on their way (bounded)
        return state

    def running(self) -> list[Key]:
        return list(self._runs)

    def stop(self, timeout: float = 5.0) -> None:
        """A stopping scheduler: stop writing, flush what is queued, then give the leases up
        (runs and group windows) so that another scheduler takes them over at once (not a
        lease period later)."""
        if not self.is_scheduler():
            return
        from activitysmith_core.tracking import Sender

        from . import _lease

        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        Sender.flush_all()
        keys = [k for k, r in self._runs.items() if not r.local]
        self._runs.clear()
        # After the flush a final is delivered, or kept on this host's disk for its next run.
        finals, self._finals = list(self._finals), {}
        if keys or finals or self._groups is not None:
            now = time.time()
            with _session() as session:
                for key in finals:
                    _lease.mark_final(session, key, self.owner, now)
                _lease.release(session, keys, self.owner)
                if self._groups is not None:
                    self._groups.release(session, self.owner)


WATCHER = RunWatcher()

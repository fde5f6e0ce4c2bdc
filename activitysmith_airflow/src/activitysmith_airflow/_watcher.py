"""The single writer of each tracked DAG run: one watcher thread per scheduler (or ``dags test``).

In a scheduler it owns runs through leases in the metadata database (``_lease``): it claims a
tracked run when the listener hands it the run's start or end, when it finds the run running
with nobody holding it (on start and every few seconds: a restarted or new scheduler picks up
runs already running), or when the holder died. Only the holder sends anything for a run; it
ends the run when its own read of the database shows the run ended, so the final state is the
committed one whichever process ended the run (another scheduler, the API server). In
``dags test`` / ``dag.test()`` the process is the run's only writer and takes its end from the
listener, then flushes.

All reads of a tick are batched (``_reads``): one transaction reads the rows of all the runs
the watcher holds and their task instances by task and state, plus only the instances failed,
retrying or changed since the last read (XComs only while a failure waits for its error); the
deadline is read once per run and the history once per DAG every few minutes. Nothing per
run outlives the run here; the DAG and history caches are bounded.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from activitysmith_core.tracking import Engine, RunState, RunStatus

from . import _reads, _switch
from ._lookups import Lookups, client_for, latest_dag, new_session
from ._reads import RunRow, TaskCount
from ._runs import Bounded, Key, TrackedRun, read_tasks
from .tracking import TrackingSpec, log_url, spec_of, ui_base_url

log = logging.getLogger("activitysmith_airflow.tracking")

TICK = 1.0
"""Seconds between two reads of the held runs' task states (one transaction for all)."""
ERROR_WAIT = 3.0
"""How long a failure waits for its task process to leave the error before it pushes without."""
DISCOVER_LIMIT = 500
"""Running runs (and orphaned leases) looked at per discovery pass."""
HINTS = 256
PURGE_EVERY = 60.0


@dataclass
class _Candidate:
    key: Key
    dag: Any = None
    version: Any = None
    logical_date: object = None
    dead_owner: str | None = None


class RunWatcher:
    """Watches the tracked runs this process writes; all work on its own daemon thread."""

    def __init__(self) -> None:
        from ._lease import new_owner

        self._lock = threading.Lock()
        self._inbox: list[tuple[str, dict[str, Any]]] = []
        self._runs: dict[Key, TrackedRun] = {}
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
        self._lookups = Lookups()
        self._hints: Bounded = Bounded(HINTS)
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
        return _reads.value(getattr(self._job, "job_type", None)) == "SchedulerJob"

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
            dag = event.get("dag") or latest_dag(key[0])
            spec = spec_of(dag)
            if spec is None or _switch.disabled():
                event["done"].set()
                return
            run = self._new_run(key, dag, spec, local=True, logical_date=event.get("logical_date"))
        if event.get("logical_date") is not None:
            run.logical_date = event["logical_date"]
        failure = event.get("failure")
        if failure:
            run.failures.add_error(failure["task_id"], failure["map_index"], failure["error"])
        if kind == "end":
            run.end = event["status"]
            run.done = event["done"]

    def _new_run(
        self, key: Key, dag: Any, spec: TrackingSpec, *, local: bool, logical_date: object
    ) -> TrackedRun:
        options = spec.options
        if local and options.group is not None and options.own_activity is None:
            # Groups are written by schedulers: under `dags test` the run shows its own.
            options = replace(options, own_activity=True)
        run = TrackedRun(
            key,
            dag,
            spec,
            Engine(lambda conn_id=spec.conn_id: client_for(conn_id), options),
            local,
            logical_date,
        )
        self._runs[key] = run
        return run

    # -- leases (schedulers only) -----------------------------------------------------------------
    def _lease_pass(self) -> None:
        """Renew, discover and claim, in one transaction: every ``RENEW`` seconds, and at once
        when an event names a run this watcher does not hold."""
        from . import _lease

        now = time.time()
        due = now >= self._next_lease
        if not due and not self._wanted:
            return
        with new_session() as session:
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
            dag, spec = self._lookups.dag_of(session, dag_id, cand.version)
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
            dag, spec = self._lookups.dag_of(session, dag_id, row[1])
        if spec is None or dag is None or _switch.disabled():
            return
        if not _lease.claim(session, cand.key, self.owner, now, cand.dead_owner):
            return
        from ._groups import join

        spec = join(session, cand.key, spec, now, row[3])  # a backfill's run: its group
        run = self._new_run(
            cand.key, dag, spec, local=False, logical_date=cand.logical_date or row[2]
        )
        run.expected_seconds, run.history_read = self._lookups.expected(session, dag_id), True
        run.deadline_at, run.deadline_read = _reads.deadline(session, row[0]), True
        log.info("ActivitySmith: %s/%s attempt %d: writing its activity", *cand.key)

    # -- one tick: every held run in one transaction ----------------------------------------------
    def _tick(self) -> None:
        from . import _lease

        runs = list(self._runs.values())
        now = time.monotonic()
        finals: list[tuple[TrackedRun, RunState]] = []
        with new_session() as session:
            wanted = _reads.pairs(r.key for r in runs)
            rows = _reads.run_rows(session, wanted)
            counts = read_tasks(session, runs, now)
            errors = _reads.xcom_errors(
                session, _reads.pairs(r.key for r in runs if r.failures.waiting)
            )
            for run in runs:
                row = rows.get((run.dag_id, run.run_id))
                if not run.deadline_read and row is not None:
                    run.deadline_at, run.deadline_read = _reads.deadline(session, row.id), True
                if not run.history_read:
                    run.expected_seconds = self._lookups.expected(session, run.dag_id)
                    run.history_read = True
                pair = (run.dag_id, run.run_id)
                final = self._refresh(run, counts.get(pair, []), row, errors.get(pair, {}))
                if final is None:
                    continue
                # Still ours (a writer stalled past its lease has lost the run): send it; the
                # lease is marked sent once the sender has delivered it (``_record_finals``).
                if run.local or _lease.claim(session, run.key, self.owner, time.time()):
                    finals.append((run, final))
                del self._runs[run.key]
        for run, final in finals:
            if final.status is RunStatus.SUCCESS:
                self._lookups.forget_history(run.dag_id)  # the next run reads the new median
            run.engine.finish(final)
            if not run.local:
                self._finals[run.key] = (run.engine, final.key)
            run.done.set()

    def _refresh(
        self,
        run: TrackedRun,
        counts: list[TaskCount],
        row: RunRow | None,
        found: dict[tuple[str, int], str],
    ) -> RunState | None:
        """Hand the run's state to its engine; returns its final state once it has ended and
        no failure still waits for its error."""
        end = run.ended(row, self._hints)
        state = run.state(counts, end or RunStatus.RUNNING, row)
        base = run.spec.ui_base_url or ui_base_url()
        for due in run.failures.due(time.monotonic(), ERROR_WAIT, found):
            failure = due.failure
            run.engine.step_failed(
                state,
                run.step_name(failure.task_id),
                due.error,
                log_url(
                    base,
                    run.dag_id,
                    run.run_id,
                    failure.task_id,
                    failure.map_index,
                    failure.try_number,
                ),
                retrying=failure.retrying,
                ident=due.key.ident,
            )
        if end is None:
            run.engine.update(state)
            return None
        if run.failures.waiting:
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
            with new_session() as session:
                for key in finals:
                    _lease.mark_final(session, key, self.owner, now)
                _lease.release(session, keys, self.owner)
                if self._groups is not None:
                    self._groups.release(session, self.owner)


WATCHER = RunWatcher()

"""Runs declared in one group share one activity, written by one scheduler at a time.

A run's writer (the scheduler holding its lease) records the run in ``activitysmith_group_run``
when it claims it: the group, the run, its connection and its options. Every lease pass
(``_lease.RENEW`` seconds) each scheduler's watcher reads, in one query for all groups, the
group runs of the last ``HORIZON`` seconds with their states from ``dag_run``, splits each
group's runs into windows (``activitysmith_core.tracking.windows``) and, for the group's latest
window, takes its lease in ``activitysmith_group_lease``, keyed ``(<name>, <window start>)``
(the run leases' functions on their own table, so a run pass never sees a window): one
scheduler writes a window, another takes over when it dies or at once when it stops, and
nothing is sent for a window after its final state. The window's activity ends once its runs
have all ended and no new run joined for ``group_linger`` seconds.

A backfill's runs (Airflow 3's ``dag_run.backfill_id``) form the group ``backfill:<id>``, titled
after the DAG and the backfill's dates, unless their DAG declares a group: one activity, a
segment per run, the bar as long as the backfill's count of runs, open until they all joined.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, func, select

from activitysmith_core.tracking import (
    Engine,
    GroupMember,
    RunStatus,
    TrackerOptions,
    current_window,
    group_options,
    group_state,
)

from . import _lease
from ._tables import GROUP_RUN, group_leases, group_runs

log = logging.getLogger("activitysmith_airflow.tracking")

TABLE = GROUP_RUN
HORIZON = 3 * 86_400.0
"""Seconds of group runs read back: today's window and the one before it (a nightly group)."""

_RUN_STATUS = {
    "success": RunStatus.SUCCESS,
    "failed": RunStatus.FAILED,
}


BACKFILL = "backfill:"
"""The group a backfill's runs join (``backfill:<id>``), unless their DAG declares one."""


def join(
    session: Any,
    key: tuple[str, str, int],
    spec: Any,
    now: float,
    backfill_id: int | None = None,
) -> Any:
    """Record a claimed run of a group (once; a takeover finds it there); returns the run's
    tracking spec, in its backfill's group when it has no group of its own. Nothing joins
    while the off switch is on."""
    from . import _switch

    options, stored = spec.options, spec.options
    if (options.group is None and backfill_id is None) or _switch.disabled():
        return spec
    if options.group is None:
        options = replace(options, group=f"{BACKFILL}{backfill_id}")
        stored = replace(options, title=_backfill_title(session, backfill_id))
        spec = copy.copy(spec)
        spec.options = options
    _lease.ensure_table(session)
    dag_id, run_id, attempt = key
    session.execute(
        _lease.insert_ignore(session, group_runs).values(
            grp=options.group,
            dag_id=dag_id,
            run_id=run_id,
            attempt=attempt,
            conn_id=spec.conn_id,
            options=json.dumps(stored.to_mapping(), default=list),
            added_at=now,
        )
    )
    return spec


def _backfill_title(session: Any, backfill_id: Any) -> str | None:
    """``<dag_id> backfill <from>–<to>`` (the Backfill row's dates)."""
    from airflow.models.backfill import Backfill

    row = session.execute(
        select(Backfill.dag_id, Backfill.from_date, Backfill.to_date).where(
            Backfill.id == backfill_id
        )
    ).first()
    if row is None:
        return None
    return f"{row.dag_id} backfill {row.from_date:%Y-%m-%d}–{row.to_date:%Y-%m-%d}"


def _backfill_sizes(session: Any, names: Any) -> dict[str, int]:
    """How many runs each backfill group's backfill has, joined or still queued (one query)."""
    from airflow.models.dagrun import DagRun

    ids = [int(n[len(BACKFILL) :]) for n in names if n.startswith(BACKFILL)]
    if not ids:
        return {}
    rows = session.execute(
        select(DagRun.backfill_id, func.count())
        .where(DagRun.backfill_id.in_(ids))
        .group_by(DagRun.backfill_id)
    ).all()
    return {f"{BACKFILL}{b}": int(n) for b, n in rows}


@dataclass
class _Written:
    engine: Engine
    group: str


class GroupWriter:
    """The group windows one watcher writes; all calls on the watcher's thread."""

    def __init__(self, client_for: Any) -> None:
        self._client_for = client_for
        self._windows: dict[_lease.GroupKey, _Written] = {}
        self._next_purge = 0.0

    def release(self, session: Any, me: str) -> None:
        """Give up the windows this watcher writes (a stopping scheduler): another scheduler
        takes them over at its next pass, as it takes the runs."""
        _lease.release(session, self._windows, me, table=group_leases)
        self._windows.clear()

    def pass_(self, session: Any, me: str, now: float) -> None:
        """Read every group's runs (one query), and write the windows this watcher holds."""
        from airflow.models.dagrun import DagRun

        _lease.ensure_table(session)
        rows = session.execute(
            select(
                group_runs.c.grp,
                group_runs.c.dag_id,
                group_runs.c.run_id,
                group_runs.c.conn_id,
                group_runs.c.options,
                group_runs.c.added_at,
                DagRun.state,
                DagRun.queued_at,
                DagRun.start_date,
                DagRun.end_date,
            )
            .join(
                DagRun,
                (DagRun.dag_id == group_runs.c.dag_id)
                & (DagRun.run_id == group_runs.c.run_id)
                & (DagRun.clear_number == group_runs.c.attempt),
            )
            .where(group_runs.c.added_at > now - HORIZON)
        ).all()
        groups: dict[str, list[Any]] = {}
        for row in rows:
            groups.setdefault(row.grp, []).append(row)
        sizes = _backfill_sizes(session, groups)
        for name, found in groups.items():
            try:
                self._write(session, me, now, name, found, sizes.get(name))
            except Exception as exc:
                log.warning("ActivitySmith: group %s skipped this pass (%s)", name, exc)
        if now >= self._next_purge:
            session.execute(delete(group_runs).where(group_runs.c.added_at < now - HORIZON))
            _lease.purge(session, now, table=group_leases)
            self._next_purge = now + 600

    def _write(
        self, session: Any, me: str, now: float, name: str, rows: list[Any], size: int | None
    ) -> None:
        newest = max(rows, key=lambda r: r.added_at)
        options = TrackerOptions.from_mapping(json.loads(newest.options))
        members = [_member(row) for row in rows]
        window, previous = current_window(members, now, options.group_linger)
        if size is not None and size > len(rows) and window is None:
            window, previous = previous, None  # a backfill stays open until its runs all joined
        last = window or previous
        if last is None:
            return
        closed = window is None
        state = group_state(
            "airflow",
            name,
            last,
            None if closed else previous,
            status=last.outcome if closed else RunStatus.RUNNING,
            title=options.title or name,
            expected_runs=size,
        )
        key = (name, state.run_id)
        if not _lease.claim(session, key, me, now, table=group_leases):
            self._windows.pop(key, None)
            return
        written = self._windows.get(key)
        if written is None:
            engine = Engine(
                lambda conn_id=newest.conn_id: self._client_for(conn_id), group_options(options)
            )
            written = self._windows[key] = _Written(engine, name)
            log.info("ActivitySmith: group %s: writing its window of %d run(s)", name, len(rows))
        if closed:
            if _lease.mark_final(session, key, me, now, table=group_leases):
                written.engine.finish(state)
            del self._windows[key]
        else:
            written.engine.update(state)


def _member(row: Any) -> GroupMember:
    state = str(getattr(row.state, "value", row.state) or "")
    status = _RUN_STATUS.get(state, RunStatus.RUNNING)
    # When it was queued: a window's identity (its start) must not move when a run starts.
    first = row.queued_at or row.start_date
    started = first.timestamp() if first is not None else row.added_at
    ended = row.end_date.timestamp() if row.end_date is not None else None
    if status is not RunStatus.RUNNING and ended is None:
        ended = started
    return GroupMember(row.dag_id, row.run_id, status, started, ended)

"""Who writes a run: one lease per tracked run attempt in the metadata database.

The table ``activitysmith_run_lease`` (created by ``airflow db migrate``, see ``db_manager``)
holds one row per tracked run attempt, ``(dag_id, run_id, attempt)`` with ``attempt`` the run's
clear number: its ``owner`` (host, PID namespace, PID and a random token of the watcher that
holds it), when the lease expires, and whether the run's final state was delivered. Only the
owner sends for a run; a lease is renewed in one statement for all of a watcher's runs, taken
over when it expired (its owner died) or at once when its owner is a dead process on this host,
and never taken once the final state is sent. Rows are deleted a bounded time after they stop
changing.
Group windows have the same lease in their own table, ``activitysmith_group_lease`` keyed
``(grp, window)``: every function that takes a key takes ``table=`` too.

All of it is plain SQLAlchemy Core on the session Airflow gives (SQLite, PostgreSQL, MySQL).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    delete,
    insert,
    or_,
    select,
    tuple_,
    update,
)

from ._tables import RUN_LEASE, TABLES, metadata, run_leases

log = logging.getLogger("activitysmith_airflow.tracking")

TABLE = RUN_LEASE
TTL = 20.0
"""Seconds a lease lasts without renewal: a dead owner's runs are taken over within this."""
RENEW = 5.0
"""Seconds between two renewals (one statement for all of a watcher's runs)."""
RETAIN = 3600.0
"""Seconds a row is kept after it last changed (final sent, or abandoned) before deletion."""

leases = run_leases
"""The run leases; ``_tables.group_leases`` holds the group windows' (``_groups``), the same
columns but the key, so the functions below serve both (``table=``) and a run pass never sees
a window."""

Key = tuple[str, str, int]
"""A run attempt's lease: ``(dag_id, run_id, attempt)``."""
GroupKey = tuple[str, str]
"""A group window's lease (``group_leases``): ``(group, window start)``."""

RECHECK = 60.0
"""Seconds between two quiet looks for tables this process could not create."""
LOCK_WAIT_MS = 10_000
"""How long the fallback waits for Airflow's migration lock (a running ``airflow db migrate``)."""

_created: set[str] = set()
_unavailable: dict[str, float] = {}
_create_lock = threading.Lock()


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def new_owner() -> str:
    """This watcher's identity: ``host|pid-namespace|pid|token``."""
    host = socket.gethostname()[:180]
    return f"{host}|{_pid_namespace()}|{os.getpid()}|{secrets.token_hex(6)}"


def host_prefix() -> str:
    """The owners on this host and PID namespace start with this."""
    return f"{socket.gethostname()[:180]}|{_pid_namespace()}|"


def owner_is_dead(owner: str, me: str) -> bool:
    """Whether ``owner`` is a process of this host (and PID namespace) that no longer exists:
    a scheduler killed and restarted on the same machine gives its runs up at once."""
    prefix = host_prefix()
    if owner == me or not owner.startswith(prefix):
        return False
    try:
        pid = int(owner[len(prefix) :].split("|", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True  # an earlier watcher of this very process (a fork's parent token)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def ensure_table(session: Any) -> bool:
    """Whether the provider's tables are there (``airflow db migrate`` creates them).

    As a fallback they are created here, under Airflow's migration lock, and stamped at the
    head revision. A database user that may not create them gets one ERROR naming them and the
    command to run, and False (the caller tracks nothing); they are looked for again, quietly,
    every ``RECHECK`` seconds."""
    bind = session.get_bind()
    url = str(bind.url)
    if url in _created:
        return True
    with _create_lock:
        if url in _created:
            return True
        retry_at = _unavailable.get(url)
        if retry_at is not None and time.monotonic() < retry_at:
            return False
        missing = _missing(bind)
        if missing and retry_at is None:
            try:
                _create(session)
            except Exception as exc:
                missing = _missing(bind)
                if missing:
                    _report(missing, exc)
            else:
                missing = []
        if missing:
            _unavailable[url] = time.monotonic() + RECHECK
            return False
        if retry_at is not None:
            log.warning("ActivitySmith: the provider's tables are there now: tracking resumes")
            del _unavailable[url]
        _created.add(url)
        return True


def _missing(bind: Any) -> list[str]:
    from sqlalchemy import inspect

    inspector = inspect(bind)
    return [name for name in TABLES if not inspector.has_table(name)]


def _create(session: Any) -> None:
    """Create the tables and stamp the version table, as ``airflow db migrate`` would."""
    from airflow.utils.db import DBLocks, create_global_lock
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from .db_manager import VERSION_TABLE, ActivitySmithDBManager

    bind = session.get_bind()
    lock = create_global_lock(session, lock=DBLocks.MIGRATIONS, lock_timeout=LOCK_WAIT_MS)
    with lock, bind.begin() as conn:
        metadata.create_all(bind=conn, checkfirst=True)
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        if context.get_current_revision() is None:
            context.stamp(ScriptDirectory(ActivitySmithDBManager.migration_dir), "head")
    log.info("ActivitySmith: created the tables %s", ", ".join(TABLES))


def _report(missing: list[str], exc: Exception) -> None:
    from .get_provider_info import DB_MANAGER

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    log.error(
        "ActivitySmith: the tables %s are missing and this database user could not create them "
        "(%s). Run `airflow db migrate` (on Airflow 3.1 with [database] external_db_managers "
        "= %s); until they exist this process tracks no run.",
        ", ".join(missing),
        reason,
        DB_MANAGER,
    )


def insert_ignore(session: Any, table: Table = leases) -> Any:
    """An INSERT that leaves an existing row alone, in the database's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table).prefix_with("IGNORE")  # MySQL


def _keys(table: Table) -> list[Any]:
    """The key columns of a lease table: its primary key, in order."""
    return list(table.primary_key.columns)


def _is(table: Table, key: Key | GroupKey) -> Any:
    return and_(*(column == value for column, value in zip(_keys(table), key, strict=True)))


def claim(
    session: Any,
    key: Key | GroupKey,
    me: str,
    now: float,
    dead_owner: str | None = None,
    *,
    table: Table = leases,
) -> bool:
    """Take the lease of ``key`` in ``table`` if nobody holds it, it expired, ``dead_owner``
    holds it, or it is already ours; never once its final state was sent. True if ours."""
    values = {column.name: value for column, value in zip(_keys(table), key, strict=True)}
    inserted = session.execute(
        insert_ignore(session, table).values(
            **values, owner=me, expires_at=now + TTL, final_sent=False, updated_at=now
        )
    )
    if inserted.rowcount == 1:
        return True
    row = and_(_is(table, key), table.c.final_sent.is_(False))
    values = {"owner": me, "expires_at": now + TTL, "updated_at": now}
    if session.execute(update(table).where(row, table.c.owner == me).values(**values)).rowcount:
        return True
    holders = [table.c.expires_at < now]
    if dead_owner:
        holders.append(table.c.owner == dead_owner)
    taken = session.execute(update(table).where(row, or_(*holders)).values(**values))
    if taken.rowcount != 1:
        return False
    if table is leases:
        _took_over(key)  # type: ignore[arg-type]
    return True


def _took_over(key: Key) -> None:
    """A run another writer held (expired, or a dead process): the ``lease_takeover`` signal."""
    from activitysmith_core import stream_key
    from activitysmith_core.tracking import Signal, emit

    dag_id, run_id, attempt = key
    parts = (dag_id, run_id, f"attempt-{attempt}") if attempt else (dag_id, run_id)
    emit(Signal("lease_takeover", stream=stream_key("airflow", *parts)))


def renew(session: Any, me: str, now: float, *, table: Table = leases) -> set[Any]:
    """Extend all of this watcher's live leases in ``table`` (one statement); returns the keys
    it holds."""
    session.execute(
        update(table)
        .where(table.c.owner == me, table.c.final_sent.is_(False))
        .values(expires_at=now + TTL)
    )
    rows = session.execute(
        select(*_keys(table)).where(table.c.owner == me, table.c.final_sent.is_(False))
    ).all()
    return {tuple(row) for row in rows}


def mark_final(
    session: Any, key: Key | GroupKey, me: str, now: float, *, table: Table = leases
) -> bool:
    """Record that ``key``'s final state was delivered (or kept on disk by a stopping
    scheduler), if this watcher still holds it: True then, and no watcher sends for it again."""
    done = session.execute(
        update(table)
        .where(_is(table, key), table.c.owner == me, table.c.final_sent.is_(False))
        .values(final_sent=True, updated_at=now)
    )
    return bool(done.rowcount == 1)


def release(
    session: Any, keys: Iterable[Key | GroupKey], me: str, *, table: Table = leases
) -> None:
    """Give leases up (a stopping watcher): another takes them over at once."""
    keys = list(keys)
    if keys:
        session.execute(
            update(table)
            .where(tuple_(*_keys(table)).in_(keys), table.c.owner == me)
            .values(expires_at=0.0)
        )


def orphans(session: Any, me: str, now: float, limit: int) -> Sequence[Any]:
    """Unfinished leases whose owner may be gone (expired, or held by a process of this host,
    to check whether it died): ``(dag_id, run_id, attempt, owner, expires_at)``."""
    return list(
        session.execute(
            select(
                leases.c.dag_id,
                leases.c.run_id,
                leases.c.attempt,
                leases.c.owner,
                leases.c.expires_at,
            )
            .where(
                leases.c.final_sent.is_(False),
                leases.c.owner != me,
                or_(leases.c.expires_at < now, leases.c.owner.startswith(host_prefix())),
            )
            .limit(limit)
        ).all()
    )


def unleased(dag_id: Any, run_id: Any, attempt: Any) -> Any:
    """A condition for a query over runs: the run attempt has no lease row at all."""
    return ~(
        select(leases.c.dag_id)
        .where(
            and_(leases.c.dag_id == dag_id, leases.c.run_id == run_id, leases.c.attempt == attempt)
        )
        .exists()
    )


def purge(session: Any, now: float, *, table: Table = leases) -> None:
    """Delete rows a bounded time after they last changed (sent, or left by a deleted run)."""
    session.execute(
        delete(table).where(
            table.c.updated_at < now - RETAIN,
            or_(table.c.final_sent.is_(True), table.c.expires_at < now - RETAIN),
        )
    )

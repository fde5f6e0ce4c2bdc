"""The run leases on a real SQLite database (the PostgreSQL side runs in
test_single_writer.py): one holder at a time, takeover on expiry or a dead holder, never after
the final state, rows deleted a bounded time later."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from activitysmith_airflow import _lease

KEY = ("etl", "manual__1", 0)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Any]:
    engine = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    with Session(engine) as s:
        _lease.ensure_table(s)
        _lease.ensure_table(s)  # idempotent
        yield s
    engine.dispose()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_one_holder_until_it_expires(session: Any) -> None:
    a, b = _lease.new_owner(), _lease.new_owner()
    assert _lease.claim(session, KEY, a, 100.0)
    assert not _lease.claim(session, KEY, b, 101.0)
    assert _lease.claim(session, KEY, a, 102.0)  # its own: renewed
    assert _lease.renew(session, a, 110.0) == {KEY}
    assert not _lease.claim(session, KEY, b, 110.0 + _lease.TTL - 1)
    assert _lease.claim(session, KEY, b, 110.0 + _lease.TTL + 1)
    assert _lease.renew(session, a, 140.0) == set()  # a learns it lost the run
    assert not _lease.mark_final(session, KEY, a, 140.0)
    assert _lease.mark_final(session, KEY, b, 140.0)


def test_never_taken_after_the_final_state(session: Any) -> None:
    a, b = _lease.new_owner(), _lease.new_owner()
    assert _lease.claim(session, KEY, a, 100.0)
    assert _lease.mark_final(session, KEY, a, 101.0)
    assert not _lease.claim(session, KEY, b, 10_000.0)
    assert not _lease.claim(session, KEY, a, 10_000.0)
    assert not _lease.mark_final(session, KEY, a, 10_000.0)
    assert _lease.orphans(session, b, 10_000.0, 10) == []


def test_a_dead_holder_on_this_host_is_taken_over_at_once(session: Any) -> None:
    me = _lease.new_owner()
    dead = f"{_lease.host_prefix()}{_dead_pid()}|feedbeef"
    alive = _lease.new_owner()  # this process: alive
    assert _lease.owner_is_dead(dead, me)
    assert not _lease.owner_is_dead(me, me)
    assert not _lease.owner_is_dead("elsewhere|1|1|x", me)
    assert _lease.claim(session, KEY, dead, 100.0)
    assert [tuple(r)[:4] for r in _lease.orphans(session, me, 101.0, 10)] == [(*KEY, dead)]
    assert not _lease.claim(session, KEY, me, 101.0)  # not expired, no dead holder named
    assert _lease.claim(session, KEY, me, 101.0, dead_owner=dead)
    other = ("etl", "manual__2", 0)
    assert _lease.claim(session, other, alive, 100.0)
    assert not _lease.claim(session, other, me, 101.0, dead_owner=dead)


def test_a_cleared_run_is_a_new_lease(session: Any) -> None:
    a = _lease.new_owner()
    assert _lease.claim(session, KEY, a, 100.0)
    assert _lease.mark_final(session, KEY, a, 101.0)
    assert _lease.claim(session, ("etl", "manual__1", 1), a, 102.0)


def test_rows_are_deleted_a_bounded_time_after(session: Any) -> None:
    a, gone = _lease.new_owner(), _lease.new_owner()
    assert _lease.claim(session, KEY, a, 100.0)
    assert _lease.mark_final(session, KEY, a, 101.0)
    abandoned = ("etl", "manual__2", 0)
    assert _lease.claim(session, abandoned, gone, 100.0)
    live = ("etl", "manual__3", 0)
    assert _lease.claim(session, live, a, 100.0)

    def count() -> int:
        return int(session.execute(select(func.count()).select_from(_lease.leases)).scalar())

    _lease.purge(session, 100.0 + _lease.RETAIN / 2)
    assert count() == 3
    _lease.purge(session, 102.0 + _lease.RETAIN)
    assert count() == 2  # the final one went; the abandoned one expired too recently
    later = 200.0 + 2 * _lease.RETAIN
    assert _lease.renew(session, a, later) == {live}
    _lease.purge(session, later)
    assert count() == 1  # the live one stays: it is renewed


def test_group_windows_have_their_own_leases(session: Any) -> None:
    """A group window's lease lives in its own table: the run leases' functions on it
    (``table=``), invisible to a run pass (renew, orphans), and released at once on a stop."""
    from activitysmith_airflow._tables import group_leases

    a, b = _lease.new_owner(), _lease.new_owner()
    window = ("nightly", "1767225600")
    assert _lease.claim(session, window, a, 100.0, table=group_leases)
    assert _lease.claim(session, KEY, a, 100.0)
    assert not _lease.claim(session, window, b, 101.0, table=group_leases)
    assert _lease.renew(session, a, 102.0) == {KEY}  # runs only
    assert _lease.renew(session, a, 102.0, table=group_leases) == {window}
    assert _lease.orphans(session, b, 1_000.0, 10)[0][:3] == KEY
    assert len(_lease.orphans(session, b, 1_000.0, 10)) == 1
    _lease.release(session, [window], a, table=group_leases)
    assert _lease.claim(session, window, b, 103.0, table=group_leases)  # at once, not a TTL later
    assert _lease.renew(session, a, 104.0) == {KEY}  # the run's lease was left alone
    assert _lease.mark_final(session, window, b, 105.0, table=group_leases)
    assert not _lease.claim(session, window, a, 10_000.0, table=group_leases)
    _lease.purge(session, 106.0 + _lease.RETAIN, table=group_leases)
    count = session.execute(select(func.count()).select_from(group_leases)).scalar()
    assert count == 0

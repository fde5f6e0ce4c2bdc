"""A run joining its group on a real SQLite database: recorded once, and not at all while the
off switch (``[activitysmith] disabled``) is on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from activitysmith_airflow import _groups, _lease
from activitysmith_airflow._tables import group_runs
from activitysmith_airflow.tracking import TrackingSpec
from activitysmith_core.tracking import TrackerOptions


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Any]:
    engine = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    with Session(engine) as s:
        _lease.ensure_table(s)
        yield s
    engine.dispose()


def _count(session: Any) -> int:
    return int(session.execute(select(func.count()).select_from(group_runs)).scalar())


def test_no_group_join_while_switched_off(session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = TrackingSpec(options=TrackerOptions(group="nightly"))
    monkeypatch.setenv("AIRFLOW__ACTIVITYSMITH__DISABLED", "true")
    assert _groups.join(session, ("etl", "r1", 0), spec, 100.0) is spec
    assert _count(session) == 0
    monkeypatch.setenv("AIRFLOW__ACTIVITYSMITH__DISABLED", "false")
    assert _groups.join(session, ("etl", "r1", 0), spec, 101.0) is spec
    assert _groups.join(session, ("etl", "r1", 0), spec, 102.0) is spec  # a takeover: once
    assert _count(session) == 1
    plain = TrackingSpec()
    assert _groups.join(session, ("etl", "r2", 0), plain, 103.0) is plain  # no group, no row
    assert _count(session) == 1

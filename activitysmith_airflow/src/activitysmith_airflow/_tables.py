"""The provider's tables in Airflow's metadata database, declared once (SQLAlchemy Core).

``activitysmith_run_lease``: who writes each tracked run attempt (``_lease``).
``activitysmith_group_run``: the runs of each group (``_groups``).
``activitysmith_group_lease``: who writes each group window (``_groups``), apart from the runs'
leases so that a window is never mistaken for a run.

The DB manager's migrations create exactly these (``airflow db migrate``); the runtime creation
in ``_lease.ensure_table`` is only a fallback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

RUN_LEASE = "activitysmith_run_lease"
GROUP_RUN = "activitysmith_group_run"
GROUP_LEASE = "activitysmith_group_lease"


def _attempt() -> list[Column[Any]]:
    """A run attempt's key: what a run lease and a group's run name."""
    return [
        Column("dag_id", String(250), primary_key=True),
        Column("run_id", String(250), primary_key=True),
        Column("attempt", Integer, primary_key=True, autoincrement=False),
    ]


def _holder() -> list[Column[Any]]:
    """Who holds a lease, until when, and whether the final state went."""
    return [
        Column("owner", String(250), nullable=False),
        Column("expires_at", Float, nullable=False),
        Column("final_sent", Boolean, nullable=False, default=False),
        Column("updated_at", Float, nullable=False),
    ]


run_leases = Table(RUN_LEASE, metadata, *_attempt(), *_holder())

group_runs = Table(
    GROUP_RUN,
    metadata,
    Column("grp", String(100), primary_key=True),
    *_attempt(),
    Column("conn_id", String(250), nullable=False),
    Column("options", Text, nullable=False),
    Column("added_at", Float, nullable=False),
)

group_leases = Table(
    GROUP_LEASE,
    metadata,
    Column("grp", String(100), primary_key=True),
    Column("window", String(250), primary_key=True),
    *_holder(),
)

TABLES = (RUN_LEASE, GROUP_RUN, GROUP_LEASE)

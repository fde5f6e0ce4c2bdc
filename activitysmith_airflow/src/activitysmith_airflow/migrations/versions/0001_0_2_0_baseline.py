"""Baseline: the run leases, the group runs and the group-window leases.

Tables a scheduler already created at runtime (before the provider had migrations) are left as
they are and adopted.

Revision ID: a5b1c0de0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "a5b1c0de0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("activitysmith_run_lease", "activitysmith_group_run", "activitysmith_group_lease")


def _missing(name: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(name)


def _attempt() -> list[sa.Column[Any]]:
    return [
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    ]


def _holder() -> list[sa.Column[Any]]:
    return [
        sa.Column("owner", sa.String(250), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("final_sent", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    ]


def upgrade() -> None:
    if _missing("activitysmith_run_lease"):
        op.create_table("activitysmith_run_lease", *_attempt(), *_holder())
    if _missing("activitysmith_group_run"):
        op.create_table(
            "activitysmith_group_run",
            sa.Column("grp", sa.String(100), primary_key=True),
            *_attempt(),
            sa.Column("conn_id", sa.String(250), nullable=False),
            sa.Column("options", sa.Text, nullable=False),
            sa.Column("added_at", sa.Float, nullable=False),
        )
    if _missing("activitysmith_group_lease"):
        op.create_table(
            "activitysmith_group_lease",
            sa.Column("grp", sa.String(100), primary_key=True),
            sa.Column("window", sa.String(250), primary_key=True),
            *_holder(),
        )


def downgrade() -> None:
    for name in reversed(TABLES):
        if not _missing(name):
            op.drop_table(name)

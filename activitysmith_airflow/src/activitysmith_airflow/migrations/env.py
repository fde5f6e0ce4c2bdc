"""Alembic environment of the ActivitySmith provider's tables (version table of its own)."""

from __future__ import annotations

import contextlib
from typing import Any

from airflow import settings
from alembic import context

from activitysmith_airflow.db_manager import ActivitySmithDBManager

config = context.config
target_metadata = ActivitySmithDBManager.metadata
version_table = ActivitySmithDBManager.version_table_name


def include_object(_: Any, name: str | None, type_: str, *args: Any) -> bool:
    """Only the provider's tables: autogenerate never touches Airflow's."""
    return not (type_ == "table" and name not in target_metadata.tables)


# Both modes: the provider's tables only, batch mode for SQLite, its own version table.
COMMON: dict[str, Any] = {
    "target_metadata": target_metadata,
    "render_as_batch": True,
    "version_table": version_table,
    "include_object": include_object,
}


def run_migrations_offline() -> None:
    context.configure(url=settings.SQL_ALCHEMY_CONN, literal_binds=True, **COMMON)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with contextlib.ExitStack() as stack:
        connection = config.attributes.get("connection")
        if connection is None:
            assert settings.engine is not None
            connection = stack.enter_context(settings.engine.connect())
        context.configure(
            connection=connection, transaction_per_migration=True, compare_type=True, **COMMON
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""The provider's tables under ``airflow db``: a DB manager with alembic migrations.

Listed under ``db-managers`` in the provider info (found by Airflow 3.2 and later; on 3.1 name
it in ``[database] external_db_managers``), so ``airflow db migrate`` creates and upgrades the
tables of ``_tables`` and ``airflow db reset`` drops them, with the version table
``alembic_version_activitysmith`` apart from Airflow's own. The baseline revision adopts tables
that a scheduler created at runtime before this manager existed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.utils.db_manager import BaseDBManager

from ._tables import metadata

PACKAGE_DIR = Path(__file__).parent
VERSION_TABLE = "alembic_version_activitysmith"
HEAD = "a5b1c0de0001"
"""The newest revision (the baseline)."""


class ActivitySmithDBManager(BaseDBManager):  # type: ignore[misc]
    """Creates, upgrades and drops the provider's tables with ``airflow db``."""

    metadata = metadata
    version_table_name = VERSION_TABLE
    migration_dir = (PACKAGE_DIR / "migrations").as_posix()
    alembic_file = (PACKAGE_DIR / "migrations" / "alembic.ini").as_posix()
    supports_table_dropping = True
    revision_heads_map = {"0.1.0": HEAD}

    def upgradedb(
        self,
        to_revision: str | None = None,
        from_revision: str | None = None,
        show_sql_only: bool = False,
        use_migration_files: bool = False,
    ) -> None:
        """Upgrade through the migration files (Airflow 3.1 runs them as they are; the baseline
        leaves tables that already exist alone)."""
        from alembic import command

        self.log.info("Upgrading the ActivitySmith tables")
        command.upgrade(self._config(), revision=to_revision or "heads", sql=show_sql_only)

    def downgrade(
        self, to_revision: str, from_revision: str | None = None, show_sql_only: bool = False
    ) -> None:
        """Downgrade to ``to_revision`` (``base`` drops the tables)."""
        from alembic import command

        command.downgrade(self._config(), revision=to_revision, sql=show_sql_only)

    def _config(self) -> Any:
        return self.get_alembic_config()  # type: ignore[no-untyped-call]

    def drop_tables(self, connection: Any) -> None:
        """Drop the provider's tables and its version table (``airflow db reset``)."""
        from sqlalchemy import inspect

        for table in reversed(self.metadata.sorted_tables):
            if inspect(connection).has_table(table.name):
                self.log.info("Dropping table %s", table.name)
                table.drop(connection)
        version = self._get_migration_ctx()._version  # type: ignore[no-untyped-call]
        if inspect(connection).has_table(version.name):
            self.log.info("Dropping version table %s", version.name)
            version.drop(connection)

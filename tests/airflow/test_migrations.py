"""The provider's tables under ``airflow db``, on PostgreSQL and on the Airflow of the venv (3.3,
or 3.1 with ``[database] external_db_managers``):

- ``airflow db migrate`` creates the three tables and the version table, a second migrate keeps
  what they hold, ``airflow db reset`` drops them (and recreates them empty unless
  ``--skip-init``), tables a scheduler created before the migrations are adopted;
- the migration files create what ``_tables`` declares (no difference left to autogenerate);
- a scheduler whose database user may not create the missing tables logs one ERROR naming them
  and ``airflow db migrate``, tracks nothing, and finishes its runs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activitysmith_airflow._tables import TABLES
from activitysmith_airflow.db_manager import HEAD, VERSION_TABLE
from activitysmith_airflow.get_provider_info import DB_MANAGER

from . import _cluster
from ._cluster import AIRFLOW

needs_pg = _cluster.needs_postgres()
ALL = {*TABLES, VERSION_TABLE}


def test_the_migration_files_create_what_the_tables_declare(tmp_path: Path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect

    from activitysmith_airflow._tables import metadata
    from activitysmith_airflow.db_manager import ActivitySmithDBManager

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    config = ActivitySmithDBManager(None).get_alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= ALL
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert context.get_current_revision() == HEAD
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
        assert [d for d in diff if d[0] != "remove_table"] == []
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with engine.connect() as conn:
        assert not set(TABLES) & set(inspect(conn).get_table_names())
    engine.dispose()


@pytest.fixture(scope="module")
def pg() -> Iterator[int]:
    root = Path(tempfile.mkdtemp(prefix="airflow-migrations-"))
    os.chmod(root, 0o777)
    with _cluster.postgres(root) as port:
        yield port


def _env(port: int, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
            # what Airflow 3.1 needs (3.2+ finds the manager in the provider info too)
            "AIRFLOW__DATABASE__EXTERNAL_DB_MANAGERS": DB_MANAGER,
        }
    )
    return env


def _db(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [*AIRFLOW, "db", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def _sql(port: int, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    db = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    db.autocommit = True
    try:
        with db.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []
    finally:
        db.close()


def _tables(port: int) -> set[str]:
    rows = _sql(port, "SELECT tablename FROM pg_tables WHERE tablename LIKE '%activitysmith%'")
    return {r[0] for r in rows}


LEASE_ROW = (
    "INSERT INTO activitysmith_run_lease VALUES ('etl', 'manual__1', 0, 'x', 1.0, false, 1.0)"
)


@needs_pg
def test_airflow_db_migrate_creates_upgrades_and_reset_drops(pg: int, tmp_path: Path) -> None:
    env = _env(pg, tmp_path / "home")
    _db(env, "migrate")
    assert _tables(pg) == ALL
    assert _sql(pg, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    _sql(pg, LEASE_ROW)

    second = _db(env, "migrate")  # a no-op: nothing run, nothing lost
    assert "Running upgrade" not in second
    assert _sql(pg, "SELECT count(*) FROM activitysmith_run_lease") == [(1,)]
    assert _sql(pg, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]

    _db(env, "reset", "-y")  # dropped, then initialized again: empty
    assert _tables(pg) == ALL
    assert _sql(pg, "SELECT count(*) FROM activitysmith_run_lease") == [(0,)]

    _db(env, "reset", "-y", "--skip-init")
    assert _tables(pg) == set()


@needs_pg
def test_tables_created_at_runtime_before_the_migrations_are_adopted(
    pg: int, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine

    from activitysmith_airflow._tables import metadata

    env = _env(pg, tmp_path / "home")
    _db(env, "migrate")
    for name in (*TABLES, VERSION_TABLE):
        _sql(pg, f"DROP TABLE {name}")
    engine = create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    metadata.create_all(engine)  # what 0.1's schedulers did at runtime
    engine.dispose()
    _sql(pg, LEASE_ROW)
    _db(env, "migrate")
    assert _sql(pg, f"SELECT version_num FROM {VERSION_TABLE}") == [(HEAD,)]
    assert _sql(pg, "SELECT count(*) FROM activitysmith_run_lease") == [(1,)]


LIMITED = """
CREATE ROLE limited LOGIN;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO limited;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO limited;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO limited;
"""


@needs_pg
def test_a_scheduler_that_may_not_create_the_tables_says_so_once(sandbox: Any) -> None:
    with _cluster.cluster(
        sandbox,
        prefix="airflow-nocreate-",
        dags=("writer.py",),
        schedulers=0,
        extra_env=_cluster.api_env(),
    ) as found:
        port = found["pg_port"]
        for name in (*TABLES, VERSION_TABLE):  # the provider installed after the last migrate
            _sql(port, f"DROP TABLE IF EXISTS {name}")
        _sql(port, LIMITED)
        env = dict(found["env"])
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
            f"postgresql+psycopg2://limited@127.0.0.1:{port}/postgres"
        )
        _cluster.start(found, "scheduler", [*AIRFLOW, "scheduler"], env)
        _cluster.run(found, "ha4")
        _cluster.run(found, "ha4")
        time.sleep(2 * 5.0)  # a few more lease passes
        log = (found["root"] / "scheduler.log").read_text()
        errors = [line for line in log.splitlines() if "ActivitySmith: the tables" in line]
        assert len(errors) == 1, errors
        for name in TABLES:
            assert name in errors[0]
        assert "airflow db migrate" in errors[0]
        assert "password" not in errors[0].lower()
        assert "lease pass failed" not in log
        assert not [r for r in sandbox.requests if "ha4" in r.path]
        assert _tables(port) == set()

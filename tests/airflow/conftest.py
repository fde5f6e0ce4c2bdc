"""Real Airflow: one migrated SQLite AIRFLOW_HOME per session, set before Airflow is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.records import push_bodies as pushes  # noqa: F401 (re-exported for the tests)
from tests.records import stream_states as stream_bodies  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples" / "airflow"
TEST_DAGS = Path(__file__).parent / "dags"
HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
DAGS_FOLDER = HOME / "dags"  # examples and test DAGs together: dag.test() needs them in it
DAGS_FOLDER.mkdir()
for _src in (*EXAMPLES.glob("*.py"), *TEST_DAGS.glob("*.py")):
    (DAGS_FOLDER / _src.name).symlink_to(_src)
os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__API__BASE_URL": "http://airflow.test:8080",
        "ACTIVITYSMITH_STATE_DIR": str(HOME / "state"),  # STATE_DIR
        # dag.test() runs tasks in milliseconds: pace updates fast enough to see mid-run states.
        "AIRFLOW__ACTIVITYSMITH__INTERVAL": "0.05",
    }
)


def _airflow_version() -> tuple[int, int]:
    from importlib.metadata import version

    major, minor = version("apache-airflow").split(".")[:2]
    return int(major), int(minor)


AIRFLOW_32 = _airflow_version() >= (3, 2)


def pytest_sessionstart(session: pytest.Session) -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )


def conn_json(sandbox: Any, **extra: Any) -> str:
    return json.dumps(
        {
            "conn_type": "activitysmith",
            "password": sandbox.api_key,
            "host": sandbox.url,
            "extra": extra,
        }
    )


STATE_DIR = HOME / "state"


def cool_down_passed() -> None:
    """Forget that an earlier request found the API down, as if its cool-down had passed."""
    for mark in STATE_DIR.glob("down-*"):
        mark.unlink()


@pytest.fixture
def airflow_sandbox(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The sandbox, with ``activitysmith_default`` pointing at it, and nothing kept on disk
    from an earlier test."""
    import shutil

    shutil.rmtree(STATE_DIR, ignore_errors=True)
    monkeypatch.setenv("AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT", conn_json(sandbox))
    yield sandbox


def load_dag(dag_id: str, folder: Path = DAGS_FOLDER) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(str(folder))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not found in {folder}"
    return dag


@pytest.fixture(scope="module")
def sandbox_module() -> Iterator[Any]:
    """A sandbox of the module's own, for a real deployment whose processes outlive one test."""
    from activitysmith_core.sandbox import Sandbox

    server = Sandbox().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(sandbox_module: Any) -> Iterator[dict]:
    """The default real deployment (``_cluster.cluster``: PostgreSQL, LocalExecutor, wide.py);
    a module that needs more (a broker, other DAGs, an API client) overrides this fixture."""
    from . import _cluster

    with _cluster.cluster(sandbox_module) as found:
        yield found

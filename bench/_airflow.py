"""What the Airflow benchmarks share: a throwaway ``AIRFLOW_HOME`` (set before Airflow is
imported), its migrated database, the ActivitySmith connection on a sandbox, a DagBag, and a
PostgreSQL deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def home(prefix: str, *, log_level: str = "ERROR", dags: bool = True) -> Path:
    """A fresh ``AIRFLOW_HOME`` (with a ``dags`` folder unless ``dags=False``) for this process
    and the processes it starts; call it before importing Airflow."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        AIRFLOW_HOME=str(root),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL=log_level,
        ACTIVITYSMITH_STATE_DIR=str(root / "state"),
    )
    if dags:
        (root / "dags").mkdir()
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(root / "dags")
    return root


def migrate() -> None:
    """Create the home's metadata database."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )


def connect(url: str, key: str) -> None:
    """The ``activitysmith_default`` connection, on the sandbox at ``url``."""
    os.environ["AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT"] = json.dumps(
        {"conn_type": "activitysmith", "password": key, "host": f"{url}/api"}
    )


def dagbag(folder: Path) -> Any:
    """The DAGs of ``folder`` (the DagBag's home moved in Airflow 3.1)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(str(folder))


@contextmanager
def deployment(name: str, env: dict[str, str]) -> Iterator[tuple[Any, dict]]:
    """An in-process sandbox, and on it the PostgreSQL deployment of tests/airflow/_cluster.py
    with the DAG file ``<name>.py``, its DAGs ``<name>_tracked`` and ``<name>_plain`` unpaused
    (``env``: its settings)."""
    from activitysmith_core.sandbox import Sandbox
    from tests.airflow import _cluster

    sandbox = Sandbox().start()
    try:
        with _cluster.driven(
            sandbox,
            unpaused=(f"{name}_tracked", f"{name}_plain"),
            prefix=f"bench-{name}-",
            dags=(f"{name}.py",),
            extra_env=env,
        ) as cluster:
            yield sandbox, cluster
    finally:
        sandbox.stop()

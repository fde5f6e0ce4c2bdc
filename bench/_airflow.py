"""What the Airflow benchmarks share: a throwaway ``AIRFLOW_HOME`` (set before Airflow is
imported), its migrated database, the ActivitySmith connection on a sandbox, and a DagBag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
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

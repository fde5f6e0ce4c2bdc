"""The built distributions as a user gets them: the wheels in ``dist/`` (``make dist``) installed
with plain pip into clean virtual environments beside Airflow 3.1 and, separately, Prefect 3.6;
a tracked DAG run and a tracked flow run then start and end a Live Activity on the sandbox.

Third-party wheels are kept in a wheelhouse (``$ACTIVITYSMITH_WHEELHOUSE``, default
``~/.cache/activitysmith-workflows/wheelhouse``) filled from the registry on the first run, so
later runs install offline; the venvs themselves are always new.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("ACTIVITYSMITH_DIST_DIR", ROOT / "dist"))
WHEELHOUSE = Path(
    os.environ.get(
        "ACTIVITYSMITH_WHEELHOUSE",
        Path.home() / ".cache" / "activitysmith-workflows" / "wheelhouse",
    )
)
AIRFLOW = ["apache-airflow==3.1.*"]
PREFECT = ["prefect==3.6.*", "fastapi<0.121"]  # Prefect 3.6 breaks on newer FastAPI

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in ("core", "airflow", "prefect"):
        matches = sorted(DIST.glob(f"activitysmith_{name}-*-py3-none-any.whl"))
        assert len(matches) == 1, f"expected one activitysmith-{name} wheel in {DIST}: make dist"
        found[name] = matches[0]
    assert len(list(DIST.glob("activitysmith_*.tar.gz"))) == 3, f"three sdists in {DIST}"
    return found


def _env(venv: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without anything of this test run's Airflow, Prefect,
    ActivitySmith or virtualenv settings, with the venv's bin first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "PREFECT", "ACTIVITYSMITH", "PYTEST"))
        and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def _run(args: list[Any], env: dict[str, str], timeout: float = 600) -> str:
    started = time.monotonic()
    proc = subprocess.run(
        [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout
    )
    took = time.monotonic() - started
    print(f"[{took:6.1f}s] {' '.join(Path(str(a)).name for a in args[:6])}")
    assert proc.returncode == 0, (
        f"{args} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def _new_venv(
    tmp_path: Path, wheels: dict[str, Path], package: str, requirements: list[str]
) -> tuple[Path, Path]:
    """A new venv ``venv-<package>`` with the core's and ``package``'s wheels and
    ``requirements`` installed by pip; the venv and its python."""
    path = tmp_path / f"venv-{package}"
    ours = [wheels["core"], wheels[package]]
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    env = _env(path)
    house = WHEELHOUSE / re.sub(r"[^A-Za-z0-9.]+", "-", "_".join(requirements).replace("*", "x"))
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    install = [*pip, "install", "-q", "--no-index", "--find-links", house, *ours, *requirements]
    started = time.monotonic()
    if house.is_dir():
        proc = subprocess.run([str(a) for a in install], env=env, capture_output=True, text=True)
        if proc.returncode == 0:
            print(f"[{time.monotonic() - started:6.1f}s] pip install from {house}")
            return path, python
    # first run, or our wheels now need something the wheelhouse lacks: fill it from the registry
    _run([*pip, "wheel", "-q", "--wheel-dir", house, *ours, *requirements], env)
    for own in house.glob("activitysmith_*"):
        own.unlink()
    _run(install, env)
    return path, python


def _json_list(out: str) -> list[Any]:
    """The JSON list in a command's output, whatever log lines come before it."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("["):
            try:
                value, _ = json.JSONDecoder().raw_decode("\n".join(lines[i:]).lstrip())
            except json.JSONDecodeError:
                continue
            if isinstance(value, list):
                return value
    raise AssertionError(f"no JSON list in:\n{out[-4000:]}")


def _stream_calls(sandbox: Any) -> dict[str, list[tuple[str, int | None]]]:
    streams: dict[str, list[tuple[str, int | None]]] = {}
    for r in sandbox.requests:
        if "/live-activity/stream/" in r.path:
            streams.setdefault(r.path, []).append((r.method, r.status))
    return streams


def _assert_one_activity_started_and_ended(sandbox: Any) -> None:
    streams = _stream_calls(sandbox)
    assert len(streams) == 1, f"one Live Activity per run: {streams}"
    [(path, calls)] = streams.items()
    assert ("PUT", 200) in calls, f"{path} never started: {calls}"
    assert calls[-1] == ("DELETE", 200), f"{path} did not end: {calls}"


def test_wheels_install_beside_airflow_31_and_track_a_dag_run(
    wheels: dict[str, Path], sandbox: Any, tmp_path: Path
) -> None:
    venv, python = _new_venv(tmp_path, wheels, "airflow", AIRFLOW)
    home = tmp_path / "airflow-home"
    (home / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "dags_examples" / "airflow" / "etl_dag.py", home / "dags")
    conn = {"conn_type": "activitysmith", "password": sandbox.api_key, "host": sandbox.url}
    env = _env(
        venv,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__API__BASE_URL="http://airflow.test:8080",
        AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT=json.dumps(conn),
        ACTIVITYSMITH_STATE_DIR=str(tmp_path / "state"),
    )
    version = _run([python, "-c", "import airflow; print(airflow.__version__)"], env)
    assert version.strip().splitlines()[-1].startswith("3.1."), version
    airflow = venv / "bin" / "airflow"
    _run([airflow, "db", "migrate"], env)
    _run([airflow, "dags", "test", "activitysmith_etl"], env)
    out = _run([airflow, "dags", "list-runs", "activitysmith_etl", "-o", "json"], env)
    runs = _json_list(out)
    assert [r["state"] for r in runs] == ["success"], runs
    _assert_one_activity_started_and_ended(sandbox)


FLOW = """
from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks


@task
def double(x: int) -> int:
    return 2 * x


@flow(name="dist-check", **activitysmith_hooks(None))
def dist_check() -> int:
    return sum(f.result() for f in double.map([1, 2, 3]))


if __name__ == "__main__":
    print("result:", dist_check())
"""


def test_wheels_install_beside_prefect_36_and_track_a_flow_run(
    wheels: dict[str, Path], sandbox: Any, tmp_path: Path
) -> None:
    venv, python = _new_venv(tmp_path, wheels, "prefect", PREFECT)
    script = tmp_path / "dist_check.py"
    script.write_text(FLOW)
    env = _env(
        venv,
        PREFECT_HOME=str(tmp_path / "prefect-home"),  # no PREFECT_API_URL: a temporary server
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # a user's machine starts it in seconds; a loaded CI host can take more than the 20 s default
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        ACTIVITYSMITH_API_KEY=sandbox.api_key,
        ACTIVITYSMITH_BASE_URL=sandbox.url,
        ACTIVITYSMITH_STATE_DIR=str(tmp_path / "state"),
    )
    version = _run([python, "-c", "import prefect; print(prefect.__version__)"], env)
    assert version.strip().splitlines()[-1].startswith("3.6."), version
    out = _run([python, script], env)
    assert "result: 12" in out, out
    _assert_one_activity_started_and_ended(sandbox)

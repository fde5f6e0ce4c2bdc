"""Airflow's real scheduler and LocalExecutor on PostgreSQL: tracked DAGs whose tasks finish in
parallel on several worker processes. The sandbox's record must show one stream per run, a count
that never goes backwards in the order received, the right final state, and bounded requests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import stream_key

PG = (
    next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
    if Path("/usr/lib/postgresql").exists()
    else None
)
pytestmark = pytest.mark.skipif(
    PG is None and not os.environ.get("CI"),
    reason="PostgreSQL not installed (apt-get install postgresql)",
)
HERE = Path(__file__).parent
AIRFLOW = [sys.executable, "-m", "airflow"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120
    )


@pytest.fixture(scope="module")
def cluster(sandbox_module: Any) -> Iterator[dict]:
    assert PG is not None
    root = Path(tempfile.mkdtemp(prefix="airflow-pg-"))  # the postgres user must reach it
    os.chmod(root, 0o777)
    data = root / "data"
    pg_port, api_port = _port(), _port()
    _as_postgres(str(PG / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    _as_postgres(
        str(PG / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(root / "pg.log"),
        "-o",
        f"-p {pg_port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200",
        "start",
    )
    home = root / "airflow"
    (home / "dags").mkdir(parents=True)
    shutil.copy(HERE / "concurrency_dags" / "wide.py", home / "dags" / "wide.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/postgres",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "test-secret-for-the-concurrency-test",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT": json.dumps(
                {
                    "conn_type": "activitysmith",
                    "password": sandbox_module.api_key,
                    "host": sandbox_module.url,
                }
            ),
            "ACTIVITYSMITH_STATE_DIR": str(root / "state"),
        }
    )
    migrate = subprocess.run(
        [*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    logs = [open(root / f"{name}.log", "w") for name in ("api", "scheduler", "dags")]  # noqa: SIM115
    commands = (["api-server", "--port", str(api_port)], ["scheduler"], ["dag-processor"])
    procs = [
        subprocess.Popen([*AIRFLOW, *cmd], env=env, stdout=log, stderr=subprocess.STDOUT)
        for cmd, log in zip(commands, logs, strict=True)
    ]
    try:
        yield {"env": env, "root": root, "pg_port": pg_port}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
        _as_postgres(str(PG / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")


@pytest.fixture(scope="module")
def sandbox_module() -> Iterator[Any]:
    from activitysmith_core.sandbox import Sandbox

    server = Sandbox().start()
    yield server
    server.stop()


def _cli(env: dict, *args: str) -> str:
    out = subprocess.run([*AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def _run(cluster: dict, dag_id: str, timeout: float = 420, expect: str = "success") -> str:
    import psycopg2

    env = cluster["env"]
    db = psycopg2.connect(
        host="127.0.0.1", port=cluster["pg_port"], user="postgres", dbname="postgres"
    )
    db.autocommit = True

    def query(sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with db.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    deadline = time.monotonic() + 120
    while not query("SELECT 1 FROM dag WHERE dag_id = %s", dag_id):
        assert time.monotonic() < deadline, "the DAG processor never parsed the DAG"
        time.sleep(1)
    run_id = f"concurrency__{dag_id}__{int(time.time())}"
    _cli(env, "dags", "unpause", dag_id)
    _cli(env, "dags", "trigger", dag_id, "--run-id", run_id)
    cluster.setdefault("triggered", {})[run_id] = time.time()
    deadline = time.monotonic() + timeout
    while True:
        (state,) = query(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run_id
        )[0]
        if state in ("success", "failed"):
            assert state == expect
            db.close()
            return run_id
        assert time.monotonic() < deadline, f"{dag_id} still {state}; logs in {cluster['root']}"
        time.sleep(1)


def _check(sandbox: Any, dag_id: str, run_id: str, segments: int, instances: int) -> None:
    key = stream_key("airflow", dag_id, run_id)
    deadline = time.monotonic() + 30
    while sandbox.activities.get(key, {}).get("status") not in ("ended", "dismissed"):
        assert time.monotonic() < deadline, "the final state never arrived"
        time.sleep(0.5)
    reqs = sandbox.stream_requests(key)
    assert {r.path for r in sandbox.requests if dag_id in r.path} == {reqs[0].path}
    steps = [r.body["content_state"]["current_step"] for r in reqs if r.status == 200]
    assert steps == sorted(steps), f"current_step went backwards: {steps}"
    final = reqs[-1].body["content_state"]
    assert reqs[-1].method == "DELETE"
    assert final["number_of_steps"] == final["current_step"] == segments
    assert final["step_colors"] == ["green"] * segments
    assert len(reqs) <= 2 * instances + 1, f"{len(reqs)} requests for {instances} instances"


def test_16_parallel_tasks(cluster: dict, sandbox_module: Any) -> None:
    run_id = _run(cluster, "wide16")
    _check(sandbox_module, "wide16", run_id, segments=16, instances=16)


def test_50_way_mapped_task(cluster: dict, sandbox_module: Any) -> None:
    run_id = _run(cluster, "mapped50")
    _check(sandbox_module, "mapped50", run_id, segments=2, instances=51)


def _query(cluster: dict, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg2

    db = psycopg2.connect(
        host="127.0.0.1", port=cluster["pg_port"], user="postgres", dbname="postgres"
    )
    try:
        with db.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        db.close()


def _start_delay(cluster: dict, dag_id: str, run_id: str) -> float:
    """Seconds from the trigger to the run's first task starting."""
    ((started,),) = _query(
        cluster,
        "SELECT min(start_date) FROM task_instance WHERE dag_id = %s AND run_id = %s",
        dag_id,
        run_id,
    )
    return float(started.timestamp() - cluster["triggered"][run_id])


def _scheduler_alive(cluster: dict) -> None:
    rows = _query(
        cluster,
        "SELECT state, extract(epoch from now() - latest_heartbeat) FROM job "
        "WHERE job_type = 'SchedulerJob' ORDER BY id DESC LIMIT 1",
    )
    assert rows and rows[0][0] == "running", rows
    assert float(rows[0][1]) < 30, f"scheduler heartbeat {rows[0][1]} s old"


def test_tag_listener_under_a_real_scheduler(cluster: dict, sandbox_module: Any) -> None:
    """The listener runs in the scheduler: it survives the tracked run's end, the run gets its
    DELETE, and the failure push carries the task's own error (left by the task process)."""
    before = len(sandbox_module.pushes)
    run_id = _run(cluster, "tagged8", expect="failed")
    key = stream_key("airflow", "tagged8", run_id)
    deadline = time.monotonic() + 30
    while sandbox_module.activities.get(key, {}).get("status") not in ("ended", "dismissed"):
        assert time.monotonic() < deadline, "the final state never arrived"
        time.sleep(0.5)
    reqs = sandbox_module.stream_requests(key)
    assert reqs[-1].method == "DELETE" and [r.method for r in reqs].count("DELETE") == 1
    final = reqs[-1].body["content_state"]
    assert final["current_step"] == final["number_of_steps"] == 8
    assert final["badge"]["title"] == "Failed"
    steps = [r.body["content_state"]["current_step"] for r in reqs if r.status == 200]
    assert steps == sorted(steps)
    deadline = time.monotonic() + 15
    while len(sandbox_module.pushes) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    [push] = sandbox_module.pushes[before:]
    assert push["title"] == "tagged8: broken failed"
    assert push["message"] == "RuntimeError: the tagged task broke"
    assert "/tasks/broken" in push["redirection"]
    _scheduler_alive(cluster)
    _run(cluster, "plain")  # and it goes on scheduling


def test_a_hanging_api_holds_up_nothing(cluster: dict, sandbox_module: Any) -> None:
    """With every request hanging, untracked runs start as fast as with the API answering,
    tracked tasks start without waiting, and the scheduler's heartbeat stays fresh."""
    from activitysmith_core.sandbox import Faults

    ok_run = _run(cluster, "plain")
    answering = _start_delay(cluster, "plain", ok_run)
    sandbox_module.set_faults(Faults(hang_rate=1.0, hang_seconds=120))
    try:
        tracked_run = _run(cluster, "tagged8", expect="failed")
        hung_run = _run(cluster, "plain")
        hanging = _start_delay(cluster, "plain", hung_run)
        tracked_start = _start_delay(cluster, "tagged8", tracked_run)
        _scheduler_alive(cluster)
    finally:
        sandbox_module.set_faults(Faults())
    assert hanging <= answering + 5, (hanging, answering)
    assert tracked_start <= answering + 5, (tracked_start, answering)

"""A real Airflow deployment for the tests that need one: PostgreSQL (Debian's packages), the
API server, the scheduler and the DAG processor as subprocesses, plus whatever else a test
starts beside them (Redis, Celery workers). Shared by test_concurrency_postgres.py and
test_celery.py; every process is started here by the test and stopped by it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

from activitysmith_core import stream_key

PG = (
    next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
    if Path("/usr/lib/postgresql").exists()
    else None
)
HERE = Path(__file__).parent
AIRFLOW = [sys.executable, "-m", "airflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(*cmd: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120
    )


@contextmanager
def postgres(root: Path) -> Iterator[int]:
    """A throwaway PostgreSQL cluster under ``root`` (reachable by the postgres user); yields
    its port."""
    assert PG is not None
    data = root / "data"
    pg_port = free_port()
    as_postgres(str(PG / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    as_postgres(
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
    try:
        yield pg_port
    finally:
        as_postgres(str(PG / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")


def start(cluster: dict, name: str, cmd: Sequence[str], env: dict[str, str]) -> Any:
    """Start a process of the deployment (output in ``<root>/<name>.log``), in its own process
    group; all are stopped together when the cluster ends."""
    if "procs" not in cluster:
        cluster["procs"] = []
        cluster["stack"].callback(_stop_all, cluster["procs"])
    log = open(cluster["root"] / f"{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        list(cmd), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    cluster["procs"].append((proc, log))
    return proc


def _stop_all(procs: list[tuple[Any, Any]]) -> None:
    for proc, _ in reversed(procs):
        proc.terminate()
    deadline = time.monotonic() + 30
    for proc, log in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        with suppress(ProcessLookupError, PermissionError):  # what it left in its group
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextmanager
def cluster(
    sandbox: Any,
    *,
    prefix: str = "airflow-pg-",
    executor: str = "LocalExecutor",
    extra_env: dict[str, str] | None = None,
    before_migrate: Any = None,
    schedulers: int = 1,
    dags: Sequence[str] = ("wide.py",),
) -> Iterator[dict]:
    """PostgreSQL, a migrated AIRFLOW_HOME with the concurrency DAGs (``dags``: files of
    ``concurrency_dags``), then the API server, ``schedulers`` schedulers and the DAG processor.
    ``before_migrate(cluster)`` may start what the deployment needs first (a broker) and add to
    ``cluster["env"]``. Yields a dict: ``env``, ``root``, ``pg_port``, ``home``, ``api_url``,
    ``schedulers`` (their processes, see :func:`kill_scheduler` and :func:`start_scheduler`)
    and ``stack`` (an ExitStack for more processes)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))  # the postgres user must reach it
    os.chmod(root, 0o777)
    with ExitStack() as stack:
        pg_port = stack.enter_context(postgres(root))
        api_port = free_port()
        home = root / "airflow"
        (home / "dags").mkdir(parents=True)
        for name in dags:
            shutil.copy(HERE / "concurrency_dags" / name, home / "dags" / name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": executor,
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
                        "password": sandbox.api_key,
                        "host": sandbox.url,
                    }
                ),
                "ACTIVITYSMITH_STATE_DIR": str(root / "state"),
                **(extra_env or {}),
            }
        )
        found = {
            "env": env,
            "root": root,
            "pg_port": pg_port,
            "home": home,
            "stack": stack,
            "api_url": f"http://127.0.0.1:{api_port}",
            "schedulers": [],
        }
        if before_migrate is not None:
            before_migrate(found)
        migrate = subprocess.run(
            [*AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
        )
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        start(found, "api", [*AIRFLOW, "api-server", "--port", str(api_port)], env)
        for _ in range(schedulers):
            start_scheduler(found)
        start(found, "dags", [*AIRFLOW, "dag-processor"], env)
        yield found


@contextmanager
def driven(
    sandbox: Any, *, unpaused: Sequence[str], timeout: float = 180, **options: Any
) -> Iterator[dict]:
    """``cluster(sandbox, **options)`` with its REST client as ``found["client"]`` and the DAGs
    ``unpaused`` parsed and unpaused (``timeout`` seconds each)."""
    with cluster(sandbox, **options) as found:
        client = api(found)
        found["client"] = client
        unpause(found, *unpaused, timeout=timeout)
        yield found
        client.close()


def trigger(cluster: dict, dag_id: str) -> str:
    """Start a run of ``dag_id`` through the REST API; its run id."""
    reply = cluster["client"].post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
    reply.raise_for_status()
    return str(reply.json()["dag_run_id"])


def start_scheduler(cluster: dict) -> Any:
    """Start one more scheduler (``scheduler.log``, ``scheduler-2.log``, ...)."""
    count = len(cluster["schedulers"])
    name = "scheduler" if count == 0 else f"scheduler-{count + 1}"
    proc = start(cluster, name, [*AIRFLOW, "scheduler"], cluster["env"])
    cluster["schedulers"].append(proc)
    return proc


def kill_scheduler(cluster: dict, proc: Any) -> None:
    """``kill -9`` of a scheduler's own process (what it started is left running, as a crash
    leaves it; the cluster's end stops its process group)."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def api_env(**options: object) -> dict[str, str]:
    """Settings of a cluster driven through its REST API (every user an admin), plus
    ``section__key=value`` options as ``AIRFLOW__SECTION__KEY``."""
    env = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    env.update({f"AIRFLOW__{name.upper()}": str(value) for name, value in options.items()})
    return env


def needs_postgres() -> Any:
    """The mark that skips a test or module where PostgreSQL is not installed (never on CI)."""
    import pytest

    return pytest.mark.skipif(
        PG is None and not os.environ.get("CI"),
        reason="PostgreSQL not installed (apt-get install postgresql)",
    )


def unpause(cluster: dict, *dag_ids: str, timeout: float = 180) -> None:
    """Wait (``timeout`` seconds each) until the DAG processor has parsed each of ``dag_ids``,
    then unpause it through ``cluster["client"]``."""
    client = cluster["client"]
    for dag_id in dag_ids:
        deadline = time.monotonic() + timeout
        while client.get(f"/dags/{dag_id}").status_code != 200:
            assert time.monotonic() < deadline, f"{dag_id} never parsed; logs in {cluster['root']}"
            time.sleep(1)
        client.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()


def api(cluster: dict) -> Any:
    """An HTTP client on the deployment's REST API (needs
    ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True``)."""
    import httpx

    base = cluster["api_url"]
    deadline = time.monotonic() + 120
    while True:
        try:
            token = httpx.get(f"{base}/auth/token", timeout=10).json()["access_token"]
            break
        except (httpx.HTTPError, ValueError, KeyError):
            assert time.monotonic() < deadline, "the API server never answered"
            time.sleep(1)
    return httpx.Client(
        base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([*AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def query(cluster: dict, sql: str, *args: Any) -> list[tuple[Any, ...]]:
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


def run(cluster: dict, dag_id: str, timeout: float = 420, expect: str = "success") -> str:
    """Trigger ``dag_id`` (once the DAG processor has parsed it) and wait for the run's end."""
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

    try:
        deadline = time.monotonic() + 120
        while not query("SELECT 1 FROM dag WHERE dag_id = %s", dag_id):
            assert time.monotonic() < deadline, "the DAG processor never parsed the DAG"
            time.sleep(1)
        run_id = f"concurrency__{dag_id}__{int(time.time())}"
        cli(env, "dags", "unpause", dag_id)
        cli(env, "dags", "trigger", dag_id, "--run-id", run_id)
        cluster.setdefault("triggered", {})[run_id] = time.time()
        deadline = time.monotonic() + timeout
        while True:
            (state,) = query(
                "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", dag_id, run_id
            )[0]
            if state in ("success", "failed"):
                assert state == expect, f"{dag_id} {state}; logs in {cluster['root']}"
                return run_id
            assert time.monotonic() < deadline, f"{dag_id} still {state}; logs in {cluster['root']}"
            time.sleep(1)
    finally:
        db.close()


def wait_final(sandbox: Any, key: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sandbox.activities.get(key, {}).get("status") not in ("ended", "dismissed"):
        assert time.monotonic() < deadline, "the final state never arrived"
        time.sleep(0.5)


def new_push(sandbox: Any, before: int, timeout: float = 15) -> Any:
    """The one push the sandbox received after its first ``before`` (waits ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while len(sandbox.pushes) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    [push] = sandbox.pushes[before:]
    return push


def final_requests(sandbox: Any, key: str, timeout: float = 60) -> list[Any]:
    """The stream's requests once its final state arrived; checks the count never went back and
    that the one accepted DELETE is the stream's last request (a start the account had no slot
    for is refused and retried by the sender: refused requests are in the record too)."""
    wait_final(sandbox, key, timeout)
    reqs = list(sandbox.stream_requests(key))
    seen = [(r.method, r.status) for r in reqs]
    ended = [i for i, r in enumerate(reqs) if r.method == "DELETE" and r.status == 200]
    assert len(ended) == 1 and ended[0] == len(reqs) - 1, f"{key}: requests after the end: {seen}"
    steps = [r.body["content_state"]["current_step"] for r in reqs if r.status == 200]
    assert steps == sorted(steps), f"{key}: current_step went backwards: {steps}"
    return reqs


def check(sandbox: Any, dag_id: str, run_id: str, segments: int, instances: int) -> list[Any]:
    """One stream for the run, a count that never goes backwards in the order received, a
    final all-green DELETE, and at most 2 requests per task instance (+1). Returns the run's
    requests."""
    key = stream_key("airflow", dag_id, run_id)
    wait_final(sandbox, key)
    reqs = sandbox.stream_requests(key)
    assert {r.path for r in sandbox.requests if dag_id in r.path} == {reqs[0].path}
    steps = [r.body["content_state"]["current_step"] for r in reqs if r.status == 200]
    assert steps == sorted(steps), f"current_step went backwards: {steps}"
    final = reqs[-1].body["content_state"]
    assert reqs[-1].method == "DELETE"
    assert final["number_of_steps"] == final["current_step"] == segments
    assert final["step_colors"] == ["green"] * segments
    assert len(reqs) <= 2 * instances + 1, f"{len(reqs)} requests for {instances} instances"
    return list(reqs)

"""Airflow's CeleryExecutor as deployed: PostgreSQL, Redis as the broker, the API server, the
scheduler, the DAG processor, and two ``airflow celery worker`` processes that share no folder
(each its own HOME, TMPDIR, AIRFLOW_HOME copy and ActivitySmith state folder, and its own host
name, as on two hosts). Tasks of one tracked run finish on both workers; the scheduler's watcher
is the run's one writer. The sandbox's record must show a count that never goes backwards in the
order received, the right final state, bounded requests, and the failure push carrying the error
that a task process on a worker left (an XCom written through the API server)."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import stream_key

from . import _cluster
from ._cluster import AIRFLOW, PG, free_port, query, start

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    (PG is None or REDIS is None) and not os.environ.get("CI"),
    reason="PostgreSQL or Redis not installed (apt-get install postgresql redis-server)",
)
WORKERS = ("celery-host-a", "celery-host-b")


def _broker(cluster: dict) -> None:
    """Redis on a loopback port, nothing saved; the deployment's broker."""
    import redis

    assert REDIS is not None
    port = free_port()
    folder = cluster["root"] / "redis"
    folder.mkdir()
    flags = f"--port {port} --bind 127.0.0.1 --appendonly no --daemonize no".split()
    start(cluster, "redis", [REDIS, *flags, "--save", "", "--dir", str(folder)], cluster["env"])
    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping():
                break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "redis-server never answered"
            time.sleep(0.2)
    pg = f"postgres@127.0.0.1:{cluster['pg_port']}/postgres"
    cluster["env"].update(
        {
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg}",
        }
    )


def _worker_env(cluster: dict, host: str) -> dict[str, str]:
    """A worker's own folders, as on its own host; the same config, database and broker."""
    root: Path = cluster["root"] / host
    home, tmp, py = root / "home", root / "tmp", root / "py"
    airflow_home = root / "airflow"
    for folder in (home, tmp, py):
        folder.mkdir(parents=True)
    shutil.copytree(
        cluster["home"],
        airflow_home,
        ignore=shutil.ignore_patterns("logs", "*.pid", "*.log", "__pycache__"),
    )
    cfg = airflow_home / "airflow.cfg"  # written by `db migrate` with the scheduler's paths
    if cfg.exists():
        cfg.write_text(cfg.read_text().replace(str(cluster["home"]), str(airflow_home)))
    # Both workers share this machine's name; on two hosts each has its own.
    (py / "worker_host.py").write_text(f"def hostname():\n    return {host!r}\n")
    env = {k: v for k, v in cluster["env"].items() if not k.startswith("XDG_")}
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(airflow_home / "plugins"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_host.hostname",
            "ACTIVITYSMITH_STATE_DIR": str(root / "state"),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(py), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
    )
    return env


@pytest.fixture(scope="module")
def cluster(sandbox_module: Any) -> Iterator[dict]:
    with _cluster.cluster(
        sandbox_module,
        prefix="airflow-celery-",
        executor="CeleryExecutor",
        before_migrate=_broker,
    ) as found:
        workers = {}
        for host in WORKERS:
            env = _worker_env(found, host)
            cmd = ["celery", "worker", "--concurrency", "4", "--celery-hostname", host]
            workers[host] = start(found, host, [*AIRFLOW, *cmd], env)
        deadline = time.monotonic() + 180
        for host, proc in workers.items():
            log = found["root"] / f"{host}.log"
            while f"@{host} ready" not in log.read_text(errors="replace"):
                tail = log.read_text(errors="replace")[-3000:]
                assert proc.poll() is None, f"worker {host} exited:\n{tail}"
                assert time.monotonic() < deadline, f"worker {host} not ready:\n{tail}"
                time.sleep(1)
        yield found


def _hosts(cluster: dict, dag_id: str, run_id: str) -> Counter[str]:
    rows = query(
        cluster,
        "SELECT hostname, count(*) FROM task_instance WHERE dag_id = %s AND run_id = %s "
        "GROUP BY hostname",
        dag_id,
        run_id,
    )
    return Counter({str(host): int(n) for host, n in rows})


def _report(dag_id: str, reqs: list[Any], hosts: Counter[str]) -> None:
    methods = Counter(r.method for r in reqs)
    print(f"\n{dag_id}: {len(reqs)} requests {dict(methods)}; task instances by host {dict(hosts)}")


def test_16_parallel_tasks_on_two_workers(cluster: dict, sandbox_module: Any) -> None:
    run_id = _cluster.run(cluster, "wide16", timeout=180)
    reqs = _cluster.check(sandbox_module, "wide16", run_id, segments=16, instances=16)
    hosts = _hosts(cluster, "wide16", run_id)
    _report("wide16", reqs, hosts)
    assert set(hosts) <= set(WORKERS) and sum(hosts.values()) == 16, hosts


def test_50_way_mapped_task_on_two_workers(cluster: dict, sandbox_module: Any) -> None:
    run_id = _cluster.run(cluster, "mapped50", timeout=240)
    reqs = _cluster.check(sandbox_module, "mapped50", run_id, segments=2, instances=51)
    hosts = _hosts(cluster, "mapped50", run_id)
    _report("mapped50", reqs, hosts)
    assert set(hosts) == set(WORKERS) and sum(hosts.values()) == 51, hosts


def test_failure_error_crosses_hosts(cluster: dict, sandbox_module: Any) -> None:
    """tagged8 (tracked by its tag) fails: the task process on a worker leaves the error in an
    XCom through the API server, and the scheduler's watcher pushes it with the failure."""
    before = len(sandbox_module.pushes)
    run_id = _cluster.run(cluster, "tagged8", timeout=180, expect="failed")
    key = stream_key("airflow", "tagged8", run_id)
    _cluster.wait_final(sandbox_module, key)
    reqs = sandbox_module.stream_requests(key)
    hosts = _hosts(cluster, "tagged8", run_id)
    _report("tagged8", reqs, hosts)
    assert set(hosts) <= set(WORKERS) and sum(hosts.values()) == 8, hosts
    assert reqs[-1].method == "DELETE" and [r.method for r in reqs].count("DELETE") == 1
    steps = [r.body["content_state"]["current_step"] for r in reqs if r.status == 200]
    assert steps == sorted(steps), f"current_step went backwards: {steps}"
    final = reqs[-1].body["content_state"]
    assert final["current_step"] == final["number_of_steps"] == 8
    assert sorted(final["step_colors"]) == ["green"] * 7 + ["red"]
    assert final["badge"]["title"] == "Failed"
    assert len(reqs) <= 2 * 8 + 1, f"{len(reqs)} requests for 8 instances"
    push = _cluster.new_push(sandbox_module, before)
    assert push["title"] == "tagged8: broken failed"
    assert push["message"] == "RuntimeError: the tagged task broke"
    assert "/tasks/broken" in push["redirection"]
    ((broken_host,),) = query(
        cluster,
        "SELECT hostname FROM task_instance WHERE dag_id = %s AND run_id = %s "
        "AND task_id = 'broken'",
        "tagged8",
        run_id,
    )
    left = query(
        cluster,
        "SELECT task_id, value::text FROM xcom WHERE dag_id = %s AND run_id = %s AND key = %s",
        "tagged8",
        run_id,
        "activitysmith_error",
    )
    assert [task_id for task_id, _ in left] == ["broken"], left
    assert "RuntimeError: the tagged task broke" in left[0][1], left
    print(f"tagged8: broken ran on {broken_host}; its error XCom: {left[0][1]}")


def test_both_workers_ran_tasks_and_sent_nothing(cluster: dict) -> None:
    """Across the runs, both workers ran tasks; neither kept anything in its state folder (task
    processes send nothing to ActivitySmith, so they never have an undelivered state)."""
    rows = query(
        cluster,
        "SELECT hostname, count(*) FROM task_instance WHERE dag_id IN "
        "('wide16', 'mapped50', 'tagged8') GROUP BY hostname",
    )
    hosts = {str(host): int(n) for host, n in rows}
    print(f"\ntask instances by host: {hosts}")
    assert set(hosts) == set(WORKERS), hosts
    for host in WORKERS:
        state = cluster["root"] / host / "state"
        kept = [p.name for p in state.rglob("*") if p.is_file()] if state.exists() else []
        assert kept == [], f"{host} kept {kept}"

"""PostgreSQL restarted mid-run under a real scheduler (LocalExecutor): while 3 tracked runs run,
``pg_ctl restart`` of the metadata database. Tracking resumes (each run gets updates after the
restart, before its end), nothing is sent twice or backwards (``current_step`` never decreases
per stream, one DELETE per stream, the last request) and the final state is right. When
Airflow's own scheduler loop exits on the dropped connection, the test starts it again, as the
scheduler's supervisor (systemd, Kubernetes) does; the new scheduler's watcher takes the runs
over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from activitysmith_core import stream_key

from . import _cluster
from ._cluster import PG

pytestmark = [_cluster.needs_postgres(), pytest.mark.timeout(600)]

RUNS = 3
SEGMENTS = 6  # slow6: six tasks of 4 s in a chain


@pytest.fixture
def cluster(sandbox: Any) -> Iterator[dict]:
    with _cluster.driven(
        sandbox,
        unpaused=("slow6",),
        prefix="airflow-pgrestart-",
        dags=("writer.py",),
        extra_env=_cluster.api_env(),
    ) as found:
        yield found


def _state(cluster: dict, run_id: str) -> str:
    reply = cluster["client"].get(f"/dags/slow6/dagRuns/{run_id}")
    reply.raise_for_status()
    return str(reply.json()["state"])


def _restart_postgres(cluster: dict) -> None:
    assert PG is not None
    root = cluster["root"]
    _cluster.as_postgres(
        str(PG / "pg_ctl"),
        *("-D", str(root / "data"), "-l", str(root / "pg-restart.log")),
        *("-w", "-m", "fast", "restart"),
    )


def test_tracking_survives_a_postgres_restart(cluster: dict, sandbox: Any) -> None:
    runs = [_cluster.trigger(cluster, "slow6") for _ in range(RUNS)]
    keys = [stream_key("airflow", "slow6", run_id) for run_id in runs]
    deadline = time.monotonic() + 180
    while not all(sandbox.stream_requests(key) for key in keys):  # all three tracked
        assert time.monotonic() < deadline, f"not all runs tracked; logs in {cluster['root']}"
        time.sleep(0.5)

    _restart_postgres(cluster)
    restarted = time.monotonic()

    restarts = 0
    for run_id in runs:
        deadline = time.monotonic() + 240
        while (state := _state(cluster, run_id)) not in ("success", "failed"):
            assert time.monotonic() < deadline, f"{run_id} {state}; logs in {cluster['root']}"
            if all(p.poll() is not None for p in cluster["schedulers"]):
                # Airflow's own scheduler loop can exit on the dropped connection (a query of
                # its loop, not ours, meets it); its supervisor starts it again, as here.
                _cluster.start_scheduler(cluster)
                restarts += 1
            time.sleep(1)
        assert state == "success", f"{run_id} {state}; logs in {cluster['root']}"
    print(f"schedulers started again after the restart: {restarts}")
    for key in keys:
        reqs = _cluster.final_requests(sandbox, key)
        seen = [(r.method, r.status) for r in reqs]
        after = [r for r in reqs[:-1] if r.time > restarted and r.status == 200]
        assert after, f"{key}: no update between the restart and the end: {seen}"
        final = reqs[-1].body["content_state"]
        assert final["number_of_steps"] == final["current_step"] == SEGMENTS
        assert final["step_colors"] == ["green"] * SEGMENTS
    logs = "".join(p.read_text() for p in cluster["root"].glob("scheduler*.log"))
    assert logs.count("lease lost") == 0, "a lease was lost over the restart"

"""One writer per run, against a real deployment: PostgreSQL, the API server, the DAG processor
and real schedulers (LocalExecutor), with the sandbox recording every request.

- a scheduler killed (``kill -9``) mid-run and a new one started: the new one takes the run
  over and its updates resume at once, not at the run's end;
- two schedulers (HA): nothing is sent for a run after its DELETE, the count never goes back;
- a failed run cleared through the REST API: the re-run is a new activity, visible while it
  runs, and ends right;
- a run failed through the REST API while the ActivitySmith API hangs: the request takes as long
  as with the API answering, and the final state draws the task Airflow failed in red.

The tests share one deployment and run in order (the second scheduler starts in the HA test).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from activitysmith_core import stream_key

from . import _cluster

pytestmark = _cluster.needs_postgres()

ENV = _cluster.api_env(
    core__parallelism=16,
    scheduler__scheduler_health_check_threshold=10,
    scheduler__orphaned_tasks_check_interval=10,
)


@pytest.fixture(scope="module")
def cluster(sandbox_module: Any) -> Iterator[dict]:
    with _cluster.driven(
        sandbox_module,
        unpaused=("slow6", "ha4", "flaky", "hold"),
        prefix="airflow-writer-",
        dags=("writer.py",),
        extra_env=ENV,
    ) as found:
        yield found


def _run_state(cluster: dict, dag_id: str, run_id: str) -> str:
    reply = cluster["client"].get(f"/dags/{dag_id}/dagRuns/{run_id}")
    reply.raise_for_status()
    return str(reply.json()["state"])


def _wait_run(cluster: dict, dag_id: str, run_id: str, expect: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while (state := _run_state(cluster, dag_id, run_id)) not in ("success", "failed"):
        assert time.monotonic() < deadline, f"{dag_id} still {state}; logs in {cluster['root']}"
        time.sleep(1)
    assert state == expect, f"{dag_id} {state}; logs in {cluster['root']}"


def _wait_task(cluster: dict, dag_id: str, run_id: str, task_id: str, state: str) -> None:
    deadline = time.monotonic() + 180
    while True:
        rows = _cluster.query(
            cluster,
            "SELECT state FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            dag_id,
            run_id,
            task_id,
        )
        if rows and rows[0][0] == state:
            return
        assert time.monotonic() < deadline, f"{task_id} never {state}; logs in {cluster['root']}"
        time.sleep(0.5)


def test_a_killed_scheduler_is_taken_over_at_once(cluster: dict, sandbox_module: Any) -> None:
    """kill -9 of the scheduler mid-run, a new one 3 s later: the run's updates resume as soon
    as the new scheduler starts (its watcher starts with its job), not at the run's end."""
    run_id = _cluster.trigger(cluster, "slow6")
    key = stream_key("airflow", "slow6", run_id)
    _wait_task(cluster, "slow6", run_id, "s1", "running")
    [old] = cluster["schedulers"]
    _cluster.kill_scheduler(cluster, old)
    killed = time.monotonic()
    time.sleep(3)
    _cluster.start_scheduler(cluster)
    spawned = time.monotonic()
    deadline = time.monotonic() + 120
    while not [r for r in sandbox_module.stream_requests(key) if r.time > killed]:
        assert time.monotonic() < deadline, f"no update after the kill; logs in {cluster['root']}"
        time.sleep(0.2)
    first = min(
        (r for r in sandbox_module.stream_requests(key) if r.time > killed), key=lambda r: r.time
    )
    assert first.method == "PUT", "nothing between the kill and the run's end"
    resumed = first.time - spawned
    # The watcher starts with the scheduler's job, before its first loop: the new process's
    # start (Airflow's imports included) bounds it from above.
    print(f"updates resumed {resumed:.1f} s after the new scheduler's process started")
    assert resumed < 30, f"updates resumed {resumed:.1f} s after the new scheduler started"
    _wait_run(cluster, "slow6", run_id, "success")
    reqs = _cluster.final_requests(sandbox_module, key)
    after = [r for r in reqs if r.time > killed and r.method == "PUT"]
    assert after, "no update between the takeover and the end"
    final = reqs[-1].body["content_state"]
    assert final["current_step"] == final["number_of_steps"] == 6
    assert final["step_colors"] == ["green"] * 6


def test_two_schedulers_never_send_after_the_end(cluster: dict, sandbox_module: Any) -> None:
    """With two schedulers, 6 runs × 3: each run has one writer; nothing after its DELETE."""
    if len([p for p in cluster["schedulers"] if p.poll() is None]) < 2:
        _cluster.start_scheduler(cluster)
    keys: list[str] = []
    for _ in range(3):
        runs = [_cluster.trigger(cluster, "ha4") for _ in range(6)]
        for run_id in runs:
            _wait_run(cluster, "ha4", run_id, "success")
        keys += [stream_key("airflow", "ha4", run_id) for run_id in runs]
    for key in keys:
        reqs = _cluster.final_requests(sandbox_module, key)
        final = reqs[-1].body["content_state"]
        assert final["step_colors"] == ["green"] * 4, final
    time.sleep(5)  # anything late from either scheduler would land now
    for key in keys:
        seen = [(r.method, r.status) for r in sandbox_module.stream_requests(key)]
        assert seen[-1] == ("DELETE", 200), (key, seen)
        assert seen.count(("DELETE", 200)) == 1, (key, seen)


def test_a_cleared_run_is_a_new_live_activity(cluster: dict, sandbox_module: Any) -> None:
    """A failed run cleared through the REST API re-runs as attempt 1: its own stream, updated
    while it runs, ending green; the first attempt's activity stays ended."""
    run_id = _cluster.trigger(cluster, "flaky")
    _wait_run(cluster, "flaky", run_id, "failed")
    first = stream_key("airflow", "flaky", run_id)
    first_reqs = _cluster.final_requests(sandbox_module, first)
    assert first_reqs[-1].body["content_state"]["step_colors"][1] == "red"
    reply = cluster["client"].post(f"/dags/flaky/dagRuns/{run_id}/clear", json={"dry_run": False})
    reply.raise_for_status()
    _wait_run(cluster, "flaky", run_id, "success")
    again = stream_key("airflow", "flaky", run_id, "attempt-1")
    reqs = _cluster.final_requests(sandbox_module, again)
    assert [r for r in reqs if r.method == "PUT" and r.status == 200], "not visible while it ran"
    final = reqs[-1].body["content_state"]
    assert final["step_colors"] == ["green"] * 3, final
    assert len(sandbox_module.stream_requests(first)) == len(first_reqs)


def _patch_failed(cluster: dict, sandbox: Any) -> tuple[float, str]:
    """Trigger ``hold``, and fail the run through the REST API while its long task runs;
    returns the PATCH's duration and the run's key."""
    run_id = _cluster.trigger(cluster, "hold")
    _wait_task(cluster, "hold", run_id, "long", "running")
    time.sleep(2)
    began = time.monotonic()
    reply = cluster["client"].patch(f"/dags/hold/dagRuns/{run_id}", json={"state": "failed"})
    took = time.monotonic() - began
    reply.raise_for_status()
    return took, stream_key("airflow", "hold", run_id)


def test_failing_a_run_from_the_api_never_waits_on_activitysmith(
    cluster: dict, sandbox_module: Any
) -> None:
    """PATCH state=failed takes as long with the ActivitySmith API hanging as with it
    answering (±2 s), and the final state draws the task Airflow failed red, not gray."""
    from activitysmith_core.sandbox import Faults

    answering, key = _patch_failed(cluster, sandbox_module)
    final = _cluster.final_requests(sandbox_module, key)[-1].body["content_state"]
    assert final["step_colors"] == ["green", "red", "gray"], final
    sandbox_module.set_faults(Faults(hang_rate=1.0, hang_seconds=120))
    try:
        hanging, _ = _patch_failed(cluster, sandbox_module)
    finally:
        sandbox_module.set_faults(Faults())
    print(f"PATCH state=failed: {answering:.2f} s answering, {hanging:.2f} s hanging")
    assert hanging <= answering + 2, (hanging, answering)


def test_a_final_its_writer_died_before_delivering_is_sent_by_the_next(
    cluster: dict, sandbox_module: Any
) -> None:
    """The run ends while the ActivitySmith API hangs and every scheduler is killed (kill -9)
    before its final state got through: the lease is not yet marked sent, so a new scheduler
    takes the ended run over and delivers the final state, once."""
    from activitysmith_core.sandbox import Faults

    sandbox = sandbox_module
    run_id = _cluster.trigger(cluster, "ha4")
    key = stream_key("airflow", "ha4", run_id)
    deadline = time.monotonic() + 120
    while not [r for r in sandbox.stream_requests(key) if r.method == "PUT" and r.status == 200]:
        assert time.monotonic() < deadline, f"never shown; logs in {cluster['root']}"
        time.sleep(0.2)
    sandbox.set_faults(Faults(hang_rate=1.0, hang_seconds=300))
    try:
        _wait_run(cluster, "ha4", run_id, "success")
        time.sleep(4)  # the writer reads the end and hands the final to its sender: it hangs
        for proc in [p for p in cluster["schedulers"] if p.poll() is None]:
            _cluster.kill_scheduler(cluster, proc)
        assert sandbox.activities[key]["status"] == "active", "the final got through anyway"
    finally:
        sandbox.set_faults(Faults())
    killed = time.monotonic()
    _cluster.start_scheduler(cluster)
    reqs = _cluster.final_requests(sandbox, key, timeout=120)
    ended = [r for r in reqs if r.method == "DELETE" and r.status == 200]
    print(f"final delivered {ended[0].time - killed:.1f} s after the writer was killed")
    assert ended[0].time > killed
    assert reqs[-1].body["content_state"]["step_colors"] == ["green"] * 4

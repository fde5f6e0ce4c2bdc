"""Airflow's real scheduler and LocalExecutor on PostgreSQL: tracked DAGs whose tasks finish in
parallel on several worker processes. The sandbox's record must show one stream per run, a count
that never goes backwards in the order received, the right final state, and bounded requests."""

from __future__ import annotations

import itertools
import time
from typing import Any

from activitysmith_core import stream_key

from . import _cluster

pytestmark = _cluster.needs_postgres()


_run = _cluster.run
_check = _cluster.check
_query = _cluster.query


def test_16_parallel_tasks(cluster: dict, sandbox_module: Any) -> None:
    run_id = _run(cluster, "wide16")
    _check(sandbox_module, "wide16", run_id, segments=16, instances=16)


def test_50_way_mapped_task(cluster: dict, sandbox_module: Any) -> None:
    run_id = _run(cluster, "mapped50")
    _check(sandbox_module, "mapped50", run_id, segments=2, instances=51)


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
    drawn = [r.body["content_state"]["step_colors"] for r in reqs if r.status == 200]
    for earlier, later in itertools.pairwise(drawn):
        assert later[: len(earlier)] == earlier, f"a drawn segment changed: {drawn}"
    push = _cluster.new_push(sandbox_module, before)
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

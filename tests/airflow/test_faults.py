"""The sandbox failing in every way: tasks end as they would without the provider, a run costs
at most one deadline more than untracked, and the final state arrives once the API is back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from activitysmith_core import stream_key
from activitysmith_core.sandbox import Faults
from activitysmith_core.tracking import Sender

from .conftest import STATE_DIR, cool_down_passed, load_dag, stream_bodies

DEADLINE = 3.0  # the tracker's deadline in dags/faults.py and dags/outage.py
MARGIN = 2.0  # dag.test() run-to-run noise on this machine, plus 15 % of the run under load


def _run(dag_id: str = "t_faults") -> tuple[Any, float]:
    dag = load_dag(dag_id)
    t0 = time.monotonic()
    dr = dag.test()
    return dr, time.monotonic() - t0


def _next_process() -> None:
    """What the next run sees: a new process, after the outage's cool-down."""
    Sender.reset_all()
    cool_down_passed()


def _task_states(dr: Any) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == dr.dag_id, TaskInstance.run_id == dr.run_id
            )
        ).all()
    return {tid: str(getattr(st, "value", st)) for tid, st in rows}


@pytest.mark.parametrize(
    "faults",
    [
        Faults(error_rate=1.0, status=500),
        Faults(error_rate=1.0, status=503),
        Faults(hang_rate=1.0, hang_seconds=30),
        Faults(down=True),
    ],
    ids=["500", "503", "hang", "down"],
)
def test_tasks_unaffected_and_final_state_after_recovery(
    airflow_sandbox: Any, faults: Faults
) -> None:
    airflow_sandbox.set_faults(faults)
    dr, _ = _run()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    assert _task_states(dr) == {"first": "success", "second": "success"}
    key = stream_key("airflow", "t_faults", dr.run_id)
    assert key not in airflow_sandbox.activities
    kept = list(STATE_DIR.glob("kept/*/final-*.json"))
    assert len(kept) == 1, "the final state is kept on disk"
    airflow_sandbox.set_faults(Faults())
    _next_process()
    recovered, _ = _run()  # the next tracked run reaches the API and delivers what was kept
    assert str(getattr(recovered.state, "value", recovered.state)) == "success"
    first = airflow_sandbox.activities[key]
    assert first["status"] in ("ended", "dismissed")
    assert first["content_state"]["current_step"] == 2
    assert first["content_state"]["badge"]["title"] == "Succeeded"


@pytest.mark.parametrize(
    "faults",
    [
        Faults(error_rate=1.0, status=500),
        Faults(hang_rate=1.0, hang_seconds=30),
        Faults(down=True),
    ],
    ids=["500", "hang", "refused"],
)
def test_an_outage_costs_a_run_at_most_one_deadline(airflow_sandbox: Any, faults: Faults) -> None:
    """16 task executions, 6 failing for good: tracked minus untracked stays within the
    tracker's one deadline, whatever the API does."""
    _run("t_outage_untracked")  # warm up: the first dag.test() of a DAG pays for parsing
    _, untracked = _run("t_outage_untracked")
    airflow_sandbox.set_faults(faults)
    dr, tracked = _run("t_outage_tracked")
    assert str(getattr(dr.state, "value", dr.state)) == "failed"
    assert tracked - untracked <= DEADLINE + MARGIN + 0.15 * untracked, (tracked, untracked)
    kept = [p.name.split("-")[0] for p in STATE_DIR.glob("kept/*/*.json")]
    assert kept.count("final") == 1 and kept.count("push") >= 1, kept
    airflow_sandbox.set_faults(Faults())
    _next_process()
    _run("t_faults")
    sent = [  # delivered ones: an attempt during the outage is in the record too
        r.body
        for r in airflow_sandbox.requests
        if r.path.endswith("/push-notification") and r.status == 200
    ]
    # Six failures, folded per push_window: one push when they fail within 5 s of each other.
    named = sum(int(p["title"].split("×")[1].split()[0]) if "×" in p["title"] else 1 for p in sent)
    assert named == 6 and len(sent) == kept.count("push"), ([p["title"] for p in sent], kept)
    assert all(p["title"].startswith("t_outage_tracked: bad") for p in sent)
    assert all(p["message"].startswith("RuntimeError: shard ") for p in sent)


def test_429_with_retry_after_is_waited_out(airflow_sandbox: Any) -> None:
    airflow_sandbox.set_faults(Faults(rate_limit_burst=2, retry_after=1))
    dr, _ = _run()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    reqs = airflow_sandbox.requests
    assert [r.status for r in reqs].count(429) == 2
    assert reqs[0].status == 429 and reqs[1].time - reqs[0].time >= 0.95, "Retry-After honoured"
    calls = stream_bodies(airflow_sandbox)
    assert calls[-1][0] == "DELETE" and calls[-1][1]["current_step"] == 2

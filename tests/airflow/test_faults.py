"""The sandbox failing in every way: tasks end as they would without the provider, each
callback stays within its budget, and the final state arrives once the sandbox recovers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from activitysmith_core import stream_key
from activitysmith_core.sandbox import Faults

from .conftest import load_dag, stream_bodies

# 2 tasks x 2 callbacks (execute, success) at 1.5 s each, the final state at 3 s, plus
# Airflow's own run time: a bound no run may exceed if the budgets hold.
BOUND = 4 * 1.5 + 3.0 + 30


def _run() -> tuple[Any, float]:
    dag = load_dag("t_faults")
    t0 = time.monotonic()
    dr = dag.test()
    return dr, time.monotonic() - t0


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
    dr, elapsed = _run()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    assert _task_states(dr) == {"first": "success", "second": "success"}
    assert elapsed < BOUND
    key = stream_key("airflow", "t_faults", dr.run_id)
    assert key not in airflow_sandbox.activities
    airflow_sandbox.set_faults(Faults())
    recovered, _ = _run()  # the next tracked run reaches the API and delivers what was kept
    assert str(getattr(recovered.state, "value", recovered.state)) == "success"
    first = airflow_sandbox.activities[key]
    assert first["status"] in ("ended", "dismissed")
    assert first["content_state"]["current_step"] == 2
    assert first["content_state"]["badge"]["title"] == "Succeeded"


def test_429_with_retry_after_is_waited_out(airflow_sandbox: Any) -> None:
    airflow_sandbox.set_faults(Faults(rate_limit_burst=2, retry_after=1))
    dr, _ = _run()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    reqs = airflow_sandbox.requests
    assert [r.status for r in reqs].count(429) == 2
    assert reqs[0].status == 429 and reqs[1].time - reqs[0].time >= 0.95, "Retry-After honoured"
    calls = stream_bodies(airflow_sandbox)
    assert calls[-1][0] == "DELETE" and calls[-1][1]["current_step"] == 2

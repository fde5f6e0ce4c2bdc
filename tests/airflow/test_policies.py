"""Operators fail on API errors unless told not to; bad input always fails; retry pushes."""

from __future__ import annotations

from typing import Any

from .conftest import load_dag, pushes, stream_bodies
from .test_faults import _task_states


def test_operator_error_policy(airflow_sandbox: Any) -> None:
    dr = load_dag("t_operator_errors").test()
    assert _task_states(dr) == {"soft": "success", "hard": "failed", "invalid": "failed"}
    assert [r.status for r in airflow_sandbox.requests] == [404, 404], (
        "the invalid one failed before any request"
    )


def test_retry_pushes_when_asked(airflow_sandbox: Any) -> None:
    dr = load_dag("t_retry_push").test()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    (push,) = pushes(airflow_sandbox)
    assert push["title"] == "t_retry_push: flaky will retry"
    calls = stream_bodies(airflow_sandbox)
    assert calls[-1][1]["step_colors"] == ["green"]

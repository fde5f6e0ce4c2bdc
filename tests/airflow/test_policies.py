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


def test_a_retry_between_two_reads_is_still_pushed(airflow_sandbox: Any) -> None:
    """With a zero ``retry_delay`` a task can fail and start again between two reads of its
    run's writer, which then sees only a higher try number: the task instance history of the
    real run says whether the try in between failed."""
    from airflow.utils.session import create_session

    from activitysmith_airflow import _reads
    from activitysmith_airflow._failures import FailureKey, FailureLog
    from activitysmith_airflow._reads import TaskRow

    dr = load_dag("t_retry_push").test()

    def notes(seen: tuple[int, str], now: tuple[int, str]) -> list[Any]:
        log = FailureLog()
        log.tries[("flaky", -1)] = seen
        missed = log.note([TaskRow("flaky", -1, now[1], now[0])], 0.0)
        if missed:
            with create_session() as session:
                found = _reads.failed_tries(
                    session, [(dr.dag_id, dr.run_id, m.task_id, m.map_index) for m in missed]
                )
            for (_, _, task_id, index), tries in found:
                (miss,) = [m for m in missed if (m.task_id, m.map_index) == (task_id, index)]
                log.note_history(miss, tries, 0.0)
        return [(k, f.try_number, f.retrying) for k, f in log.waiting.items()]

    retry_1 = FailureKey.retry("flaky", -1, 1)
    assert notes((1, "running"), (2, "success")) == [(retry_1, 1, True)]
    assert notes((1, "running"), (2, "running")) == [(retry_1, 1, True)]
    assert notes((1, "success"), (2, "running")) == [], "try 1 was seen ending: a clear"
    assert notes((1, "up_for_retry"), (2, "running")) == [], "the retry was seen"
    assert notes((2, "running"), (2, "success")) == [], "no try in between"
    assert notes((2, "running"), (3, "success")) == [], "try 2 did not fail: no such history"

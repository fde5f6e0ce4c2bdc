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

    from activitysmith_airflow._watcher import WATCHER, _Run

    dr = load_dag("t_retry_push").test()
    key = (dr.dag_id, dr.run_id, 0)

    def notes(seen: tuple[int, str], now: tuple[int, str]) -> list[Any]:
        run = _Run(key, None, None, None, local=False)  # type: ignore[arg-type]
        run.tries[("flaky", -1)] = seen
        missed = WATCHER._note_failures(run, [("flaky", -1, now[1], now[0])], 0.0)
        if missed:
            with create_session() as session:
                WATCHER._note_missed_retries(session, missed, 0.0)
        return [(k, f.try_number, f.retrying) for k, f in run.waiting.items()]

    assert notes((1, "running"), (2, "success")) == [(("flaky", -1, 1, True), 1, True)]
    assert notes((1, "running"), (2, "running")) == [(("flaky", -1, 1, True), 1, True)]
    assert notes((1, "success"), (2, "running")) == [], "try 1 was seen ending: a clear"
    assert notes((1, "up_for_retry"), (2, "running")) == [], "the retry was seen"
    assert notes((2, "running"), (2, "success")) == [], "no try in between"
    assert notes((2, "running"), (3, "success")) == [], "try 2 did not fail: no such history"

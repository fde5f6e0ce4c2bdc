"""The tasks in real flows, and the tracker when the sandbox fails in every way."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prefect import flow, task

from activitysmith_core import errors
from activitysmith_core.sandbox import Faults
from activitysmith_prefect import activitysmith_hooks, send_push

from .conftest import check_run


def test_notify_flow_uses_every_task_and_the_block(prefect_sandbox: Any) -> None:
    from notify_flow import notify_flow

    notify_flow("2.3.0")
    reqs = [(r.method, r.path.split("/api", 1)[1]) for r in prefect_sandbox.requests]
    assert reqs == [
        ("POST", "/push-notification"),
        ("PUT", "/live-activity/stream/release"),
        ("DELETE", "/live-activity/stream/release"),
        ("POST", "/push-notification"),
    ]
    first, last = prefect_sandbox.pushes
    assert first["interruption_level"] == "passive" and last["message"] == "2.3.0 is live"
    assert prefect_sandbox.activities["release"]["content_state"]["value"] == "live"


def test_metrics_flow(prefect_sandbox: Any) -> None:
    from metrics_flow import metrics_flow

    metrics_flow("db-2")
    cs = prefect_sandbox.activities["metrics-db-2"]["content_state"]
    assert cs["type"] == "metrics" and [m["label"] for m in cs["metrics"]] == ["CPU", "MEM"]
    assert "cpu.load" in prefect_sandbox.metrics


@flow
def bad_push_flow() -> None:
    send_push("t", media="http://not-https", actions=[])


def test_task_validation_names_the_field(prefect_sandbox: Any) -> None:
    with pytest.raises(errors.ValidationError, match=r"^media: must be an https"):
        bad_push_flow()
    assert prefect_sandbox.requests == []


@task
def step(i: int) -> int:
    return i


@flow(**activitysmith_hooks(budget=1.5, final_budget=3.0, settle_timeout=2.0))
def tracked(n: int = 3) -> int:
    return sum(step.map(range(n)).result())


@pytest.mark.parametrize(
    "faults",
    [
        Faults(error_rate=1.0, status=500),
        Faults(rate_limit_burst=100, retry_after=1),
        Faults(hang_rate=1.0, hang_seconds=30),
        Faults(down=True),
    ],
    ids=["500", "429", "hang", "down"],
)
def test_faults_never_change_the_flow(prefect_sandbox: Any, faults: Faults) -> None:
    prefect_sandbox.set_faults(faults)
    started = time.monotonic()
    state = tracked(3, return_state=True)
    elapsed = time.monotonic() - started
    assert state.is_completed() and state.result() == 3
    # the poller works off the flow's threads; the final hook is bounded by its budget
    assert elapsed < 3.0 + 2.0 + 30
    prefect_sandbox.set_faults(Faults())
    tracked(2)  # the next run reaches the API: the first run's final state is delivered
    ended = [a for a in prefect_sandbox.activities.values() if a["status"] != "active"]
    assert len(ended) == 2
    assert all(a["content_state"]["badge"]["title"] == "Succeeded" for a in ended)


def test_recovered_run_is_clean(prefect_sandbox: Any) -> None:
    tracked(4)
    final = check_run(prefect_sandbox)
    assert final["current_step"] == 4

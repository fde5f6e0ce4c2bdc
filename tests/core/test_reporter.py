"""RunReporter against the sandbox: absolute updates, final state, pushes, never raising."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core.sandbox import Faults
from activitysmith_core.tracking import (
    AsyncRunReporter,
    RunReporter,
    RunState,
    RunStatus,
    Step,
    StepStatus,
    TrackerOptions,
)

S = StepStatus


def _run(run_id: str, *statuses: StepStatus, status: RunStatus = RunStatus.RUNNING) -> RunState:
    return RunState(
        "test", "etl", run_id, [Step(f"t{i}", s) for i, s in enumerate(statuses)], status=status
    )


@pytest.fixture
def options(tmp_path: Path) -> TrackerOptions:
    return TrackerOptions(
        budget=2.0,
        final_budget=3.0,
        request_timeout=1.0,
        pending_dir=str(tmp_path / "pending"),
        auto_dismiss_seconds=30,
    )


def _reporter(sandbox: Any, options: TrackerOptions) -> RunReporter:
    return RunReporter(lambda: ActivitySmith(sandbox.api_key, base_url=sandbox.url), options)


def test_a_run_from_start_to_end(sandbox: Any, options: TrackerOptions) -> None:
    rep = _reporter(sandbox, options)
    assert rep.update(_run("r1", S.RUNNING, S.PENDING))
    assert rep.update(_run("r1", S.RUNNING, S.PENDING))  # identical: not sent again
    assert rep.update(_run("r1", S.SUCCESS, S.FAILED))
    assert rep.push_failure(_run("r1", S.SUCCESS, S.FAILED), "t1", ValueError("bad\nrow"))
    assert rep.finish(_run("r1", S.SUCCESS, S.FAILED, status=RunStatus.FAILED))
    reqs = sandbox.requests
    assert [(r.method, r.status) for r in reqs] == [
        ("PUT", 200),
        ("PUT", 200),
        ("POST", 200),
        ("DELETE", 200),
    ]
    assert reqs[1].body["content_state"]["step_colors"] == ["green", "red"]
    assert reqs[2].body["message"] == "ValueError: bad"
    final = reqs[3].body["content_state"]
    assert final["current_step"] == 2 and final["badge"]["title"] == "Failed"
    assert final["auto_dismiss_seconds"] == 30


def test_never_raises_and_stays_in_budget(
    sandbox: Any, options: TrackerOptions, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.set_faults(Faults(hang_rate=1.0, hang_seconds=30))
    rep = _reporter(sandbox, options)
    t0 = time.monotonic()
    assert rep.update(_run("r2", S.RUNNING)) is False
    assert rep.push_failure(_run("r2", S.FAILED), "t0", "boom") is False
    assert time.monotonic() - t0 < 2 * options.budget + 2
    assert "ActivitySmith: Live Activity update for etl run r2 failed" in caplog.text


def test_final_state_kept_and_delivered_after_recovery(
    sandbox: Any, options: TrackerOptions
) -> None:
    rep = _reporter(sandbox, options)
    rep.update(_run("r3", S.RUNNING, S.PENDING))
    sandbox.set_faults(Faults(error_rate=1.0, status=503))
    assert rep.finish(_run("r3", S.SUCCESS, S.SUCCESS, status=RunStatus.SUCCESS)) is False
    assert list(Path(options.pending_dir or "").glob("*.json"))
    sandbox.set_faults(Faults())
    other = _reporter(sandbox, options)  # e.g. the next run, in another process
    assert other.update(_run("r4", S.RUNNING))
    activity = sandbox.activities[_run("r3").key]
    assert activity["status"] == "ended"
    assert activity["content_state"]["current_step"] == 2
    assert not list(Path(options.pending_dir or "").glob("*.json"))


def test_final_state_even_when_no_update_landed(sandbox: Any, options: TrackerOptions) -> None:
    rep = _reporter(sandbox, options)
    assert rep.finish(_run("r5", S.SUCCESS, status=RunStatus.SUCCESS))
    assert [r.method for r in sandbox.requests] == ["DELETE", "PUT", "DELETE"]
    assert sandbox.activities[_run("r5").key]["status"] == "ended"


def test_live_activity_limit(
    sandbox: Any, options: TrackerOptions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rep = _reporter(sandbox, options)
    for i in range(4):
        assert rep.update(_run(f"busy{i}", S.RUNNING))
    fifth = _run("fifth", S.FAILED)
    assert rep.update(fifth) is False
    assert rep.limit_reached
    assert "Live Activity limit reached (4 of 4 active)" in caplog.text
    assert rep.push_failure(fifth, "t0", "boom"), "the failure push still goes out"
    rep.finish(_run("busy0", S.SUCCESS, status=RunStatus.SUCCESS))
    assert rep.update(_run("fifth", S.FAILED, S.RUNNING)), "tracking resumes once a slot frees"
    assert not rep.limit_reached


@pytest.mark.anyio
async def test_async_reporter(sandbox: Any, options: TrackerOptions) -> None:
    from activitysmith_core import AsyncActivitySmith

    rep = AsyncRunReporter(
        lambda: AsyncActivitySmith(sandbox.api_key, base_url=sandbox.url), options
    )
    assert await rep.update(_run("a1", S.RUNNING))
    assert await rep.push_success(_run("a1", S.SUCCESS, status=RunStatus.SUCCESS))
    assert await rep.finish(_run("a1", S.SUCCESS, status=RunStatus.SUCCESS))
    await rep.aclose()
    assert [r.method for r in sandbox.requests] == ["PUT", "POST", "DELETE"]

"""Delivery guarantees of the sender against the sandbox: a run's failure pushes leave with its
final state, nothing is sent for a run after its final, a fifth activity waits for a slot
instead of being dropped, and nothing kept per run outlives it."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core.tracking import Engine, RunStatus, Sender, StepStatus, TrackerOptions
from tests.core._runs import run_state as _run
from tests.core._runs import tracker_options, wait_for

S = StepStatus


@pytest.fixture
def options(tmp_path: Path) -> TrackerOptions:
    return tracker_options(tmp_path, deadline=5.0, push_window=30.0, request_timeout=2.0)


def _engine(sandbox: Any, options: TrackerOptions) -> Engine:
    return Engine(ActivitySmith(sandbox.api_key, base_url=sandbox.url), options)


def _order(sandbox: Any, key: str) -> list[str]:
    out = []
    for r in sandbox.requests:
        if r.path.endswith("/push-notification"):
            out.append("push")
        elif r.path.endswith(f"/live-activity/stream/{key}"):
            out.append(r.method)
    return out


def test_a_waiting_failure_push_leaves_with_the_final_state(
    sandbox: Any, options: TrackerOptions
) -> None:
    engine = _engine(sandbox, options)
    engine.update(_run("r1", S.RUNNING, S.PENDING))
    engine.step_failed(_run("r1", S.FAILED, S.RUNNING), "t0", "disk full")
    assert wait_for(lambda: "PUT" in _order(sandbox, _run("r1").key))
    started = time.monotonic()
    engine.finish(_run("r1", S.FAILED, S.SUCCESS, status=RunStatus.FAILED))
    # The push window is 30 s, but the run has ended: nothing more can fold into the push.
    assert wait_for(lambda: "DELETE" in _order(sandbox, _run("r1").key), 5.0)
    assert time.monotonic() - started < options.push_window
    order = _order(sandbox, _run("r1").key)
    assert order.index("push") < order.index("DELETE"), order
    assert order.count("push") == 1


def test_nothing_is_sent_for_a_run_after_its_final_state(
    sandbox: Any, options: TrackerOptions
) -> None:
    engine = _engine(sandbox, options)
    engine.update(_run("r2", S.RUNNING, S.PENDING))
    engine.finish(_run("r2", S.SUCCESS, S.SUCCESS, status=RunStatus.SUCCESS))
    assert engine.flush()
    # A late update and a late failure of the ended run, from the same process.
    engine.update(_run("r2", S.SUCCESS, S.RUNNING))
    engine.step_failed(_run("r2", S.SUCCESS, S.FAILED), "t1", "late")
    assert engine.flush()
    order = _order(sandbox, _run("r2").key)
    assert order[-1] == "DELETE" and "push" not in order, order
    assert sandbox.activities[_run("r2").key]["status"] == "ended"


def test_a_fifth_activity_waits_for_a_slot_and_is_shown_when_one_frees(
    sandbox: Any, options: TrackerOptions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "activitysmith_core.tracking")
    engine = _engine(sandbox, TrackerOptions(**{**options.to_mapping(), "push_window": 0.3}))
    runs = [f"s{i}" for i in range(6)]
    for run_id in runs:
        engine.update(_run(run_id, S.RUNNING, S.PENDING))
    sender = engine.sender
    assert wait_for(lambda: len(sender.waiting_for_slot) == 2)
    assert sandbox.state.active_count() == 4
    waiting = set(sender.waiting_for_slot)
    assert sender.stats.slot_waits == 2, "both extra runs are counted as waiting"
    assert sum("waits for a free slot" in r.getMessage() for r in caplog.records) == 2
    # A waiting run's failure push does not wait for a slot.
    waiting_run = next(r for r in runs if _run(r).key in waiting)
    engine.step_failed(_run(waiting_run, S.FAILED, S.PENDING), "t0", "boom")
    assert wait_for(lambda: any(r.path.endswith("/push-notification") for r in sandbox.requests))
    assert waiting_run and _run(waiting_run).key in sender.waiting_for_slot
    # One run ends: its slot goes to a waiting run at once, not after the back-off.
    shown = next(r for r in runs if _run(r).key not in waiting)
    engine.finish(_run(shown, S.SUCCESS, S.SUCCESS, status=RunStatus.SUCCESS))
    assert wait_for(lambda: len(sender.waiting_for_slot) == 1, 4.0)
    for run_id in runs:
        if run_id != shown:
            engine.finish(_run(run_id, S.SUCCESS, S.SUCCESS, status=RunStatus.SUCCESS))
    assert wait_for(
        lambda: all(sandbox.activities.get(_run(r).key, {}).get("status") == "ended" for r in runs),
        40.0,
    ), {r: sandbox.activities.get(_run(r).key, {}).get("status") for r in runs}
    assert not sender.waiting_for_slot
    for run_id in runs:
        assert sandbox.activities[_run(run_id).key]["content_state"]["current_step"] == 2
    pushes = [r for r in sandbox.requests if r.path.endswith("/push-notification")]
    assert [p.status for p in pushes] == [200]


def test_nothing_kept_per_run_outlives_it(sandbox: Any, options: TrackerOptions) -> None:
    # Quotas large enough for 700 runs in seconds: this test is about memory, not pacing.
    sandbox.set_rate_limits({"live_activity": 100_000, "push": 100_000})
    fast = TrackerOptions(**{**options.to_mapping(), "push_window": 0.0, "interval": 0.01})
    engine = _engine(sandbox, fast)
    for i in range(700):
        run_id = f"m{i}"
        engine.update(_run(run_id, S.SUCCESS, S.RUNNING))
        if i % 7 == 0:
            engine.step_failed(_run(run_id, S.FAILED, S.RUNNING), "t0", "boom")
        engine.finish(_run(run_id, S.SUCCESS, S.SUCCESS, status=RunStatus.SUCCESS))
        if i % 50 == 49:
            assert engine.flush()
    assert engine.flush()
    sender: Sender = engine.sender
    assert sender.remembers() <= 256 + 8
    assert len(engine._memory) <= 256 + 8
    assert len(engine._orders) == 0

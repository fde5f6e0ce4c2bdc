"""The sender reports what it did through the one signal hook, driven against the sandbox:
requests sent, failures by status or error class, 429s, kept and replayed states, slot waits
and the flush."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core.tracking import Engine, RunStatus, Sender, StepStatus, TrackerOptions
from activitysmith_core.tracking._signals import Signal
from tests.core._runs import run_state, wait_for

S = StepStatus


@pytest.fixture
def options(tmp_path: Path) -> TrackerOptions:
    return TrackerOptions(
        deadline=1.0,
        interval=0.1,
        push_window=0.0,
        request_timeout=1.0,
        state_dir=str(tmp_path / "state"),
    )


def _engine(sandbox: Any, options: TrackerOptions) -> Engine:
    return Engine(ActivitySmith(sandbox.api_key, base_url=sandbox.url), options)


def _named(signals: list[Signal], name: str) -> list[Signal]:
    return [s for s in list(signals) if s.name == name]


def test_failures_kept_states_replays_and_429s_are_signalled(
    sandbox: Any, options: TrackerOptions, signals: list[Signal]
) -> None:
    a, b = run_state("a").key, run_state("b").key
    # A failing phase: every request answers 500; the run's final state is kept at the flush.
    sandbox.set_faults(error_rate=1.0, status=500)
    engine = _engine(sandbox, options)
    engine.update(run_state("a", S.RUNNING))
    assert wait_for(lambda: _named(signals, "failed"))
    assert _named(signals, "failed")[0] == Signal("failed", "update", stream=a, detail="500")
    engine.step_failed(run_state("a", S.FAILED), "t0", "boom")
    engine.finish(run_state("a", S.FAILED, status=RunStatus.FAILED))
    assert not engine.flush()
    assert {(s.kind, s.stream) for s in _named(signals, "kept")} == {("final", a), ("push", a)}
    flushes = _named(signals, "flush")
    assert len(flushes) == 1 and 0 <= flushes[0].value <= 5.0
    assert not _named(signals, "sent")

    # No answer at all: the failure names the error's class.
    Sender.reset_all()
    sandbox.set_faults(down=True)
    engine = _engine(sandbox, options)
    engine.update(run_state("b", S.RUNNING))
    assert wait_for(
        lambda: any(s.detail == "APIConnectionError" for s in _named(signals, "failed"))
    )

    # The API answers again: a new sender delivers, then replays what was kept.
    Sender.reset_all()
    sandbox.set_faults(rate_limit_burst=1, retry_after=1)
    engine = _engine(sandbox, options)
    engine.update(run_state("b", S.RUNNING, S.PENDING))
    assert wait_for(lambda: _named(signals, "sent"))
    assert _named(signals, "rate_limited") == [Signal("rate_limited", "update", stream=b)]
    assert Signal("failed", "update", stream=b, detail="429") in signals
    assert _named(signals, "sent")[0] == Signal("sent", "update", stream=b)
    assert wait_for(lambda: len(_named(signals, "replayed")) == 2)
    assert {(s.kind, s.stream) for s in _named(signals, "replayed")} == {
        ("final", a),
        ("push", None),
    }
    engine.finish(run_state("b", S.SUCCESS, S.SUCCESS, status=RunStatus.SUCCESS))
    assert engine.flush()
    assert Signal("sent", "final", stream=b) in signals
    assert sandbox.activities[a]["status"] == "ended"
    assert sandbox.activities[b]["status"] == "ended"


def test_each_activity_that_begins_waiting_for_a_slot_is_signalled(
    sandbox: Any, options: TrackerOptions, signals: list[Signal]
) -> None:
    engine = _engine(sandbox, options)
    for i in range(6):
        engine.update(run_state(f"w{i}", S.RUNNING))
    assert wait_for(lambda: len(_named(signals, "slot_wait")) == 2)
    waits = _named(signals, "slot_wait")
    assert sorted(s.value for s in waits) == [1.0, 2.0]
    assert {s.stream for s in waits} == set(engine.sender.waiting_for_slot)
    assert len(_named(signals, "sent")) == 4
    assert {s.detail for s in _named(signals, "failed")} == {"429"}
    assert not _named(signals, "rate_limited")

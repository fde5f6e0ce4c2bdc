"""The off switch: ACTIVITYSMITH_DISABLED, read at each run's start, against the sandbox."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prefect import flow, task

from activitysmith_prefect import FlowRunTracker, activitysmith_hooks, track
from activitysmith_prefect.tracking import registry
from activitysmith_prefect.tracking._group import writers

from .conftest import check_run


@task
def step(i: int) -> int:
    return i


@flow(name="switched", **activitysmith_hooks(interval=0.2, time_left=False))
def switched() -> int:
    return step(1) + step(2)


@track(interval=0.2, time_left=False, push_on_success=True)
@flow(name="switched-track")
def switched_track() -> int:
    return step(3)


@flow(name="switched-group", **activitysmith_hooks(group="nightly-off", own_activity=True))
def switched_group() -> int:
    return step(4)


@pytest.mark.parametrize("value", ["true", "1", "YES"])
def test_disabled_runs_send_nothing_then_tracked_again(
    prefect_sandbox: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ACTIVITYSMITH_DISABLED", value)
    assert switched() == 3 and switched_track() == 3 and switched_group() == 4
    assert prefect_sandbox.requests == [], "a disabled run sends nothing"
    assert not registry.runs and len(writers) == 0, "and starts nothing"

    monkeypatch.setenv("ACTIVITYSMITH_DISABLED", "false")  # no code change, the next run
    assert switched() == 3
    final = check_run(prefect_sandbox)
    assert final["step_colors"] == ["green"], "two runs of one task: one segment"


def test_unset_is_tracked(prefect_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIVITYSMITH_DISABLED", raising=False)
    assert switched_track() == 3
    assert check_run(prefect_sandbox)["badge"]["title"] == "Succeeded"
    assert len(prefect_sandbox.pushes) == 1


def test_a_bad_value_names_the_variable(
    prefect_sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACTIVITYSMITH_DISABLED", "maybe")
    with pytest.raises(ValueError, match=r"^ACTIVITYSMITH_DISABLED: 'maybe' is not one of"):
        FlowRunTracker()
    with pytest.raises(ValueError, match=r"^ACTIVITYSMITH_DISABLED"):
        activitysmith_hooks()
    # declared before the bad value reached the run's environment: untracked, said, not raised
    with caplog.at_level(logging.ERROR, logger="activitysmith_prefect.tracking"):
        assert switched() == 3
    assert prefect_sandbox.requests == []
    assert any("ACTIVITYSMITH_DISABLED: 'maybe'" in r.getMessage() for r in caplog.records)

"""Served flows through a real Prefect Runner. A cancellation: the runner kills the flow's process
and runs the on_cancellation hooks in its own process, which must end the Live Activity as
cancelled. A crash (the flow's process exits): the runner runs the on_crashed hooks, which end it
as crashed with the steps that never finished drawn as not run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .conftest import HOME, check_run, pushes, stream_calls

SERVED = Path(__file__).resolve().parent / "served"
T = TypeVar("T")


def _wait(what: str, probe: Callable[[], T | None], timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.25)


def _serve(script: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    with open(HOME / "runner.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, script], cwd=SERVED, env=env, stdout=log, stderr=log
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def runner(prefect_sandbox: Any) -> Iterator[subprocess.Popen[bytes]]:
    yield from _serve("cancellable.py")


def _run_served(runner: subprocess.Popen[bytes], name: str) -> Any:
    """A run of the deployment ``name`` once ``runner`` serves it (not waited for)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    def deployment() -> Any:
        assert runner.poll() is None, (HOME / "runner.log").read_text()[-3000:]
        with get_client(sync_client=True) as client:
            try:
                return client.read_deployment_by_name(name)
            except Exception:
                return None

    _wait("the served deployment", deployment)
    return run_deployment(name, timeout=0)


def _wait_final_delete(sandbox: Any) -> None:
    _wait("the final DELETE", lambda: any(m == "DELETE" for m, _ in stream_calls(sandbox)))


@pytest.fixture
def dying_runner(prefect_sandbox: Any) -> Iterator[subprocess.Popen[bytes]]:
    yield from _serve("dying.py")


def test_cancelled_flow_run_ends_as_cancelled(
    prefect_sandbox: Any, runner: subprocess.Popen[bytes]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    flow_run = _run_served(runner, "cancellable/cancel-test")

    def first_step_shown() -> bool:
        return any(cs.get("current_step") == 1 for m, cs in stream_calls(prefect_sandbox))

    _wait("the first finished task on the Live Activity", first_step_shown)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Cancelling(), force=True)

    _wait_final_delete(prefect_sandbox)
    final = check_run(prefect_sandbox)
    assert final["badge"] == {"title": "Cancelled", "color": "gray"}
    assert final["step_colors"][0] == "green"
    assert final["color"] == "blue", "a cancellation is not a failure"
    assert pushes(prefect_sandbox) == [], "a cancellation does not push a failure"

    def final_state() -> Any:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run.id).state
        return state if state and state.is_cancelled() else None

    _wait("the flow run to be cancelled", final_state)


def test_crashed_served_flow_draws_unfinished_steps_as_not_run(
    prefect_sandbox: Any, dying_runner: subprocess.Popen[bytes]
) -> None:
    from prefect.client.orchestration import get_client

    flow_run = _run_served(dying_runner, "dying/crash-test")
    _wait_final_delete(prefect_sandbox)
    final = check_run(prefect_sandbox)
    assert final["badge"] == {"title": "Crashed", "color": "red"}
    assert final["number_of_steps"] == final["current_step"] == 2, final
    assert final["step_colors"] == ["green", "gray"], "the task that never finished: not run"
    (push,) = pushes(prefect_sandbox)
    assert push["title"].endswith(": crashed") and "exited" in push["message"], push
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run.id).state.is_crashed()

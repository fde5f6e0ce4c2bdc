"""The tasks in real flows, and the tracker when the sandbox fails in every way."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from prefect import flow, task

from activitysmith_core import errors
from activitysmith_core.sandbox import Faults
from activitysmith_prefect import activitysmith_hooks, send_push

from .conftest import check_run, pushes, wait_until_api_retried


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


DEADLINE = 3.0
MARGIN = 1.5  # scheduling noise between two real flow runs, and the last in-flight request


@task
def step(i: int) -> int:
    return i


@task
def fails(i: int) -> int:
    raise ValueError(f"row {i} is broken")


def _body(n: int = 3, failing: int = 0) -> int:
    for future in fails.map(range(failing)):
        future.wait()
    if failing:
        raise RuntimeError(f"{failing} rows failed")
    return sum(step.map(range(n)).result())


untracked = flow(name="untracked")(_body)
tracked = flow(name="tracked", **activitysmith_hooks(deadline=DEADLINE))(_body)


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    started = time.monotonic()
    state = fn(*args, return_state=True)
    return time.monotonic() - started, state


def _private(root: Path) -> list[Path]:
    """Every kept file, after checking the folders are 0700 and the files 0600."""
    kept = [p for p in root.rglob("*") if p.is_file() and p.name.endswith(".json")]
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
    return kept


@pytest.mark.parametrize(
    ("faults", "failing"),
    [
        (Faults(error_rate=1.0, status=500), 0),
        (Faults(rate_limit_burst=1000, retry_after=1), 0),
        (Faults(hang_rate=1.0, hang_seconds=30), 0),
        (Faults(down=True), 0),
        (Faults(hang_rate=1.0, hang_seconds=30), 6),
        (Faults(error_rate=1.0, status=500), 6),
    ],
    ids=["500", "429", "hang", "down", "hang-6-failing", "500-6-failing"],
)
def test_an_outage_costs_at_most_one_deadline(
    prefect_sandbox: Any, fresh_process_state: Path, faults: Faults, failing: int
) -> None:
    _timed(untracked, 3, failing)  # warm up: the first flow run of a process is slower
    plain, plain_state = _timed(untracked, 3, failing)
    prefect_sandbox.set_faults(faults)
    elapsed, state = _timed(tracked, 3, failing)
    assert state.is_failed() == plain_state.is_failed() == bool(failing)
    if not failing:
        assert state.result() == 3
    print(f"untracked {plain:.2f} s, tracked {elapsed:.2f} s, added {elapsed - plain:.2f} s")
    assert elapsed - plain <= DEADLINE + MARGIN, (elapsed, plain)
    # the final state (and the folded failure push) are kept, privately, for a later run
    kept = _private(fresh_process_state)
    kinds = sorted(p.name.split("-", 1)[0] for p in kept)
    assert kinds == (["final", "push"] if failing else ["final"]), kinds

    prefect_sandbox.set_faults(Faults())
    prefect_sandbox.reset()
    wait_until_api_retried()
    assert tracked(2) == 1  # the next run reaches the API and delivers what was kept
    ended = [a for a in prefect_sandbox.activities.values() if a["status"] != "active"]
    badges = sorted(a["content_state"]["badge"]["title"] for a in ended)
    assert badges == (["Failed", "Succeeded"] if failing else ["Succeeded", "Succeeded"])
    if failing:
        (push,) = pushes(prefect_sandbox)
        assert push["title"].endswith(": fails ×6 failed") and "row " in push["message"]
    assert not _private(fresh_process_state), "delivered, so no longer kept"


def test_recovered_run_is_clean(prefect_sandbox: Any) -> None:
    tracked(4)
    final = check_run(prefect_sandbox)
    assert final["current_step"] == 1 and final["step_colors"] == ["green"]

"""Example and test flows run for real against a real Prefect server and the sandbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks, track

from .conftest import check_run, pushes, stream_calls


def test_etl_flow_as_live_activity(prefect_sandbox: Any) -> None:
    from etl_flow import etl_flow

    assert etl_flow() == 130
    final = check_run(prefect_sandbox)
    # one segment per task: extract (2 runs), transform (mapped, 4 runs), load
    assert final["number_of_steps"] == 3 and final["current_step"] == 3
    assert final["step_colors"] == ["green"] * 3
    assert final["badge"] == {"title": "Succeeded", "color": "green"}
    assert final["auto_dismiss_minutes"] == 2
    assert final["title"] == "Nightly ETL (Prefect)"
    put = next(r for r in prefect_sandbox.requests if r.method == "PUT")
    assert "/runs/flow-run/" in put.body["action"]["url"]
    assert pushes(prefect_sandbox) == []
    updates = [cs for m, cs in stream_calls(prefect_sandbox) if m == "PUT"]
    assert all(set(cs["step_colors"]) <= {"green"} and cs["color"] == "blue" for cs in updates)
    mid = [cs for cs in updates if 0 < cs["current_step"] < cs["number_of_steps"]]
    assert mid, "progress is shown while the run goes on"
    assert any(cs["subtitle"].startswith("Running ") for cs in updates)


def test_failing_flow_pushes_once(prefect_sandbox: Any) -> None:
    from failing_flow import failing_flow

    state = failing_flow(return_state=True)
    assert state.is_failed()
    final = check_run(prefect_sandbox)
    assert final["color"] == "red" and final["badge"]["title"] == "Failed"
    assert final["step_colors"] == ["green", "red"]
    (push,) = pushes(prefect_sandbox)
    assert push["title"].startswith("failing-etl") and "validate" in push["title"]
    assert "3 rows had no id" in push["message"] and "\n" not in push["message"]
    assert "/runs/task-run/" in push["redirection"], "the failing task run's page and logs"


class Boom(BaseException):
    """Not an Exception: Prefect reports the run as crashed."""


@task
def ok() -> int:
    return 1


@flow(**activitysmith_hooks())
def crashing_flow() -> None:
    ok()
    raise Boom("the worker died")


def test_crashed_flow(prefect_sandbox: Any) -> None:
    with pytest.raises(Boom):  # Prefect marks the run crashed, runs on_crashed, re-raises
        crashing_flow()
    final = check_run(prefect_sandbox)
    assert final["badge"] == {"title": "Crashed", "color": "red"}
    assert final["step_colors"] == ["green"]
    assert len(pushes(prefect_sandbox)) == 1


@task
def slow() -> None:
    time.sleep(5)


@flow(timeout_seconds=1, **activitysmith_hooks())
def timing_out_flow() -> None:
    slow()


def test_timed_out_flow(prefect_sandbox: Any) -> None:
    state = timing_out_flow(return_state=True)
    assert state.is_failed()
    final = check_run(prefect_sandbox)
    assert final["badge"] == {"title": "Timed out", "color": "orange"}
    (push,) = pushes(prefect_sandbox)
    assert "timed out" in push["title"] or "timeout" in push["message"].lower()


@task
async def double(x: int) -> int:
    await asyncio.sleep(0.05)
    return x * 2


@track(title="async")
@flow
async def async_flow() -> int:
    results = await asyncio.gather(*(double(i) for i in range(5)))
    return sum(results)


def test_async_flow(prefect_sandbox: Any) -> None:
    import inspect

    assert all(inspect.iscoroutinefunction(h) for h in async_flow.on_completion_hooks)
    assert asyncio.run(async_flow()) == 20
    final = check_run(prefect_sandbox)
    assert final["current_step"] == final["number_of_steps"] == 1, "5 runs of one task"
    assert final["title"] == "async"


@task
def square(x: int) -> int:
    time.sleep(0.05)
    return x * x


@flow(**activitysmith_hooks(interval=0.5, one_segment_per_task_run=True, max_segments=80))
def concurrent_flow(n: int, m: int) -> int:
    futures = [square.submit(i) for i in range(n)]
    mapped = square.map(range(m))
    return sum(f.result() for f in futures) + sum(mapped.result())


def test_concurrent_and_mapped_task_runs(prefect_sandbox: Any) -> None:
    started = time.monotonic()
    assert concurrent_flow(16, 50) == 2 * sum(i * i for i in range(16)) + sum(
        i * i for i in range(16, 50)
    )
    duration = time.monotonic() - started
    final = check_run(prefect_sandbox)
    assert final["number_of_steps"] == final["current_step"] == 66
    assert final["step_colors"] == ["green"] * 66
    puts = [m for m, _ in stream_calls(prefect_sandbox) if m == "PUT"]
    # coalesced: at most one update per interval, never one per task run
    assert len(puts) <= duration / 0.5 + 2 and len(puts) < 66


@flow(**activitysmith_hooks(interval=0.5))
def grouped_flow(n: int) -> int:
    first = square(1)
    return first + sum(square.map(range(n)).result()) + ok()


def test_runs_of_one_task_are_one_segment(prefect_sandbox: Any) -> None:
    assert grouped_flow(20) == 1 + sum(i * i for i in range(20)) + 1
    final = check_run(prefect_sandbox)
    assert final["number_of_steps"] == final["current_step"] == 2
    assert final["step_colors"] == ["green", "green"]
    shown = {cs["subtitle"] for _, cs in stream_calls(prefect_sandbox)}
    assert not any("square-" in text for text in shown), shown


@flow(name="naïve ETL 🚀 :: a+b", flow_run_name="run:1+2 — ☃ ../x", **activitysmith_hooks())
def hostile_flow() -> int:
    return ok()


def test_hostile_flow_and_run_names(prefect_sandbox: Any) -> None:
    import re

    assert hostile_flow() == 1
    final = check_run(prefect_sandbox)
    assert final["title"] == "naïve ETL 🚀 :: a+b · run:1+2 — ☃ ../x"
    (key,) = {r.path.rsplit("/", 1)[1] for r in prefect_sandbox.requests}
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", key) and key.startswith("prefect_naive-etl")


@task(retries=1, retry_delay_seconds=0)
def flaky(i: int) -> int:
    if i == 1:
        raise RuntimeError(f"task {i} broke")
    return i


@flow(**activitysmith_hooks(one_segment_per_task_run=True))
def partly_failing_flow() -> list[int]:
    return [f.result() for f in flaky.map(range(3)) if f.state.is_completed()]


def test_task_failure_pushes_its_own_error(prefect_sandbox: Any) -> None:
    state = partly_failing_flow(return_state=True)
    assert state.is_completed()
    final = check_run(prefect_sandbox)
    assert final["step_colors"].count("red") == 1 and len(final["step_colors"]) == 3
    (push,) = pushes(prefect_sandbox)
    assert "flaky" in push["title"] and push["title"].endswith(" failed")
    assert push["message"] == "RuntimeError: task 1 broke", "the task's error, not 1/3 failed"
    assert "/runs/task-run/" in push["redirection"]


@flow(**activitysmith_hooks(push_on_retry=True, push_window=0))
def retried_flow() -> list[int]:
    return [f.result() for f in flaky.map(range(2)) if f.state.is_completed()]


def test_retries_push_only_when_asked(prefect_sandbox: Any) -> None:
    retried_flow()
    titles = sorted(p["title"] for p in pushes(prefect_sandbox))
    assert len(titles) == 2 and titles[0].endswith("flaky failed"), titles
    assert titles[1].endswith("flaky will retry")
    assert all(p["message"] == "RuntimeError: task 1 broke" for p in pushes(prefect_sandbox))


@task
def broken(i: int) -> int:
    raise ValueError(f"row {i} is broken\nTraceback ...")


@flow(**activitysmith_hooks())
def six_failures_flow() -> None:
    for future in broken.map(range(6)):
        future.wait()
    raise RuntimeError("6 rows failed")


def test_failures_of_one_task_fold_into_one_push(prefect_sandbox: Any) -> None:
    assert six_failures_flow(return_state=True).is_failed()
    final = check_run(prefect_sandbox)
    assert final["step_colors"] == ["red"] and final["badge"]["title"] == "Failed"
    (push,) = pushes(prefect_sandbox)
    assert push["title"].endswith(": broken ×6 failed"), push
    assert push["message"].startswith("ValueError: row ") and "\n" not in push["message"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"push_on_task_failure": True}, "push_on_task_failure: option removed"),
        ({"poll_interval": 1}, "poll_interval: option removed"),
        ({"budget": 3}, "budget: option removed; use deadline"),
        ({"pushh_on_retry": True}, "pushh_on_retry: unknown option"),
        ({"success_color": "pink"}, "success_color: unknown colour"),
        ({"deadline": 0}, "deadline: must be > 0"),
        ({"one_segment_per_task_run": "yes"}, "one_segment_per_task_run: must be True"),
        ({"group": ""}, "group: must be a name of 1 to 100 characters"),
        ({"own_activity": "yes"}, "own_activity: must be True, False or None"),
    ],
)
def test_options_are_checked_where_declared(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        activitysmith_hooks(**options)
    activitysmith_hooks(push_on_retry=True, deadline=3, interval=1, channels="a,b")


@flow
async def async_tasks_flow() -> None:
    from activitysmith_prefect import (
        aend_live_activity,
        asend_push,
        astream_live_activity,
        aupdate_metric,
    )

    await asend_push("async push", message="from an async task")
    await astream_live_activity("async-a", {"title": "A", "type": "progress", "percentage": 50})
    await aend_live_activity("async-a", {"title": "A", "type": "progress", "percentage": 100})
    await aupdate_metric("async.metric", 7)


def test_async_tasks(prefect_sandbox: Any) -> None:
    asyncio.run(async_tasks_flow())
    assert [r.method for r in prefect_sandbox.requests] == ["POST", "PUT", "DELETE", "POST"]
    assert prefect_sandbox.metrics["async.metric"]["value"] == 7
    assert prefect_sandbox.activities["async-a"]["status"] == "ended"

"""Task runs wherever they run, and subflows as segments: real flows on a real Prefect server.

Tasks in worker processes (``DaskTaskRunner`` with processes, ``ProcessPoolTaskRunner``) are
never seen by the flow's process in memory: their changes come through Prefect's event stream,
to which the process holds one subscription while it tracks runs.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

from activitysmith_prefect import activitysmith_hooks
from activitysmith_prefect.tracking import registry

from .conftest import check_run, pushes, stream_calls

STEP = 1.5


@task
def step(i: int) -> int:
    time.sleep(STEP)
    return i


@task
def broken(i: int) -> int:
    time.sleep(0.5)
    raise ValueError(f"row {i} is broken")


def _body(fail: bool) -> int:
    total = 0
    for i, name in enumerate(("extract", "clean", "join", "load")):
        total += step.with_options(name=name).submit(i).result()
    if fail:
        broken.submit(7).result()
    return total


def _dask() -> Any:
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True})


def _ray() -> Any:
    from prefect_ray import RayTaskRunner

    return RayTaskRunner(init_kwargs={"num_cpus": 2, "include_dashboard": False})


RUNNERS = {
    "dask": _dask,
    "process-pool": lambda: ProcessPoolTaskRunner(max_workers=2),
    "ray": _ray,
}


def _updates(sandbox: Any) -> list[dict[str, Any]]:
    return [cs for m, cs in stream_calls(sandbox) if m == "PUT" and "badge" not in cs]


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_tasks_in_worker_processes_show_progress_and_their_error(
    prefect_sandbox: Any, runner: str
) -> None:
    if runner == "ray":
        pytest.importorskip(
            "prefect_ray", reason="prefect-ray is installed with the newest Prefect"
        )
    tracked = flow(
        name=f"workers-{runner}",
        task_runner=RUNNERS[runner](),
        **activitysmith_hooks(interval=0.2, time_left=False),
    )(_body)
    state = tracked(True, return_state=True)
    assert state.is_failed()
    final = check_run(prefect_sandbox)
    assert final["badge"] == {"title": "Failed", "color": "red"}
    assert final["step_colors"] == ["green"] * 4 + ["red"], final
    shown = sorted({cs["current_step"] for cs in _updates(prefect_sandbox)})
    print(runner, "current_step values before the end:", shown)
    assert len(shown) >= 3, f"progress while the flow ran: {shown}"
    (push,) = pushes(prefect_sandbox)
    assert push["title"].endswith(": broken failed"), push
    assert push["message"] == "ValueError: row 7 is broken", push
    assert "/runs/task-run/" in push["redirection"]
    assert not registry.subscription.open or not registry.runs, "closed with the last run"


def test_tracked_wall_time_on_a_process_pool(prefect_sandbox: Any) -> None:
    runner = RUNNERS["process-pool"]
    untracked = flow(name="pool-untracked", task_runner=runner())(_body)
    tracked = flow(name="pool-tracked", task_runner=runner(), **activitysmith_hooks(interval=0.2))(
        _body
    )
    untracked(False)  # warm-up: the first flow run of a process is slower
    started = time.monotonic()
    assert untracked(False) == 6
    plain = time.monotonic() - started
    started = time.monotonic()
    assert tracked(False) == 6
    elapsed = time.monotonic() - started
    print(f"process pool: untracked {plain:.2f} s, tracked {elapsed:.2f} s")
    assert check_run(prefect_sandbox)["step_colors"] == ["green"] * 4
    assert elapsed - plain < 3 + 5, (plain, elapsed)  # +3 s goal, 5 s of machine noise


# -- subflows ------------------------------------------------------------------------------


@task
def quick(i: int) -> int:
    time.sleep(0.2)
    return i


@flow
def child(n: int) -> int:
    return quick(n) + quick(n + 1)


@flow
def slow_child(n: int) -> int:
    return step(n) + step(n + 1)


@flow
def failing_child() -> int:
    quick(0)
    raise RuntimeError("the child gave up")


@flow(**activitysmith_hooks(interval=0.2, time_left=False))
def with_subflow() -> int:
    first = quick.with_options(name="first")(1)
    mapped = sum(quick.map(range(4)).result())
    return first + mapped + slow_child(10) + quick.with_options(name="final")(2)


def test_a_subflow_is_one_segment_with_its_outcome(prefect_sandbox: Any) -> None:
    assert with_subflow() == 1 + 6 + 21 + 2
    assert with_subflow() == 1 + 6 + 21 + 2
    by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for r in prefect_sandbox.requests:
        if "/live-activity/stream/" in r.path:
            by_key.setdefault(r.path, []).append((r.method, r.body.get("content_state", {})))
    first, second = by_key.values()
    for calls in (first, second):
        done = calls[-1][1]
        assert calls[-1][0] == "DELETE"
        assert done["number_of_steps"] == done["current_step"] == 4, done
        assert done["step_colors"] == ["green"] * 4
    totals = {cs["number_of_steps"] for m, cs in second if m == "PUT" and "badge" not in cs}
    assert totals == {4}, f"the subflow is an expected step of the next run: {totals}"
    subtitles = [cs["subtitle"] for _, cs in first + second]
    assert "Running slow-child" in subtitles, subtitles


@flow(**activitysmith_hooks(interval=0.2, time_left=False))
def only_subflows() -> int:
    failed = failing_child(return_state=True)
    assert failed.is_failed()
    return child(1) + child(3)


def test_a_flow_made_only_of_subflows_shows_a_full_bar(prefect_sandbox: Any) -> None:
    connections = registry.subscription.connections
    assert only_subflows() == 3 + 7
    opened = registry.subscription.connections - connections
    assert opened == 0, f"subflows are followed in the process, not on the stream: {opened}"
    final = check_run(prefect_sandbox)
    assert final["number_of_steps"] == final["current_step"] == 3, final
    assert final["step_colors"] == ["red", "green", "green"], final
    (push,) = pushes(prefect_sandbox)
    assert "failing-child" in push["title"] and push["title"].endswith(" failed"), push
    assert "the child gave up" in push["message"], push
